"""Scores of a weight vector on the ranker's learning lists (feature matrix, resolver row, rows
of the question's own experts), overall or per list, used to choose between weight vectors."""

from __future__ import annotations

import numpy as np

from matching.expert_profiles import FloatArray, IntArray


def mrr_all(z: list[tuple[FloatArray, int, IntArray]], w: FloatArray) -> float:
    """Mean reciprocal rank of the resolver among all experts (ties count against it)."""
    w32 = w.astype(np.float32)
    total = 0.0
    for x, p, _ in z:
        s = x @ w32
        total += 1.0 / (1 + int((s >= s[p]).sum()) - 1)
    return total / len(z)


def own_score(z: list[tuple[FloatArray, int, IntArray]], w: FloatArray) -> float:
    """P@1 + MRR of the resolver among the question's own experts (ties count for it)."""
    w32 = w.astype(np.float32)
    total = 0.0
    for x, p, own in z:
        # the resolver's score from the same product as the others': a separate dot product
        # can round differently and put the resolver "above itself"
        s_all = x @ w32
        r = int((s_all[own] > s_all[p]).sum()) + 1
        total += (r == 1) + 1.0 / r
    return total / len(z)


def expected_rr(above: int, tied: int) -> float:
    """Expected reciprocal rank of an item with ``above`` items strictly better and ``tied``
    others level with it, the ties broken uniformly at random: the mean of 1 / (above + 1 + j)
    over j = 0..tied (not the reciprocal of the expected rank, which is lower: 1/x is convex)."""
    return float(np.mean(1.0 / np.arange(above + 1, above + tied + 2, dtype=np.float64)))


def rr_lists(z: list[tuple[FloatArray, int, IntArray]], w: FloatArray) -> FloatArray:
    """Per list, the resolver's reciprocal rank among all experts, ties broken at random
    (expected value), as an evaluation that breaks ties by id does on average."""
    w32 = w.astype(np.float32)
    out = np.empty(len(z))
    for i, (x, p, _) in enumerate(z):
        s = x @ w32
        out[i] = expected_rr(int((s > s[p]).sum()), int((s == s[p]).sum()) - 1)
    return out


def own_lists(z: list[tuple[FloatArray, int, IntArray]], w: FloatArray) -> FloatArray:
    """Per list, P@1 + reciprocal rank of the resolver among the question's own experts, ties
    broken at random (expected values: P@1 is 1 / (1 + tied) when nobody is strictly above,
    the reciprocal rank as in ``expected_rr``)."""
    w32 = w.astype(np.float32)
    out = np.empty(len(z))
    for i, (x, p, own) in enumerate(z):
        s_all = x @ w32
        s, sp_ = s_all[own], s_all[p]
        above, ties = int((s > sp_).sum()), int((s == sp_).sum()) - int(np.isin(p, own))
        out[i] = (1.0 / (1 + ties) if above == 0 else 0.0) + expected_rr(above, ties)
    return out


def beats(ours: FloatArray, base: FloatArray, margin: float) -> bool:
    """Whether per-list scores ``ours`` beat ``base`` on the same lists by more than
    ``margin`` standard errors of the mean paired difference."""
    d = ours - base
    if len(d) < 2:
        return False
    se = float(d.std(ddof=1)) / float(np.sqrt(len(d)))
    return float(d.mean()) > margin * se
