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


def _mapped_deleted_files() -> set[str]:
    """The unlinked files this process maps (a child's model file is one)."""
    with open("/proc/self/maps") as maps:
        return {line.split(maxsplit=5)[-1].strip() for line in maps if line.rstrip().endswith("(deleted)")}


def _owner(array: Any) -> Any:
    """What finally holds an array's memory (following views to their base, buffers to their object)."""
    while True:
        nxt = getattr(array, "base", None)
        if nxt is None:
            nxt = getattr(array, "obj", None)
        if nxt is None:
            return array
        array = nxt


def test_a_model_from_a_child_keeps_its_arrays_in_a_mapped_file_until_it_is_dropped() -> None:
    """A swapped model's arrays never enter the serving process's heap: they are views of the
    child's (unlinked) output file, mapped; dropping the model unmaps it."""
    import gc
    import mmap
    import sys

    import pytest

    from gigcx.fitworker import fit_in_child
    from matching.suggestions import AnsweredCase, SuggestionIndex

    if not sys.platform.startswith("linux"):
        pytest.skip("reads /proc/self/maps")
    cases = [AnsweredCase(i, f"my card number {i} has not arrived", f"Answer {i}: cards take 5 days. ü") for i in range(300)]
    before = _mapped_deleted_files()
    here, there = SuggestionIndex().fit(cases), fit_in_child("matching.suggestions:SuggestionIndex", cases)
    assert there.cases_ == here.cases_ == cases  # texts (non-ASCII too) and ids come back whole
    assert there.suggest("my card 7 has not arrived") == here.suggest("my card 7 has not arrived")
    arrays = [there.postings_.data, there.postings_.indices, there.text_, there.bounds_, there.case_ids_]
    for array in arrays:
        assert isinstance(_owner(array), mmap.mmap) and array.flags.aligned and array.flags.writeable
    assert _mapped_deleted_files() - before, "the model's file is not mapped"
    there.text_[0] = ord("X")  # copy-on-write: the model may change its own arrays in place
    del there, arrays, array
    gc.collect()
    assert not _mapped_deleted_files() - before, "a dropped model's file stays mapped"


def test_a_large_history_with_no_model_is_served_by_a_stand_in_while_the_full_fit_runs(app: Any) -> None:
    """The first question after a start must not wait for (or hold the write lock during) a full fit."""
    import threading
    import time

    data = list(range(1000))  # oldest first, like the ranker's history
    release = threading.Event()
    fits: list[tuple[int, str]] = []

    def fit(items: list[int]) -> tuple[str, int, int]:
        fits.append((len(items), threading.current_thread().name))
        if len(items) == len(data):
            assert release.wait(10), "the full fit was never released"
        return ("model", len(items), items[-1])

    cache: RefreshingCache[list[int], tuple[str, int, int]] = RefreshingCache(
        "test ranker", lambda s, k: (len(data),), lambda s, k: data, fit, len,
        inline_below=100, interim=lambda items, n: items[-n:])
    with app.app_context():
        first = cache.get(None, 3)  # type: ignore[arg-type]
        assert first == ("model", 99, 999)  # the newest 99 items, fitted here and now
        assert fits[0] == (99, threading.current_thread().name)  # the full fit may have started already
        assert 3 in cache.building
        assert cache.get(None, 3) == first  # still the stand-in while the full fit runs
        release.set()
        deadline = time.monotonic() + 10
        while cache.entries[3].value == first and time.monotonic() < deadline:
            time.sleep(0.01)
        assert cache.get(None, 3) == ("model", 1000, 999)
    assert fits[1][0] == 1000 and fits[1][1] != threading.current_thread().name
    assert 3 not in cache.building and cache.entries[3].version == (1000,)


def test_a_failed_full_fit_keeps_the_stand_in_and_is_retried(app: Any) -> None:
    import time

    data = list(range(500))
    calls = {"full": 0}

    def fit(items: list[int]) -> int:
        if len(items) == len(data):
            calls["full"] += 1
            raise RuntimeError("out of memory")
        return len(items)

    def settled(n: int) -> None:
        deadline = time.monotonic() + 10
        while (1 in cache.building or calls["full"] < n) and time.monotonic() < deadline:
            time.sleep(0.01)

    cache: RefreshingCache[list[int], int] = RefreshingCache(
        "test index", lambda s, k: (len(data),), lambda s, k: data, fit, len,
        inline_below=200, min_interval_s=0.0, interim=lambda items, n: items[:n])
    with app.app_context():
        assert cache.get(None, 1) == 199  # type: ignore[arg-type]
        settled(1)  # the background full fit failed (and was logged)
        assert cache.get(None, 1) == 199  # type: ignore[arg-type]  # still the stand-in, and a retry starts
        settled(2)
    assert calls["full"] >= 2 and cache.entries[1].version != (len(data),)


