"""Background model rebuilds are spaced by their own cost (they share the interpreter lock with
every connection of the process)."""
from __future__ import annotations

from gigcx.services.modelcache import COST_FACTOR, _Entry


def test_a_cheap_model_is_rebuilt_after_the_minimum_interval() -> None:
    entry = _Entry(version=(1,), built_at=100.0, size=500, value=None, build_s=0.05)
    assert not entry.due(109.0, min_interval_s=10.0)
    assert entry.due(110.0, min_interval_s=10.0)


def test_an_expensive_model_waits_in_proportion_to_its_fit_time() -> None:
    entry = _Entry(version=(1,), built_at=100.0, size=5000, value=None, build_s=3.0)
    assert not entry.due(100.0 + 30.0, min_interval_s=30.0)  # the minimum alone would allow it
    assert not entry.due(100.0 + COST_FACTOR * 3.0 - 1, min_interval_s=30.0)
    assert entry.due(100.0 + COST_FACTOR * 3.0, min_interval_s=30.0)
