"""ExpertRanker: who should answer this question, learned from resolved cases.

Per (question, expert) the ranker computes a small feature vector (see ``FEATURES``):
* track record: activity (log cases), log resolved cases, Bayesian-shrunk resolve rate and
  rating (so one 5-star case does not beat a hundred 4.8s), recency (share of the expert's
  cases in the latest part of the history; case order is taken as time order);
* topic evidence: tag counts and resolved-tag counts on the question's topics, the expert's
  shrunk topic focus P(topic | expert) and an IDF-weighted topic match;
* text evidence: TF-IDF cosine to the expert's quality-weighted profile and a nearest-neighbour
  vote of similar past cases.
The score is a linear combination. With enough history ``fit`` learns the weights itself: it
rebuilds the profiles from the older 80% of the questions, fits a pairwise logistic regression
(learning to rank) on the newer 20% (the expert who resolved a question vs. the others who
tried and vs. sampled experts), then rebuilds the profiles from everything. With little history
it keeps the fixed ``DEFAULT_WEIGHTS``.
A candidate never seen in training is scored as an expert with no history (a virtual row of
zero counts and prior rates). Ties break on str(expert_id).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
ExpertId = Hashable

FEATURES = ("activity", "resolved", "resolve_rate", "rating", "recent", "tag_count",
            "tag_resolved", "tag_focus", "topic_idf", "profile", "knn")
# Hand-set weights used when there is too little history to learn them (cold start).
DEFAULT_WEIGHTS: dict[str, float] = {
    "activity": 0.3, "resolved": 0.3, "resolve_rate": 2.0, "rating": 1.0, "recent": 0.5,
    "tag_count": 0.5, "tag_resolved": 0.3, "tag_focus": 0.2, "topic_idf": 0.2,
    "profile": 1.0, "knn": 0.5,
}


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


def _case_weight(case: ResolvedCase) -> float:
    w = 1.0 + (1.0 if case.resolved else 0.0)
    if case.rating is not None:
        w *= 0.5 + (case.rating - 1.0) / 4.0  # 0.5 (1 star) .. 1.5 (5 stars)
    return w


class _Profiles:
    """Expert statistics from a list of cases; row ``n_experts`` is the virtual unseen expert."""

    def __init__(self, cases: Sequence[ResolvedCase], prior_strength: float,
                 rating_prior: float, n_neighbors: int, recent_share: float) -> None:
        ids = sorted({c.expert_id for c in cases}, key=str)
        self.experts = ids
        self.index = {e: i for i, e in enumerate(ids)}
        self.n_neighbors = n_neighbors
        n_exp = len(ids) + 1  # + virtual unseen expert
        n_cases = len(cases)
        owner = np.array([self.index[c.expert_id] for c in cases], dtype=np.intp)
        weight = np.array([_case_weight(c) for c in cases], dtype=np.float64)
        ok = np.array([1.0 if c.resolved else 0.0 for c in cases])
        self.owner, self.weight = owner, weight
        n = np.bincount(owner, minlength=n_exp).astype(np.float64)
        res = np.bincount(owner, weights=ok, minlength=n_exp)
        rated = np.array([c.rating is not None for c in cases], dtype=bool)
        r_val = np.array([float(c.rating) if c.rating is not None else 0.0 for c in cases])
        r_n = np.bincount(owner[rated], minlength=n_exp).astype(np.float64)
        r_sum = np.bincount(owner[rated], weights=r_val[rated], minlength=n_exp)
        m = prior_strength
        self.resolve_prior = float(res.sum() / n.sum()) if n.sum() else 0.5
        recent_from = int(n_cases * (1.0 - recent_share))
        recent = np.bincount(owner[recent_from:], minlength=n_exp).astype(np.float64)
        self.static = {
            "activity": np.log1p(n),
            "resolved": np.log1p(res),
            "resolve_rate": (res + m * self.resolve_prior) / (n + m),
            "rating": ((r_sum + m * rating_prior) / (r_n + m) - 1.0) / 4.0,
            "recent": np.log1p(recent),
        }
        self.n = n

        # topics: counts and resolved counts per (expert, topic)
        topic_ids: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        for o, c in zip(owner, cases):
            for t in set(c.topics):
                rows.append(int(o))
                cols.append(topic_ids.setdefault(t, len(topic_ids)))
        n_top = max(len(topic_ids), 1)
        r_arr, c_arr = np.array(rows, dtype=np.intp), np.array(cols, dtype=np.intp)
        case_of = np.repeat(np.arange(n_cases), [len(set(c.topics)) for c in cases])
        self.topic_ids = topic_ids
        self.tcount = sp.csr_matrix((np.ones(len(rows)), (r_arr, c_arr)), shape=(n_exp, n_top))
        self.tres = sp.csr_matrix((ok[case_of] if len(rows) else np.zeros(0), (r_arr, c_arr)),
                                  shape=(n_exp, n_top))
        df = np.bincount(c_arr, minlength=n_top).astype(np.float64)
        self.topic_p = (df + 1.0) / (df.sum() + n_top)
        self.topic_idf = np.log((1.0 + n_cases) / (1.0 + df)) + 1.0

        # text: TF-IDF of case texts, quality-weighted normalised expert profiles
        self.vec: TfidfVectorizer | None = TfidfVectorizer(sublinear_tf=True, dtype=np.float64)
        try:
            cm = self.vec.fit_transform([c.text for c in cases]).tocsr()
        except ValueError:  # empty vocabulary
            self.vec = None
            cm = sp.csr_matrix((n_cases, 1))
        self.cases = cm
        om = sp.csr_matrix((weight, (owner, np.arange(n_cases))), shape=(n_exp, n_cases))
        prof = (om @ cm).tocsr()
        norms = np.sqrt(np.asarray(prof.multiply(prof).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        self.profiles = (sp.diags(1.0 / norms) @ prof).tocsr()

    def rows(self, candidates: Iterable[ExpertId] | None) -> IntArray:
        """Row per candidate (unseen -> the virtual row); all experts when None."""
        if candidates is None:
            return np.arange(len(self.experts), dtype=np.intp)
        unseen = len(self.experts)
        return np.array([self.index.get(e, unseen) for e in candidates], dtype=np.intp)

    def matrix(self, text: str, topics: Sequence[str], idx: IntArray) -> FloatArray:
        """Feature matrix (len(idx) x len(FEATURES)) for one question."""
        out = np.empty((len(idx), len(FEATURES)))
        for j, name in enumerate(FEATURES[:5]):
            out[:, j] = self.static[name][idx]
        cols = [self.topic_ids[t] for t in dict.fromkeys(topics) if t in self.topic_ids]
        if cols:
            tc = self.tcount[idx][:, cols].toarray()
            tr = self.tres[idx][:, cols].toarray()
            p = self.topic_p[cols]
            out[:, 5] = np.log1p(tc.sum(axis=1))
            out[:, 6] = np.log1p(tr.sum(axis=1))
            focus = (tc + 5.0 * p) / (self.n[idx, None] + 5.0)
            out[:, 7] = np.mean(np.log(focus / p), axis=1)
            out[:, 8] = np.log1p(tc) @ self.topic_idf[cols] / len(cols)
        else:
            out[:, 5:9] = 0.0
        if self.vec is not None and len(self.owner):
            q = self.vec.transform([text])
            out[:, 9] = np.asarray((self.profiles[idx] @ q.T).todense()).ravel()
            sims = np.asarray((self.cases @ q.T).todense()).ravel()
            k = min(self.n_neighbors, len(sims))
            top = np.argpartition(-sims, k - 1)[:k]
            vote = np.bincount(self.owner[top], weights=sims[top] * self.weight[top],
                               minlength=len(self.experts) + 1)
            out[:, 10] = np.log1p(10.0 * vote[idx])
        else:
            out[:, 9:] = 0.0
        return out


class ExpertRanker:
    """Rank experts for a question from their history of resolved cases."""

    def __init__(
        self,
        weights: dict[str, float] | None = None,
        learn_weights: bool = True,
        min_learn_questions: int = 100,
        validation_share: float = 0.2,
        validation: str = "random",
        n_neighbors: int = 50,
        prior_strength: float = 5.0,
        rating_prior: float = 3.0,
        recent_share: float = 0.25,
        max_learn_questions: int = 400,
        learn_rounds: int = 3,
        random_state: int = 0,
    ) -> None:
        self.max_learn_questions = max_learn_questions
        self.learn_rounds = learn_rounds
        self.weights = weights
        self.learn_weights = learn_weights
        self.min_learn_questions = min_learn_questions
        self.validation_share = validation_share
        self.validation = validation
        self.n_neighbors = n_neighbors
        self.prior_strength = prior_strength
        self.rating_prior = rating_prior
        self.recent_share = recent_share
        self.random_state = random_state

    def _profiles(self, cases: Sequence[ResolvedCase]) -> _Profiles:
        return _Profiles(cases, self.prior_strength, self.rating_prior, self.n_neighbors,
                         self.recent_share)

    # ------------------------------------------------------------------ fit
    def fit(self, cases: Iterable[ResolvedCase]) -> ExpertRanker:
        """Learn expert profiles (and, with enough history, the feature weights); returns self.

        ``cases`` must be in time order (oldest first); consecutive cases with the same text and
        topics are treated as answers to one question."""
        case_list = list(cases)
        base = dict(DEFAULT_WEIGHTS if self.weights is None else self.weights)
        self.coef_: FloatArray = np.array([base.get(f, 0.0) for f in FEATURES])
        self.weights_learned_ = False
        if self.learn_weights and self.weights is None:
            learned = self._learn(case_list)
            if learned is not None:
                self.coef_, self.weights_learned_ = learned, True
        self._p = self._profiles(case_list)
        self.experts_: list[ExpertId] = self._p.experts
        return self

    def _learn(self, cases: list[ResolvedCase]) -> FloatArray | None:
        """Tune the weights on a time-based split of the history (None: too little history).

        Profiles come from the older questions; on the newer questions whose resolving expert
        has history, coordinate ascent (multiplicative steps from ``DEFAULT_WEIGHTS``) maximises
        the mean reciprocal rank of the resolving expert among all experts plus among the
        question's own experts (who is best overall, and among those who tried)."""
        starts = [i for i, c in enumerate(cases)
                  if i == 0 or (c.text, c.topics) != (cases[i - 1].text, cases[i - 1].topics)]
        n_q = len(starts)
        n_val = int(n_q * self.validation_share)
        if n_val < self.min_learn_questions or n_q - n_val < self.min_learn_questions:
            return None
        spans = list(zip(starts, starts[1:] + [len(cases)]))
        rng = np.random.default_rng(self.random_state)
        if self.validation == "random":
            val_q = np.sort(rng.choice(n_q, n_val, replace=False))
        else:  # "time": the newest questions
            val_q = np.arange(n_q - n_val, n_q)
        is_val = np.zeros(n_q, dtype=bool)
        is_val[val_q] = True
        inner = self._profiles([c for q, (a, b) in enumerate(spans) if not is_val[q]
                                for c in cases[a:b]])
        all_rows = inner.rows(None)
        bounds = [spans[q] for q in val_q]
        if len(bounds) > self.max_learn_questions:
            keep = np.sort(rng.choice(len(bounds), self.max_learn_questions, replace=False))
            bounds = [bounds[i] for i in keep]
        mats: list[FloatArray] = []
        pos_list: list[int] = []
        own_list: list[IntArray] = []
        for a, b in bounds:
            group = cases[a:b]
            # Only experts with history are learned from: an expert unseen in the older part
            # has no evidence, and choices involving them would teach "less history is better".
            pos = [inner.index[c.expert_id] for c in group
                   if c.resolved and c.expert_id in inner.index]
            if not pos:
                continue
            own = [inner.index[c.expert_id] for c in group if c.expert_id in inner.index]
            mats.append(inner.matrix(group[0].text, group[0].topics, all_rows).astype(np.float32))
            pos_list.append(pos[0])
            own_list.append(np.array(sorted(set(own)), dtype=np.intp))
        if len(mats) < self.min_learn_questions:
            return None
        x = np.stack(mats)  # questions x experts x features
        qi = np.arange(len(mats))
        pos_arr = np.array(pos_list, dtype=np.intp)
        own_mask = np.zeros(x.shape[:2], dtype=bool)
        for i, o in enumerate(own_list):
            own_mask[i, o] = True

        def objective(w: FloatArray) -> float:
            s = x @ w.astype(np.float32)
            sp_ = s[qi, pos_arr][:, None]
            above_all = (s > sp_).sum(axis=1)
            above_own = ((s > sp_) & own_mask).sum(axis=1)
            return float(np.mean(1.0 / (1 + above_all)) + np.mean(1.0 / (1 + above_own)))

        w = np.array([DEFAULT_WEIGHTS[f] for f in FEATURES])
        best = objective(w)
        for _ in range(self.learn_rounds):
            improved = False
            for j in range(len(FEATURES)):
                for factor in (0.0, 0.25, 0.5, 2.0, 4.0, -1.0):
                    trial = w.copy()
                    trial[j] = w[j] * factor if w[j] != 0 else factor * 0.25
                    val = objective(trial)
                    if val > best + 1e-6:
                        best, w, improved = val, trial, True
            if not improved:
                break
        self.validation_score_ = best / 2.0
        return w

    # ------------------------------------------------------------------ scoring
    @property
    def weights_(self) -> dict[str, float]:
        """The feature weights in use (learned or default)."""
        return {f: float(w) for f, w in zip(FEATURES, self.coef_)}

    def features(self, text: str, topics: Sequence[str],
                 candidates: Iterable[ExpertId] | None = None) -> dict[str, FloatArray]:
        """Per-candidate feature vectors (aligned with ``candidates``, else ``experts_``)."""
        x = self._p.matrix(text, topics, self._p.rows(candidates))
        return {f: x[:, j] for j, f in enumerate(FEATURES)}

    def score_all(self, text: str, topics: Sequence[str]) -> FloatArray:
        """Combined score for every trained expert, aligned with ``experts_``."""
        scores: FloatArray = self._p.matrix(text, topics, self._p.rows(None)) @ self.coef_
        return scores

    def rank(
        self,
        text: str,
        topics: Sequence[str],
        candidates: Iterable[ExpertId] | None = None,
    ) -> list[tuple[ExpertId, float]]:
        """Experts best first as (expert_id, score); only ``candidates`` when given."""
        pool = list(self.experts_) if candidates is None else list(dict.fromkeys(candidates))
        if not pool:
            return []
        scores = self._p.matrix(text, topics, self._p.rows(pool)) @ self.coef_
        out = [(e, float(s)) for e, s in zip(pool, scores)]
        out.sort(key=lambda pair: (-pair[1], str(pair[0])))
        return out