def test_each_cache_serves_the_newest_end_of_its_loader_order() -> None:
    from gigcx.services.ranking import _ranker_cache
    from gigcx.services.routing import _suggestion_cache

    _rankers, _suggesters = _ranker_cache(), _suggestion_cache()

    assert _rankers.interim is not None and _suggesters.interim is not None
    assert _rankers.interim(list(range(10)), 3) == [7, 8, 9]  # ranking.history: oldest first
    assert _suggesters.interim(list(range(10)), 3) == [0, 1, 2]  # routing.answered_cases: newest first


def test_a_large_models_version_is_read_only_once_a_rebuild_is_due(app: Any) -> None:
    """The version query grows with the history; before a background rebuild may start there is
    nothing to decide, so it is not run (a small model is still checked every GIGCX_MODEL_CHECK_S)."""
    import time

    reads: list[int] = []

    def version(session: Any, key: int) -> tuple[Any, ...]:
        reads.append(key)
        return (len(reads),)  # changes every time: a busy brand

    cache: RefreshingCache[Any, Any] = RefreshingCache("test", version, lambda s, k: [], lambda d: "fresh", len,
                                                       inline_below=100, min_interval_s=30.0)
    now = time.monotonic()
    cache.entries[1] = _Entry(version=(0,), built_at=now, size=5000, value="large", build_s=0.1)
    cache.entries[2] = _Entry(version=(0,), built_at=now, size=10, value="small", build_s=0.001)
    started: list[int] = []
    cache._start_rebuild = started.append  # type: ignore[method-assign]
    with app.app_context():
        app.config["GIGCX"].model_check_s = 0.0
        assert cache.get(None, 1) == "large" and reads == [] and started == []  # not due: no query
        assert cache.get(None, 2) == "fresh" and reads == [2]  # small: checked and refitted inline
        cache.entries[1].built_at = now - 31.0  # due now: the version is read and a rebuild starts
        assert cache.get(None, 1) == "large" and reads == [2, 1] and started == [1]


def test_a_ranker_the_child_loads_from_the_database_ranks_like_one_loaded_and_fitted_here(app: Any, api: Any) -> None:
    """With `child_load` the serving process reads nothing: the child reads the same history (and
    version) through the same functions."""
    import random
    import uuid
    from datetime import timedelta

    from gigcx.db import session_scope
    from gigcx.models import Case, CaseStatus, Customer, Rating, utcnow
    from gigcx.services import ranking
    from matching import ExpertRanker
    from tests.payouts.money_helpers import expert, setup_brand

    _, brand_id = setup_brand(api)
    experts = [expert(api, f"e{i}")[0] for i in range(3)]
    rng = random.Random(3)
    questions = ["where is my card", "my card has not arrived", "how do I reset my pin", "refund a double charge"]
    with app.app_context(), session_scope() as s:
        customer = Customer(brand_id=brand_id, token_hash=uuid.uuid4().hex)
        s.add(customer)
        s.flush()
        start = utcnow() - timedelta(days=30)
        for n in range(160):
            when = start + timedelta(hours=n)
            status = rng.choice([CaseStatus.resolved, CaseStatus.resolved, CaseStatus.escalated, CaseStatus.closed])
            case = Case(brand_id=brand_id, customer_id=customer.id, client_id=uuid.uuid4().hex,  # type: ignore[arg-type]
                        question=rng.choice(questions), topic=rng.choice(["cards", "pin", None]),
                        expert_id=rng.choice(experts), status=status, assigned_at=when, created_at=when,
                        resolved_at=when if status == CaseStatus.resolved else None,
                        escalated_at=when if status == CaseStatus.escalated else None,
                        closed_at=when if status == CaseStatus.closed else None)
            s.add(case)
            s.flush()
            if rng.random() < 0.4:
                s.add(Rating(case_id=case.id, expert_id=case.expert_id, csat=rng.randint(1, 5)))  # type: ignore[arg-type]
        s.commit()
        history, version = ranking.history(s, brand_id), ranking._history_version(s, brand_id)

    def not_here(*args: Any) -> Any:
        raise AssertionError("loaded or fitted inside the serving process")

    cache = ranking._ranker_cache()
    cache.load, cache.version, cache.fit = not_here, not_here, not_here
    cache.entries[brand_id] = _Entry(version=(0,), built_at=0.0, size=1000, value="stale")
    cache._rebuild(app, brand_id)
    entry = cache.entries[brand_id]
    here = ExpertRanker().fit(history)
    assert isinstance(entry.value, ExpertRanker) and entry.version == version and entry.size == len(history) == 160
    for text in questions + ["something else entirely"]:
        for topics in (["cards"], ["pin"], []):
            assert entry.value.rank(text, topics) == here.rank(text, topics)
            assert entry.value.rank(text, topics, experts[:2]) == here.rank(text, topics, experts[:2])


