"""Profiles.matrix's text and topic features equal the sparse-matrix formulas they replace, bit for bit."""
from __future__ import annotations

import pickle
import random

import numpy as np
import pytest
import scipy.sparse as sp

from matching.expert_profiles import FEATURES, Profiles
from matching.ranker import ResolvedCase
from matching.tfidf import transform_one

WORDS = "card arrived lost refund order password reset bank transfer fee limit pin atm charge late".split()
TOPICS = ["cards", "refunds", "login", "fees"]


def _history(n: int, rng: random.Random) -> list[ResolvedCase]:
    cases: list[ResolvedCase] = []
    for k in range(n):
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 8)))
        if cases and rng.random() < 0.2:
            text = cases[-1].text  # a repeated question
        cases.append(ResolvedCase(text=text, topics=[rng.choice(TOPICS)] if rng.random() < 0.9 else [],
                                  expert_id=rng.randint(1, 40), resolved=rng.random() < 0.7,
                                  rating=rng.choice([None, 1, 3, 5]), at=float(k)))
    return cases


def _reference(p: Profiles, text: str, topics: list[str], idx: np.ndarray) -> dict[int, np.ndarray]:
    """The scipy formulas of the columns the fast path computes."""
    assert p.vec is not None
    q = p.vec.transform([p._doc(text, topics)])
    sims = (q @ p.docs_t).toarray().ravel()
    top = np.argpartition(-sims, p.knn_k)[:p.knn_k] if len(sims) > p.knn_k else np.arange(len(sims))
    near = sp.csr_matrix(p.resolved_votes[top].multiply(sims[top, None]))
    out = {11: (q @ p.profiles_t).toarray().ravel()[idx],
           13: np.log(0.05 + np.asarray(sims[top] ** 2 @ p.votes[top]).ravel()[idx]),
           16: near.max(axis=0).toarray().ravel()[idx]}
    cols = [p.topic_ids[t] for t in dict.fromkeys(topics) if t in p.topic_ids]
    if cols:
        tc = p.tcount[:, cols].toarray()[idx]
        out[6] = np.log1p(tc.sum(axis=1))
        out[7] = np.log1p(np.asarray(p.tres[:, cols].sum(axis=1)).ravel()[idx])
    return out


@pytest.mark.parametrize("n,knn_k", [(1, 100), (7, 3), (150, 100), (1500, 100)])
def test_fast_columns_match_sparse_formulas(n: int, knn_k: int) -> None:
    rng = random.Random(n)
    p = Profiles(_history(n, rng), prior_strength=2.0, rating_prior=4.0, recent_share=0.2, topic_prior=3.0,
                 knn_k=knn_k)
    for _ in range(40):
        text = rng.choice(["", "zzz unknown words", " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 8)))])
        topics = rng.choice([[], [rng.choice(TOPICS)], ["unknown"], TOPICS[:2]])
        idx = p.rows(rng.sample(range(1, 50), rng.randint(1, 40)))
        got = p.matrix(text, topics, idx)
        for col, want in _reference(p, text, topics, idx).items():
            assert got[:, col].tobytes() == want.tobytes(), (FEATURES[col], text, topics)
        assert transform_one(p.vec, text).data.tobytes() == p.vec.transform([text]).data.tobytes()


def test_topic_memo_is_not_pickled() -> None:
    p = Profiles(_history(50, random.Random(0)), prior_strength=2.0, rating_prior=4.0, recent_share=0.2,
                 topic_prior=3.0)
    before = p.matrix("lost card", ["cards"], p.rows([1, 2, 3]))
    copy = pickle.loads(pickle.dumps(p))
    assert "_topic_memo" in p.__dict__ and "_topic_memo" not in copy.__dict__
    assert copy.matrix("lost card", ["cards"], copy.rows([1, 2, 3])).tobytes() == before.tobytes()
