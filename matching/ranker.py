"""ExpertRanker: who should answer this question, learned from resolved cases.

Each expert is described by what they resolved and how it was rated:
* text evidence: TF-IDF nearest-neighbour cases (similar past questions they handled, weighted
  by similarity and case quality) and a cosine match against their TF-IDF profile;
* topic evidence: quality-weighted case counts per topic, IDF-weighted over the query topics;
* track record: activity (log case count), and Bayesian-shrunk resolve rate and rating, so one
  5-star case does not beat a hundred 4.8s.
A candidate never seen in training gets the population prior for every feature (zero evidence,
prior quality), so it ranks behind experts with matching evidence. Ties break on str(expert_id).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

FloatArray = npt.NDArray[np.float64]
ExpertId = Hashable


@dataclass(frozen=True)
class ResolvedCase:
    """One handled support case: the question, its topics, who handled it and the outcome."""

    text: str
    topics: list[str] = field(default_factory=list)
    expert_id: ExpertId = ""
    resolved: bool = False
    rating: float | None = None

    def __post_init__(self) -> None:
        if self.rating is not None and not 1 <= self.rating <= 5:
            raise ValueError(f"rating must be in 1..5 or None; got {self.rating!r}")


@dataclass(frozen=True)
class RankerWeights:
    """Weights of the ranking features (log-linear combination)."""

    knn: float = 0.5
    profile: float = 1.0
    topic: float = 0.5
    activity: float = 0.0
    resolve_rate: float = 3.0
    rating: float = 1.0


class ExpertRanker:
    """Rank experts for a question from their history of resolved cases."""

    def __init__(
        self,
        weights: RankerWeights | None = None,
        n_neighbors: int = 50,
        prior_strength: float = 5.0,
        rating_prior: float = 3.0,
    ) -> None:
        self.weights = weights if weights is not None else RankerWeights()
        self.n_neighbors = n_neighbors
        self.prior_strength = prior_strength
        self.rating_prior = rating_prior

    # ------------------------------------------------------------------ fit
    def _case_weight(self, case: ResolvedCase) -> float:
        w = 1.0 + (1.0 if case.resolved else 0.0)
        if case.rating is not None:
            w *= 0.5 + (case.rating - 1.0) / 4.0  # 0.5 (1 star) .. 1.5 (5 stars)
        return w

    def fit(self, cases: Iterable[ResolvedCase]) -> ExpertRanker:
        """Learn expert profiles from resolved cases; returns self."""
        case_list = list(cases)
        ids = sorted({c.expert_id for c in case_list}, key=str)
        self.experts_: list[ExpertId] = ids
        self._index: dict[ExpertId, int] = {e: i for i, e in enumerate(ids)}
        n_exp = len(ids)
        owner = np.array([self._index[c.expert_id] for c in case_list], dtype=np.intp)
        weight = np.array([self._case_weight(c) for c in case_list], dtype=np.float64)
        self._case_owner = owner
        self._case_weight_arr = weight

        # track record with Bayesian shrinkage
        n = np.bincount(owner, minlength=n_exp).astype(np.float64)
        resolved = np.bincount(
            owner, weights=[1.0 if c.resolved else 0.0 for c in case_list], minlength=n_exp
        )
        rated = [(o, c.rating) for o, c in zip(owner, case_list) if c.rating is not None]
        r_n = np.bincount([o for o, _ in rated], minlength=n_exp).astype(np.float64)
        r_sum = np.bincount(
            [o for o, _ in rated], weights=[float(r) for _, r in rated], minlength=n_exp
        )
        m = self.prior_strength
        self.resolve_prior_ = float(resolved.sum() / n.sum()) if n.sum() else 0.5
        self._activity = np.log1p(n)
        self._resolve_rate = (resolved + m * self.resolve_prior_) / (n + m)
        self._rating = (r_sum + m * self.rating_prior) / (r_n + m)
        self._n_cases = n

        # text evidence
        texts = [c.text for c in case_list]
        self._vec: TfidfVectorizer | None = TfidfVectorizer(
            sublinear_tf=True, ngram_range=(1, 2), min_df=1, dtype=np.float64
        )
        try:
            case_matrix = self._vec.fit_transform(texts).tocsr()
        except ValueError:  # empty vocabulary
            self._vec = None
            case_matrix = sp.csr_matrix((len(texts), 1))
        self._cases = case_matrix
        owner_matrix = sp.csr_matrix(
            (weight, (owner, np.arange(len(owner)))), shape=(n_exp, len(owner))
        )
        profile = (owner_matrix @ case_matrix).tocsr()
        norms = np.sqrt(np.asarray(profile.multiply(profile).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        self._profiles = sp.diags(1.0 / norms) @ profile

        # topic evidence: quality-weighted counts per (expert, topic) and topic IDF
        topic_ids: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        for o, w, c in zip(owner, weight, case_list):
            for t in set(c.topics):
                rows.append(int(o))
                cols.append(topic_ids.setdefault(t, len(topic_ids)))
                vals.append(float(w))
        self._topic_ids = topic_ids
        self._topic_matrix = sp.csc_matrix(
            (vals, (rows, cols)), shape=(n_exp, max(len(topic_ids), 1))
        )
        df = np.bincount(cols, minlength=max(len(topic_ids), 1)).astype(np.float64)
        self._topic_idf = np.log((1.0 + len(case_list)) / (1.0 + df)) + 1.0
        return self

    # ------------------------------------------------------------------ scoring
    def features(self, text: str, topics: Sequence[str]) -> dict[str, FloatArray]:
        """Per-expert feature vectors (aligned with ``experts_``) for one question."""
        n_exp = len(self.experts_)
        if self._vec is not None:
            q = self._vec.transform([text])
        else:
            q = sp.csr_matrix((1, self._cases.shape[1]))
        sims = np.asarray((self._cases @ q.T).todense()).ravel()
        k = min(self.n_neighbors, len(sims))
        knn = np.zeros(n_exp)
        if k > 0 and sims.max(initial=0.0) > 0:
            top = np.argpartition(-sims, k - 1)[:k]
            contrib = sims[top] * self._case_weight_arr[top]
            knn = np.bincount(self._case_owner[top], weights=contrib, minlength=n_exp).astype(np.float64)
        profile = np.asarray((self._profiles @ q.T).todense()).ravel()
        topic = np.zeros(n_exp)
        known = [self._topic_ids[t] for t in set(topics) if t in self._topic_ids]
        for t in known:
            col = self._topic_matrix.getcol(t).toarray().ravel()
            topic += self._topic_idf[t] * np.log1p(col)
        if known:
            topic /= len(known)
        return {
            "knn": np.log1p(10.0 * knn),
            "profile": profile,
            "topic": topic,
            "activity": self._activity,
            "resolve_rate": self._resolve_rate,
            "rating": (self._rating - 1.0) / 4.0,
        }

    def _unseen_features(self) -> dict[str, float]:
        return {
            "knn": 0.0,
            "profile": 0.0,
            "topic": 0.0,
            "activity": 0.0,
            "resolve_rate": self.resolve_prior_,
            "rating": (self.rating_prior - 1.0) / 4.0,
        }

    def score_all(self, text: str, topics: Sequence[str]) -> FloatArray:
        """Combined score for every trained expert, aligned with ``experts_``."""
        feats = self.features(text, topics)
        w = self.weights
        total: FloatArray = np.zeros(len(self.experts_))
        for name, vec in feats.items():
            total = total + getattr(w, name) * vec
        return total

    def rank(
        self,
        text: str,
        topics: Sequence[str],
        candidates: Iterable[ExpertId] | None = None,
    ) -> list[tuple[ExpertId, float]]:
        """Experts best first as (expert_id, score); only ``candidates`` when given."""
        scores = self.score_all(text, topics)
        if candidates is None:
            pool: list[ExpertId] = list(self.experts_)
        else:
            pool = list(dict.fromkeys(candidates))
        unseen = sum(getattr(self.weights, k) * v for k, v in self._unseen_features().items())
        out: list[tuple[ExpertId, float]] = []
        for e in pool:
            i = self._index.get(e)
            out.append((e, float(scores[i]) if i is not None else float(unseen)))
        out.sort(key=lambda pair: (-pair[1], str(pair[0])))
        return out
