"""Suggested answers: the resolved cases most similar to a new question."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from matching.tfidf import freeze, row_times, transform_one


@dataclass(frozen=True, slots=True)
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


def content_words(text: str) -> str:
    """The text lower-cased without its stop words (the character n-grams' preprocessor)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return " ".join(w for w in text.lower().split() if w.strip(".,!?;:'\"()") not in ENGLISH_STOP_WORDS)


class SuggestionIndex:
    """Cosine nearest neighbours over past questions, on content words only (stop words out):
    word TF-IDF plus character n-grams of those words (typos, plurals) in equal parts."""

    def __init__(self, min_score: float = 0.35, k: int = 3) -> None:
        self.min_score = min_score
        self.k = k

    def fit(self, cases: Sequence[AnsweredCase]) -> SuggestionIndex:
        """Index the answered cases (an empty list gives an index that suggests nothing).

        The cases are kept in three arrays, not as objects: their ids, and their questions and
        answers as one UTF-8 text with offsets (question i is ``text_[bounds_[2i]:bounds_[2i+1]]``,
        its answer runs to ``bounds_[2i+2]``). A serving process holds this index for its life and
        replaces it at each refit: 10,000 strings would be 10,000 small allocations to make and
        free at each swap (and objects for every garbage collection to walk), where arrays are a
        few large blocks, mapped straight from the file a child fitted them into."""
        questions = [c.question for c in cases]
        self._store([c.case_id for c in cases], [t for c in cases for t in (c.question, c.answer)])
        if not cases:
            return self
        self.words_ = TfidfVectorizer(stop_words="english", sublinear_tf=True, ngram_range=(1, 2))
        # the preprocessor is a module function, not a bound method of the index: a bound one made
        # the index a reference cycle (index -> vectorizer -> method -> index), freed only by a
        # full garbage collection, which a serving process keeps long-lived objects out of
        # (GIGCX_GC_FREEZE_S): every index a refit replaced stayed until the next reclaim
        self.chars_ = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True,
                                      preprocessor=content_words)
        try:
            # stored transposed (features x cases, CSR): a query row times it reads only the
            # postings of the query's own terms, like an inverted index, instead of every case
            self.postings_ = self._stack(self.words_.fit_transform(questions), self.chars_.fit_transform(questions)).T.tocsr()
        except ValueError:  # nothing but stop words in every question: nothing to match on
            self._store([], [])
            return self
        # the vocabularies as arrays, not dicts of terms (matching.tfidf.TermIndex)
        freeze(self.words_)
        freeze(self.chars_)
        return self

    def _store(self, case_ids: list[int], texts: list[str]) -> None:
        """Keep the ids, and the texts (each case's question then its answer) as one UTF-8 array."""
        encoded = [t.encode() for t in texts]
        self.case_ids_ = np.array(case_ids, dtype=np.int64)
        self.text_ = np.frombuffer(b"".join(encoded), dtype=np.uint8).copy()
        self.bounds_ = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(e) for e in encoded], out=self.bounds_[1:])

    def _text(self, i: int) -> str:
        """The i-th stored text (question j is 2j, its answer 2j + 1)."""
        return self.text_[self.bounds_[i]:self.bounds_[i + 1]].tobytes().decode()

    def __len__(self) -> int:
        return len(getattr(self, "case_ids_", ()))

    @property
    def cases_(self) -> list[AnsweredCase]:
        """The indexed cases, in index order."""
        return [AnsweredCase(int(self.case_ids_[j]), self._text(2 * j), self._text(2 * j + 1)) for j in range(len(self))]

    @staticmethod
    def _stack(words: Any, chars: Any) -> Any:
        """Both views at equal weight; rows stay unit length so dot products are cosines."""
        return sp.hstack([words * np.sqrt(0.5), chars * np.sqrt(0.5)]).tocsr()

    def suggest(self, text: str) -> list[Suggestion]:
        """Up to `k` answered cases whose question is close enough to `text`, best first."""
        if not len(self):
            return []
        words, chars = transform_one(self.words_, text), transform_one(self.chars_, text)
        # the query row of `_stack`, built directly (same values, same order), times the
        # postings: reads only the postings of the query's own terms
        half = np.sqrt(0.5)
        q = sp.csr_matrix((np.concatenate([words.data * half, chars.data * half]),
                           np.concatenate([words.indices, chars.indices + words.shape[1]]),
                           [0, words.nnz + chars.nnz]), shape=(1, words.shape[1] + chars.shape[1]))
        sims = row_times(q, self.postings_)  # cosine per case (0 where no term is shared)
        order = np.argsort(-sims, kind="stable")[: self.k]
        out = []
        for i in order:
            if sims[i] < self.min_score:
                break
            j = int(i)
            out.append(Suggestion(int(self.case_ids_[j]), self._text(2 * j), self._text(2 * j + 1), round(float(sims[i]), 3)))
        return out
