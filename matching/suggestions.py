"""Suggested answers: the resolved cases most similar to a new question."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer


@dataclass(frozen=True)
class AnsweredCase:
    """A resolved case whose answer may help others: its id, question and the expert's answer."""

    case_id: int
    question: str
    answer: str


@dataclass(frozen=True)
class Suggestion:
    """A suggested answer with its similarity to the new question (cosine, 0..1)."""

    case_id: int
    question: str
    answer: str
    score: float


class SuggestionIndex:
    """TF-IDF (words and character n-grams) over past questions; cosine nearest neighbours."""

    def __init__(self, min_score: float = 0.35, k: int = 3) -> None:
        self.min_score = min_score
        self.k = k

    def fit(self, cases: Sequence[AnsweredCase]) -> SuggestionIndex:
        """Index the answered cases (an empty list gives an index that suggests nothing)."""
        self.cases_ = list(cases)
        if not self.cases_:
            return self
        self.vectorizer_ = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True,
                                           lowercase=True, min_df=1)
        self.matrix_ = self.vectorizer_.fit_transform([c.question for c in self.cases_])
        return self

    def suggest(self, text: str) -> list[Suggestion]:
        """Up to `k` answered cases whose question is close enough to `text`, best first."""
        if not getattr(self, "cases_", None):
            return []
        q = self.vectorizer_.transform([text])
        sims = np.asarray((self.matrix_ @ q.T).todense()).ravel()
        order = np.argsort(-sims, kind="stable")[: self.k]
        out = []
        for i in order:
            if sims[i] < self.min_score:
                break
            c = self.cases_[int(i)]
            out.append(Suggestion(c.case_id, c.question, c.answer, round(float(sims[i]), 3)))
        return out
