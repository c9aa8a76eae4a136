"""Dispatch policy: filters, scoring, exploration, reasons, determinism, speed."""

from __future__ import annotations

import time

import numpy as np

from matching.dispatch import Candidate, PolicyWeights, choose, choose_arrays

NO_EPS = PolicyWeights(epsilon=0.0)


def pool() -> list[Candidate]:
    return [
        Candidate("ann", expertise=2.0, load=0, max_cases=3, languages=["en"], resolved_count=40,
                  median_response_s=30.0),
        Candidate("bob", expertise=1.0, load=0, max_cases=3, languages=["en", "fr"],
                  resolved_count=40, median_response_s=30.0),
        Candidate("full", expertise=5.0, load=3, max_cases=3, languages=["en"], resolved_count=40),
        Candidate("fr", expertise=5.0, load=0, max_cases=3, languages=["fr"], resolved_count=40),
    ]


def test_filters_and_reasons() -> None:
    d = choose(pool(), fanout=1, language="en", weights=NO_EPS)
    assert [c["expert_id"] for c in d.chosen] == ["ann"]
    assert d.filtered == {"full": "at_capacity", "fr": "language"}
    assert d.filtered_counts == {"at_capacity": 1, "language": 1}
    assert d.eligible == 2 and [r["expert_id"] for r in d.ranked] == ["ann", "bob"]
    assert {"score", "expertise", "spare_capacity", "speed", "new_bonus"} <= set(d.chosen[0])
    assert d.chosen[0]["why"] == "top score"
    assert isinstance(d.as_dict()["filtered"], dict)


def test_fanout_and_empty() -> None:
    d = choose(pool(), fanout=5, language="en-GB", weights=NO_EPS)
    assert [c["expert_id"] for c in d.chosen] == ["ann", "bob"]
    assert choose([], fanout=2).chosen == []
    assert choose(pool()[2:3], fanout=1).chosen == []


def test_load_and_speed_break_close_expertise() -> None:
    c = [Candidate("busy", 1.0, load=2, max_cases=3, resolved_count=50, median_response_s=300),
         Candidate("free", 0.98, load=0, max_cases=3, resolved_count=50, median_response_s=20),
         Candidate("weak", 0.0, load=0, max_cases=3, resolved_count=50, median_response_s=20)]
    assert choose(c, fanout=1, weights=NO_EPS).chosen[0]["expert_id"] == "free"


def test_new_experts_get_bonus_that_decays() -> None:
    old = Candidate("old", 1.0, resolved_count=100, max_cases=2)
    new = Candidate("new", 0.9, resolved_count=0, max_cases=2)
    veteran = Candidate("new", 0.9, resolved_count=10, max_cases=2)
    weak = Candidate("weak", 0.0, resolved_count=100, max_cases=2)  # sets the expertise scale
    assert choose([old, new, weak], weights=NO_EPS).chosen[0]["expert_id"] == "new"
    assert choose([old, veteran, weak], weights=NO_EPS).chosen[0]["expert_id"] == "old"


def test_epsilon_exploration_is_seeded_and_picks_new() -> None:
    cands = [Candidate(f"e{i}", float(i), resolved_count=50, max_cases=2) for i in range(20)]
    cands.append(Candidate("rookie", -10.0, resolved_count=0, max_cases=2))
    w = PolicyWeights(epsilon=1.0)
    d = choose(cands, fanout=2, weights=w, rng=1)
    assert d.explored and d.chosen[-1]["expert_id"] == "rookie"
    assert d.chosen[-1]["why"].startswith("exploration") and d.chosen[0]["expert_id"] == "e19"
    runs = [choose(cands, fanout=1, weights=PolicyWeights(epsilon=0.5), rng=s).chosen for s in range(5)]
    assert runs == [choose(cands, fanout=1, weights=PolicyWeights(epsilon=0.5), rng=s).chosen
                    for s in range(5)]


def test_10k_candidates_under_a_millisecond() -> None:
    rng = np.random.default_rng(0)
    n = 10_000
    ids = list(range(n))
    args = (rng.normal(size=n), rng.integers(0, 4, n).astype(float), np.full(n, 3.0),
            np.where(rng.random(n) < 0.2, np.nan, rng.exponential(60, n)),
            rng.integers(0, 30, n).astype(float))
    choose_arrays(ids, *args, fanout=3, rng=0)
    times = []
    for s in range(200):
        t0 = time.perf_counter()
        d = choose_arrays(ids, *args, fanout=3, rng=s)
        times.append(time.perf_counter() - t0)
        assert len(d.chosen) == 3
    assert float(np.percentile(times, 50)) < 1e-3
