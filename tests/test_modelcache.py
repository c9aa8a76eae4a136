"""Background model rebuilds are spaced by their own cost (they share the interpreter lock with
every connection of the process)."""
from __future__ import annotations

from typing import Any

from gigcx.services.modelcache import COST_FACTOR, RefreshingCache, _Entry


def test_a_cheap_model_is_rebuilt_after_the_minimum_interval() -> None:
    entry = _Entry(version=(1,), built_at=100.0, size=500, value=None, build_s=0.05)
    assert not entry.due(109.0, min_interval_s=10.0)
    assert entry.due(110.0, min_interval_s=10.0)


def test_an_expensive_model_waits_in_proportion_to_its_fit_time() -> None:
    entry = _Entry(version=(1,), built_at=100.0, size=5000, value=None, build_s=3.0)
    assert not entry.due(100.0 + 30.0, min_interval_s=30.0)  # the minimum alone would allow it
    assert not entry.due(100.0 + COST_FACTOR * 3.0 - 1, min_interval_s=30.0)
    assert entry.due(100.0 + COST_FACTOR * 3.0, min_interval_s=30.0)


def test_a_model_fitted_in_a_child_process_ranks_like_one_fitted_here() -> None:
    from gigcx.fitworker import fit_in_child
    from matching import ExpertRanker, ResolvedCase

    cases = [ResolvedCase(f"card question {i}", ["cards"], "ann", True, 5) for i in range(30)]
    cases += [ResolvedCase(f"loan question {i}", ["loans"], "bob", True, 4) for i in range(30)]
    here = ExpertRanker().fit(cases)
    there = fit_in_child("matching:ExpertRanker", cases)
    assert isinstance(there, ExpertRanker)
    for text, topics in (("my card question", ["cards"]), ("a loan question", ["loans"])):
        assert there.rank(text, topics) == here.rank(text, topics)


def test_a_failing_child_fit_says_why() -> None:
    import pytest

    from gigcx.fitworker import fit_in_child

    with pytest.raises(RuntimeError, match="ExpertRanker"):
        fit_in_child("matching:ExpertRanker", "not a list of cases")
    with pytest.raises(RuntimeError, match="must be 'package.module:Estimator'"):
        fit_in_child("matching.ExpertRanker", [])
    assert fit_in_child("matching:ExpertRanker", []).rank("anything", []) == []  # empty history is fine


def test_background_rebuilds_of_the_ranker_fit_in_a_child_process(app: Any) -> None:
    from matching import ExpertRanker, ResolvedCase

    cases = [ResolvedCase(f"card question {i}", ["cards"], "ann", True, 5) for i in range(150)]

    def not_here(data: Any) -> Any:
        raise AssertionError("fitted inside the serving process")

    cache: RefreshingCache[Any, Any] = RefreshingCache(
        "test ranker", lambda s, k: (len(cases),), lambda s, k: cases, not_here, len, child_fit="matching:ExpertRanker")
    cache.entries[7] = _Entry(version=(0,), built_at=0.0, size=100, value="stale")
    cache._rebuild(app, 7)
    entry = cache.entries[7]
    assert isinstance(entry.value, ExpertRanker) and entry.version == (150,) and entry.size == 150
    assert entry.value.rank("card question", ["cards"])[0][0] == "ann"


def test_a_suggestion_index_fitted_in_a_child_process_suggests_like_one_fitted_here() -> None:
    from gigcx.fitworker import fit_in_child
    from matching.suggestions import AnsweredCase, SuggestionIndex

    cases = [AnsweredCase(1, "my card has not arrived", "Cards take 5 days."),
             AnsweredCase(2, "how do I reset my pin", "Use the app's security page."),
             AnsweredCase(3, "refund for a double charge", "Refunds take 3 days.")]
    here, there = SuggestionIndex().fit(cases), fit_in_child("matching.suggestions:SuggestionIndex", cases)
    for text in ("my new card has not arrived yet", "reset the pin please"):
        assert there.suggest(text) == here.suggest(text) and here.suggest(text)
