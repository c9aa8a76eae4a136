"""ExpertRanker: who should answer this question, learned from resolved cases.

Per (question, expert) the ranker computes a small feature vector (see ``FEATURES``, built in
``matching.expert_profiles``):
* track record: activity (log cases), log resolved cases, Bayesian-shrunk resolve rate and
  rating (so one 5-star case does not beat a hundred 4.8s) and the log of the shrunk rate,
  recency (cases in the newest part of the history and the position of the expert's latest
  case; case order is time order);
* topic evidence: tag counts and resolved-tag counts on the question's topics, the shrunk
  resolve rate and rating on those topics (shrunk toward the expert's own) and its log, the
  expert's shrunk topic focus P(topic | expert) and an IDF-weighted topic match;
* text evidence (TF-IDF of the text plus the topics as tokens): cosine to the expert's
  quality-weighted profile, a kNN vote (the 100 most similar past questions vote for the
  experts who handled them, weighted by squared cosine, resolved cases 4x unresolved) and
  ``knn_near``, the cosine of the most similar past question the expert resolved;
* time evidence (``t_*``), from the cases handled strictly before the question's time ``at``
  (``ResolvedCase.at`` / ``rank(..., at=...)``; None: after the whole history, i.e. "now"):
  log cases before it, log cases and log resolved cases in the last 5% of the history's cases
  before it (``time_window``; a count of cases, so the unit of ``at`` does not matter), log
  cases in the last 20%, exp(-distance of the expert's last case / window), and log cases on
  the question's topics in the last 20%. A history without times uses its list order.
The score is a linear combination, with two weight vectors: ``coef_`` ranks all experts
(``candidates=None``: "who is best overall") and ``coef_candidates_`` ranks a given candidate
list ("which of these people will resolve it"). With enough history ``fit`` learns both from
out-of-fold lists: the questions are split into folds, each fold's questions get features from
profiles built on the other folds (time features at the question's own time: its
first case's ``at``), then (all experts, up to 2000 questions) a pairwise logistic
regression with hard negatives refined by coordinate ascent on the mean reciprocal rank, and
(candidates, every question with two or more known answerers) a pairwise logistic regression on
"resolver vs. the others who answered", kept only if, fitted on some folds, it beats the
all-experts weights on the held-out folds' lists. With little history it keeps
``DEFAULT_WEIGHTS``. A candidate never seen in training is scored as an expert with no history
(a virtual row of zero counts and prior rates). Ties break on str(expert_id).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from matching.expert_profiles import DEFAULT_WEIGHTS, FEATURES, FloatArray, IntArray, Profiles
from matching.list_scores import beats, mrr_all, own_lists, own_score, rr_lists
from matching.weight_fits import fit_all, own_lr

__all__ = ["DEFAULT_WEIGHTS", "FEATURES", "TIME_FREE", "ExpertRanker", "ResolvedCase"]

# the features learned on when the history has no times (``ResolvedCase.at`` left out)
TIME_FREE: tuple[str, ...] = tuple(f for f in FEATURES if not f.startswith("t_"))

# learned weights must beat tag-count on the out-of-fold lists by this many standard errors of
# the mean per-question difference to be used (else the ranker orders like tag-count)
TAG_COUNT_MARGIN = 2.0

CompactArray = npt.NDArray[np.float32]  # learning lists are kept in float32 to halve their memory
ExpertId = Hashable
# learning lists: (feature matrix, resolver row, rows of the question's own experts)
_Lists = list[tuple[CompactArray, int, IntArray]]


@dataclass(frozen=True, slots=True)
class ResolvedCase:
    """One handled support case: the question, its topics, who handled it and the outcome."""

    text: str
    topics: list[str] = field(default_factory=list)
    expert_id: ExpertId = ""
    resolved: bool = False
    rating: float | None = None
    at: float | None = None  # when it was handled (any increasing number, e.g. epoch seconds)

    def __post_init__(self) -> None:
        if self.rating is not None and not 1 <= self.rating <= 5:
            raise ValueError(f"rating must be in 1..5 or None; got {self.rating!r}")


class ExpertRanker:
    """Rank experts for a question from their history of resolved cases."""

    def __init__(
        self,
        weights: dict[str, float] | None = None,
        learn_weights: bool = True,
        min_learn_questions: int = 100,
        n_folds: int = 4,
        prior_strength: float = 5.0,
        rating_prior: float = 3.0,
        recent_share: float = 0.25,
        topic_prior: float = 3.0,
        max_learn_questions: int = 2000,
        n_negatives: int = 40,
        learn_rounds: int = 2,
        guard_folds: int = 3,
        guard_rounds: int = 1,
        random_state: int = 0,
        knn_k: int = 100,
        tags_as_text: bool = True,
        time_window: float = 0.05,
    ) -> None:
        self.weights = weights
        self.learn_weights = learn_weights
        self.min_learn_questions = min_learn_questions
        self.n_folds = n_folds
        self.prior_strength = prior_strength
        self.rating_prior = rating_prior
        self.recent_share = recent_share
        self.topic_prior = topic_prior
        self.max_learn_questions = max_learn_questions
        self.n_negatives = n_negatives
        self.learn_rounds = learn_rounds
        self.guard_folds = guard_folds
        self.guard_rounds = guard_rounds
        self.random_state = random_state
        self.knn_k = knn_k
        self.tags_as_text = tags_as_text
        self.time_window = time_window

    def _profiles(self, cases: Sequence[ResolvedCase], times: FloatArray | None = None) -> Profiles:
        return Profiles(cases, self.prior_strength, self.rating_prior, self.recent_share,
                         self.topic_prior, self.knn_k, self.tags_as_text, times, self.time_window)

    # ------------------------------------------------------------------ fit
    def fit(self, cases: Iterable[ResolvedCase]) -> ExpertRanker:
        """Learn expert profiles (and, with enough history, the feature weights); returns self.

        ``cases`` must be in time order (oldest first); consecutive cases with the same text and
        topics are treated as answers to one question. When every case has ``at``, the time
        features use it (``has_times_``); otherwise the list order is the time and ``rank``
        ignores ``at``."""
        case_list = list(cases)
        times = _case_times(case_list)
        self.has_times_ = times is not None
        base = dict(DEFAULT_WEIGHTS if self.weights is None else self.weights)
        self.coef_: FloatArray = np.array([base.get(f, 0.0) for f in FEATURES])
        self.coef_candidates_: FloatArray = self.coef_.copy()
        self.weights_learned_ = False
        self.tag_count_fallback_ = {"all": False, "candidates": False}
        # without times the t_* columns only say who was active at the end of the list, which
        # is not when a past question was asked: learn on the time-free features alone
        self.features_used_: tuple[str, ...] = FEATURES if times is not None else TIME_FREE
        if self.learn_weights and self.weights is None:
            lists = self._oof_lists(case_list, times)
            if lists is not None:
                used = np.array([FEATURES.index(f) for f in self.features_used_], dtype=np.intp)
                sub = [[(x[:, used], p, own) for x, p, own in part] for part in lists[:2]]
                w_all, w_cand = self._learn(sub[0], sub[1], lists[2],
                                            self.features_used_.index("tag_count"))
                self.coef_ = np.zeros(len(FEATURES))
                self.coef_candidates_ = np.zeros(len(FEATURES))
                self.coef_[used], self.coef_candidates_[used] = w_all, w_cand
                self.weights_learned_ = True
        self._p = self._profiles(case_list, times)
        self.experts_: list[ExpertId] = self._p.experts
        return self

    def _oof_lists(self, cases: list[ResolvedCase],
                   times: FloatArray | None) -> tuple[_Lists, _Lists, IntArray] | None:
        """Out-of-fold learning lists (None: too little history).

        All-experts lists, per sampled question (up to ``max_learn_questions``): the feature
        matrix of every expert known outside its fold, the resolver's row and the rows of the
        question's own experts. Candidate lists, per question with at least two of its own
        experts known outside its fold (all questions: only those rows are computed): their
        feature rows, the resolver's position and ``arange``. Only resolvers with history
        count: an expert unseen outside the fold has no evidence and would teach "less history
        is better". Third: per candidate list, the all-experts list of the same question (-1:
        none)."""
        starts = [i for i, c in enumerate(cases)
                  if i == 0 or (c.text, c.topics) != (cases[i - 1].text, cases[i - 1].topics)]
        if len(starts) < self.min_learn_questions * 2:
            return None
        spans = list(zip(starts, starts[1:] + [len(cases)]))
        rng = np.random.default_rng(self.random_state)
        fold = rng.integers(0, self.n_folds, len(spans))
        chosen = np.zeros(len(spans), dtype=bool)
        chosen[rng.choice(len(spans), min(self.max_learn_questions, len(spans)),
                          replace=False)] = True
        # time features of a learning question come from the other folds' cases strictly
        # before it (before its first case), as in rank(..., at=<when it was asked>)
        t_all = np.arange(len(cases), dtype=np.float64) if times is None else times
        lists: _Lists = []
        cand: _Lists = []
        cand_src: list[int] = []
        for k in range(self.n_folds):
            ix = [i for q, (a, b) in enumerate(spans) if fold[q] != k for i in range(a, b)]
            inner = self._profiles([cases[i] for i in ix], t_all[ix])
            all_rows = inner.rows(None)
            for q in np.flatnonzero(fold == k):
                group = cases[spans[q][0]:spans[q][1]]
                pos = [inner.index[c.expert_id] for c in group
                       if c.resolved and c.expert_id in inner.index]
                if not pos:
                    continue
                own = np.array(sorted({inner.index[c.expert_id] for c in group
                                       if c.expert_id in inner.index}), dtype=np.intp)
                at = float(t_all[spans[q][0]:spans[q][1]].min())
                if chosen[q]:
                    x = inner.matrix(group[0].text, group[0].topics, all_rows, at)
                    lists.append((x.astype(np.float32), pos[0], own))
                    if len(own) > 1:
                        cand.append((x[own].astype(np.float32), int(np.searchsorted(own, pos[0])),
                                     np.arange(len(own), dtype=np.intp)))
                        cand_src.append(len(lists) - 1)
                elif len(own) > 1:
                    x = inner.matrix(group[0].text, group[0].topics, own, at)
                    cand.append((x.astype(np.float32), int(np.searchsorted(own, pos[0])),
                                 np.arange(len(own), dtype=np.intp)))
                    cand_src.append(-1)
        if len(lists) < self.min_learn_questions:
            return None
        return lists, cand, np.array(cand_src, dtype=np.intp)

    def _learn(self, lists: _Lists, cand: _Lists, cand_src: IntArray,
               tag_col: int) -> tuple[FloatArray, FloatArray]:
        """(all-experts weights, candidate weights) from out-of-fold lists, in raw feature units.

        All experts: pairwise logistic regression of the resolver against random experts and
        the question's other experts, again with the first model's top-scored experts as hard
        negatives, then coordinate ascent on the mean reciprocal rank. Candidates: pairwise
        logistic regression of the resolver against the question's other experts (candidate
        lists of every question); kept only if, fitted on the other folds, it ranks held-out
        candidate lists better (P@1 + MRR) than the all-experts weights do held out. Both are
        judged out-of-fold: the all-experts procedure is refitted without each of
        ``guard_folds`` folds of its lists (``guard_rounds`` ascent rounds) and scored on the
        fold. Each vector then has to beat tag-count on the same lists by
        ``TAG_COUNT_MARGIN`` standard errors of the mean per-list difference (ties at their
        expected value under random tie-breaking), or tag-count's weights are used (weight on
        ``tag_count`` alone: the same order as the baseline, ties by id)."""
        rng = np.random.default_rng(self.random_state)
        # floor the scale: a near-constant feature must not get a huge raw-unit weight that
        # then dominates for unseen experts (whose features lie outside the learned range)
        scale = np.maximum(np.vstack([x[own] for x, _, own in lists]).std(axis=0), 0.05)
        scale = scale.astype(np.float64)
        z = [((x / scale).astype(np.float32), p, own) for x, p, own in lists]
        zc = [((x / scale).astype(np.float32), p, own) for x, p, own in cand]
        w_all, w_lr = fit_all(z, rng, self.n_negatives, self.learn_rounds)
        # the all-experts weights scored out-of-fold: refitted without each fold of the lists
        # and scored on it, per list (same procedure, ``guard_rounds`` ascent rounds, the
        # regressions started at the full fit's solution); in-sample the regressions and the
        # ascent have tuned them to these very lists, which favours them against tag-count
        g = max(2, min(self.guard_folds, len(z)))
        z_fold = np.arange(len(z)) % g
        guard_rng = np.random.default_rng([self.random_state, 1])
        w_folds = [fit_all([z[i] for i in np.flatnonzero(z_fold != k)], guard_rng,
                           self.n_negatives, self.guard_rounds, w_lr)[0] for k in range(g)]
        all_lists = np.empty(len(z))
        for k in range(g):
            part = np.flatnonzero(z_fold == k)
            all_lists[part] = rr_lists([z[i] for i in part], w_folds[k])
        # a candidate list of a question in ``z`` is scored by the weights fitted without it
        # (the other candidate lists were never in ``z``: ``w_all`` is out-of-sample there)
        all_own = np.empty(len(zc))
        for src in [None, *range(g)]:
            part = (np.flatnonzero(cand_src < 0) if src is None
                    else np.flatnonzero((cand_src >= 0) & (z_fold[cand_src] == src)))
            if len(part):
                all_own[part] = own_lists([zc[i] for i in part],
                                          w_all if src is None else w_folds[src])
        w_cand: FloatArray | None = None  # None: the all-experts weights
        cand_lists = all_own
        if len(zc) >= self.min_learn_questions // 2:
            # out-of-fold comparison: on some sites (dba) the resolver-vs-answerers model is
            # worse on held-out lists than the all-experts weights, in-sample it looks better
            k_of = np.arange(len(zc)) % self.n_folds
            held_lists = np.zeros(len(zc))
            for k in range(self.n_folds):
                w_k = own_lr(zc, [i for i in range(len(zc)) if k_of[i] != k])
                part = np.flatnonzero(k_of == k)
                held_lists[part] = own_lists([zc[i] for i in part], w_k)
            if held_lists.mean() > all_own.mean():
                w_cand = own_lr(zc, list(range(len(zc))))
            # the guard must not see the pick's own luck: picking the better of two noisy scores
            # and then comparing it with tag-count on the same lists favours the pick. So each
            # fold's lists are scored by the weights the other folds' lists would pick (the pick
            # on all lists is what is kept)
            cand_lists = all_own.copy()
            for k in range(self.n_folds):
                rest = k_of != k
                if rest.any() and held_lists[rest].mean() > all_own[rest].mean():
                    cand_lists[k_of == k] = held_lists[k_of == k]
        # never worse than the baseline the ranker replaces: keep the learned weights only where
        # they clearly beat tag-count on the out-of-fold lists, else rank exactly like tag-count
        # (ties by id, as the baseline breaks them)
        w_tag = np.zeros(len(w_all))
        w_tag[tag_col] = 1.0
        beats_all = beats(all_lists, rr_lists(z, w_tag), TAG_COUNT_MARGIN)
        self.tag_count_fallback_ = {"all": not beats_all, "candidates": False}
        if zc:
            w_cand = w_all if w_cand is None else w_cand
            if not beats(cand_lists, own_lists(zc, w_tag), TAG_COUNT_MARGIN):
                w_cand = w_tag
                self.tag_count_fallback_["candidates"] = True
        if self.tag_count_fallback_["all"]:
            w_all = w_tag
        if w_cand is None:
            w_cand = w_all
        self.validation_score_ = {"mrr_all": mrr_all(z, w_all),
                                  "own": own_score(zc, w_cand) if zc else 0.0,
                                  "mrr_all_held_out": float(all_lists.mean()),
                                  "own_held_out": float(cand_lists.mean()) if zc else 0.0}
        return w_all / scale, w_cand / scale

    # ------------------------------------------------------------------ scoring
    @property
    def weights_(self) -> dict[str, float]:
        """The feature weights used to rank all experts (learned or default)."""
        return {f: float(w) for f, w in zip(FEATURES, self.coef_)}

    @property
    def candidate_weights_(self) -> dict[str, float]:
        """The feature weights used to rank a given candidate list."""
        return {f: float(w) for f, w in zip(FEATURES, self.coef_candidates_)}

    def _at(self, at: float | None) -> float | None:
        """``at`` as used by the profiles: ignored when the history has no times."""
        return float(at) if at is not None and self.has_times_ else None

    def features(self, text: str, topics: Sequence[str],
                 candidates: Iterable[ExpertId] | None = None, *,
                 at: float | None = None) -> dict[str, FloatArray]:
        """Per-candidate feature vectors (aligned with ``candidates``, else ``experts_``)."""
        x = self._p.matrix(text, topics, self._p.rows(candidates), self._at(at))
        return {f: x[:, j] for j, f in enumerate(FEATURES)}

    def score_all(self, text: str, topics: Sequence[str], *,
                  at: float | None = None) -> FloatArray:
        """Combined score for every trained expert, aligned with ``experts_``."""
        x = self._p.matrix(text, topics, self._p.rows(None), self._at(at))
        scores: FloatArray = x @ self.coef_
        return scores

    def rank(
        self,
        text: str,
        topics: Sequence[str],
        candidates: Iterable[ExpertId] | None = None,
        *,
        at: float | None = None,
    ) -> list[tuple[ExpertId, float]]:
        """Experts best first as (expert_id, score); only ``candidates`` when given.

        Without candidates every trained expert is ranked with ``coef_``; a candidate list is
        ranked with ``coef_candidates_`` (learned on "who among those who answered resolved
        it", which is the live question: who among the online experts). ``at`` is when the
        question was asked, in the unit of the cases' ``at``: the ``t_*`` features count only
        cases strictly before it. None (or a history without times) means "now": after the
        whole history."""
        pool = list(self.experts_) if candidates is None else list(dict.fromkeys(candidates))
        if not pool:
            return []
        coef = self.coef_ if candidates is None else self.coef_candidates_
        scores = self._p.matrix(text, topics, self._p.rows(pool), self._at(at)) @ coef
        out = [(e, float(s)) for e, s in zip(pool, scores)]
        out.sort(key=lambda pair: (-pair[1], str(pair[0])))
        return out


def _case_times(cases: Sequence[ResolvedCase]) -> FloatArray | None:
    """Every case's ``at`` as an array; None when any case has none (then list order is time)."""
    if not cases or any(c.at is None for c in cases):
        return None
    return np.array([float(c.at) for c in cases if c.at is not None], dtype=np.float64)
