"""SuggestionIndex: the inverted-index product gives exactly the brute-force cosine ranking."""
from __future__ import annotations

import random

import numpy as np

from matching.suggestions import AnsweredCase, SuggestionIndex

WORDS = ("card lost blocked transfer abroad refund money pending account pin atm fee charge limit "
         "statement app login salary debit exchange rate verify identity").split()


def _brute_force(index: SuggestionIndex, text: str) -> list[tuple[int, float]]:
    rows = index.postings_.T.tocsr()  # cases x features, unit rows
    q = index._stack(index.words_.transform([text]), index.chars_.transform([text]))
    sims = np.asarray((rows @ q.T).todense()).ravel()
    order = np.argsort(-sims, kind="stable")[: index.k]
    return [(index.cases_[int(i)].case_id, round(float(sims[i]), 3)) for i in order if sims[i] >= index.min_score]


def test_suggestions_equal_the_brute_force_cosine_ranking() -> None:
    rng = random.Random(7)
    cases = [AnsweredCase(i, " ".join(rng.choice(WORDS) for _ in range(6)) + f" order {i}", f"answer {i}")
             for i in range(400)]
    index = SuggestionIndex().fit(cases)
    queries = [" ".join(rng.choice(WORDS) for _ in range(4)) for _ in range(100)] + ["nothing in common", ""]
    found = 0
    for text in queries:
        got = [(s.case_id, s.score) for s in index.suggest(text)]
        assert got == _brute_force(index, text), text
        found += bool(got)
    assert found > 50  # the comparison is not vacuous


def test_an_empty_index_suggests_nothing() -> None:
    assert SuggestionIndex().fit([]).suggest("my card") == []


def test_suggest_scores_are_the_stacked_sparse_product() -> None:
    """The query row built directly gives the cosines `_stack` and a sparse product give."""
    cases = [AnsweredCase(i, q, f"answer {i}") for i, q in enumerate(
        ["where is my card", "my card has not arrived yet", "refund for a late order", "reset my password",
         "the card arrived broken", "how long does a transfer take"])]
    index = SuggestionIndex(min_score=0.0, k=len(cases)).fit(cases)
    for text in ["card not arrived", "refund", "the and of", "zzz", ""]:
        q = index._stack(index.words_.transform([text]), index.chars_.transform([text]))
        sims = (q @ index.postings_).toarray().ravel()
        order = np.argsort(-sims, kind="stable")
        assert [(s.case_id, s.score) for s in index.suggest(text)] == [
            (cases[int(i)].case_id, round(float(sims[i]), 3)) for i in order]