def test_a_suggestion_index_the_child_loads_from_the_database_suggests_like_one_fitted_here(
        app: Any, api: Any, monkeypatch: Any) -> None:
    """The suggestion index's background rebuild reads nothing in the serving process either: the
    child reads the brand's suggestible answers (and their version) through the same functions."""
    import uuid

    from gigcx.db import session_scope
    from gigcx.models import Brand, Case, CaseStatus, Customer, ReusableAnswer, utcnow
    from gigcx.services import routing
    from matching.suggestions import SuggestionIndex
    from tests.payouts.money_helpers import setup_brand

    _, brand_id = setup_brand(api)
    questions = ["where is my card", "my card has not arrived", "how do I reset my pin", "refund a double charge"]
    with app.app_context(), session_scope() as s:
        brand = s.get(Brand, brand_id)
        assert brand is not None
        brand.answer_reuse = "auto"
        customer = Customer(brand_id=brand_id, token_hash=uuid.uuid4().hex)
        s.add_all([brand, customer])
        s.flush()
        for n in range(60):
            case = Case(brand_id=brand_id, customer_id=customer.id, client_id=uuid.uuid4().hex,  # type: ignore[arg-type]
                        question=questions[n % 4], status=CaseStatus.resolved, resolved_at=utcnow())
            s.add(case)
            s.flush()
            s.add(ReusableAnswer(brand_id=brand_id, case_id=case.id, question=f"{questions[n % 4]} ({n})",  # type: ignore[arg-type]
                                 answer=f"answer {n}", scrubbed=f"answer {n}",
                                 status="rejected" if n % 10 == 0 else "pending"))
        s.commit()
        answered, version = routing.answered_cases(s, brand_id), routing._answered_version(s, brand_id)

    def not_here(*args: Any) -> Any:
        raise AssertionError("loaded or fitted inside the serving process")

    from gigcx import fitworker

    children: list[Any] = []
    real = fitworker.load_and_fit_in_child

    def spy(*args: Any, **kwargs: Any) -> Any:
        children.append(real(*args, **kwargs))
        return children[-1]

    cache = routing._suggestion_cache()
    cache.load, cache.version, cache.fit = not_here, not_here, not_here
    cache.entries[brand_id] = _Entry(version=(0,), built_at=0.0, size=1000, value="stale")
    monkeypatch.setattr(fitworker, "load_and_fit_in_child", spy)
    cache._rebuild(app, brand_id)
    entry = cache.entries[brand_id]
    here = SuggestionIndex().fit(answered)
    assert isinstance(entry.value, SuggestionIndex) and entry.version == version
    assert entry.size == len(answered) == 54  # the rejected answers are not suggested
    # the next rebuild is spaced by the whole rebuild (the child's start and reading), not its fit alone
    assert len(children) == 1 and entry.build_s > children[0].fit_s
    for text in questions + ["something else entirely"]:
        assert entry.value.suggest(text) == here.suggest(text)


def test_a_background_rebuild_leaves_the_replaced_model_unreachable(app: Any) -> None:
    """The swap drops the last reference to the old model, which reference counting alone then
    frees (serving freezes long-lived objects out of full collections, GIGCX_GC_FREEZE_S)."""
    import gc
    import weakref

    from matching.suggestions import AnsweredCase, SuggestionIndex

    cases = [AnsweredCase(i, f"how do I reset the pin of card {i}", "in the app") for i in range(250)]
    cache: RefreshingCache[Any, Any] = RefreshingCache(
        "test index", lambda s, k: (len(cases),), lambda s, k: cases, lambda c: SuggestionIndex().fit(c), len,
        inline_below=200, child_fit="matching.suggestions:SuggestionIndex")
    old = SuggestionIndex().fit(cases[:100])
    assert old.suggest("reset my pin")
    cache.entries[7] = _Entry(version=(0,), built_at=0.0, size=250, value=old)
    gone = weakref.ref(old)
    del old
    gc.collect()
    gc.disable()
    try:
        cache._rebuild(app, 7)
        assert gone() is None
    finally:
        gc.enable()
    assert cache.entries[7].version == (250,) and cache.entries[7].value.suggest("reset my pin")


class PriorityProbe:
    """An "estimator" for the fit worker that remembers the CPU priority it was fitted at."""

    def fit(self, data: Any) -> PriorityProbe:
        import os

        self.niceness = os.nice(0)
        return self


def test_a_child_fit_runs_at_a_lower_cpu_priority_than_the_serving_process() -> None:
    import os

    from gigcx.fitworker import CHILD_NICENESS, fit_in_child

    probe = fit_in_child("tests.test_modelcache:PriorityProbe", [])
    assert probe.niceness == min(19, os.nice(0) + CHILD_NICENESS)
