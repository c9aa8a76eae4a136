"""A model a refit replaces is freed as soon as nothing uses it: no module-level cache keeps it,
and it is no reference cycle, which only a full collection would free (a serving process keeps
long-lived objects out of those, GIGCX_GC_FREEZE_S: a replaced model in a cycle stayed until the
next reclaim, and one held by the analyzer cache for the life of the process)."""
from __future__ import annotations

import gc
import pickle
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from matching import ExpertRanker, ResolvedCase, TopicClassifier
from matching.suggestions import AnsweredCase, SuggestionIndex
from matching.tfidf import _ANALYZERS


def _index() -> SuggestionIndex:
    cases = [AnsweredCase(i, f"how do I reset the pin of my card number {i}?", "in the app") for i in range(60)]
    return SuggestionIndex().fit(cases)


def _ranker() -> ExpertRanker:
    cases = [ResolvedCase(f"card question {i}", ["cards"], "ann", True, 5, at=float(i)) for i in range(40)]
    cases += [ResolvedCase(f"loan question {i}", ["loans"], "bob", i % 3 > 0, None, at=40.0 + i) for i in range(40)]
    return ExpertRanker().fit(cases)


def _classifier() -> TopicClassifier:
    texts = ["my card is lost", "card stolen", "where is my card", "refund please", "money back", "refund late"]
    return TopicClassifier(embeddings="none", unknown_label="_none").fit(texts, ["card"] * 3 + ["refund"] * 3)


# how each is fitted, and used as serving uses it (which builds and caches its analyzers)
MODELS: dict[str, tuple[Callable[[], Any], Callable[[Any], Any]]] = {
    "suggestions": (_index, lambda m: m.suggest("reset my card pin")),
    "ranker": (_ranker, lambda m: m.rank("a card question", ["cards"], at=100.0)),
    "classifier": (_classifier, lambda m: m.proba_and_confidence(["lost card"])),
}


@pytest.fixture
def no_cycle_collection() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("unpickled", [False, True], ids=["fitted-here", "from-a-child"])
def test_a_used_model_is_freed_by_reference_counting_alone(name: str, unpickled: bool,
                                                           no_cycle_collection: None) -> None:
    fit, use = MODELS[name]
    cached = len(_ANALYZERS)
    model = fit()
    if unpickled:  # as a background refit hands it over (gigcx.fitworker)
        model = pickle.loads(pickle.dumps(model))  # noqa: S301 - our own
    assert len(use(model))
    gone = weakref.ref(model)
    del model
    assert gone() is None
    assert len(_ANALYZERS) == cached  # its vectorizers (and their vocabularies) went with it
