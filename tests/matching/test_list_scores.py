"""Scores of weight vectors on learning lists (matching.list_scores), hand-computed values."""

from __future__ import annotations

import math

import numpy as np

from matching.list_scores import beats, expected_rr, own_lists, own_score, rr_lists

W = np.array([1.0])


def one_list(scores: list[float], p: int, own: list[int]) -> tuple[np.ndarray, int, np.ndarray]:
    """A learning list whose one feature is the score (weight 1)."""
    return (np.array(scores, dtype=np.float32)[:, None], p, np.array(own, dtype=np.intp))


def test_expected_rr_is_the_mean_reciprocal_rank_over_tie_orders() -> None:
    assert expected_rr(0, 0) == 1.0
    assert expected_rr(2, 0) == 1 / 3
    # three tied at the top: ranks 1, 2, 3 equally likely
    assert math.isclose(expected_rr(0, 2), (1 + 1 / 2 + 1 / 3) / 3)
    # one above, two others tied: ranks 2, 3, 4
    assert math.isclose(expected_rr(1, 2), (1 / 2 + 1 / 3 + 1 / 4) / 3)
    # above the reciprocal of the expected rank (1/x is convex)
    assert expected_rr(0, 2) > 1 / 2


def test_rr_lists_among_all_experts() -> None:
    z = [one_list([3, 5, 1, 0], 0, [0, 2]),       # one above: 1/2
         one_list([2, 2, 2, 1], 1, [1]),          # three tied at the top: 11/18
         one_list([1, 4, 1, 1, 9], 0, [0]),       # two above, two others tied: ranks 3..5
         one_list([7, 1], 0, [0, 1])]             # alone at the top: 1
    got = rr_lists(z, W)
    want = [1 / 2, (1 + 1 / 2 + 1 / 3) / 3, (1 / 3 + 1 / 4 + 1 / 5) / 3, 1.0]
    assert np.allclose(got, want)


def test_own_lists_expected_p_at_1_plus_rr_among_own_experts() -> None:
    z = [one_list([2, 2, 2], 0, [0, 1, 2]),       # three tied: P@1 1/3, RR 11/18 -> 17/18
         one_list([1, 2, 2, 9], 1, [0, 1, 2]),    # expert 3 not own: tied with 2 -> 1/2 + 3/4
         one_list([1, 3, 1, 1], 0, [0, 1, 2, 3]), # one above, two tied: 0 + (1/2+1/3+1/4)/3
         one_list([5, 1, 0], 0, [0, 1, 2]),       # alone at the top: 1 + 1
         one_list([1, 1, 3], 0, [1, 2])]          # resolver not in own: above 1, tied 1
    got = own_lists(z, W)
    want = [1 / 3 + 11 / 18, 1 / 2 + 3 / 4, (1 / 2 + 1 / 3 + 1 / 4) / 3, 2.0,
            (1 / 2 + 1 / 3) / 2]
    assert np.allclose(got, want)
    assert math.isclose(got[0], 0.9444, abs_tol=1e-4)  # reciprocal of the expected rank: 0.833


def test_beats_needs_the_margin_in_standard_errors() -> None:
    base = np.zeros(4)
    assert beats(np.array([1.0, 1.0, 1.0, 1.0]) + [0, 0, 0, 1e-9], base, 2.0)
    # mean 0.5, sd 0.577, se 0.289: 1.73 standard errors
    ours = np.array([1.0, 0.0, 1.0, 0.0])
    assert beats(ours, base, 1.5) and not beats(ours, base, 2.0)
    assert not beats(np.array([1.0]), np.array([0.0]), 0.0)


def test_own_score_never_ranks_the_resolver_below_itself() -> None:
    # float32 products with many features: the resolver's own score must be compared with the
    # same rounding as the others', else it can count as strictly above itself
    rng = np.random.default_rng(0)
    z = []
    for _ in range(300):
        x = rng.normal(size=(3, 17)).astype(np.float32)
        z.append((x, 0, np.arange(3, dtype=np.intp)))
    w = rng.normal(size=17)
    ranks = [1 + int(((x @ w.astype(np.float32)) > (x @ w.astype(np.float32))[0]).sum())
             for x, _, _ in z]
    want = float(np.mean([(r == 1) + 1 / r for r in ranks]))
    assert math.isclose(own_score(z, w), want)
    assert math.isclose(own_score(z, w), float(own_lists(z, w).mean()))
