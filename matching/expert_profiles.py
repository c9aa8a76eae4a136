"""Expert statistics and per-(question, expert) features for ExpertRanker (see ranker.py).

``Profiles(cases, ...)`` turns a time-ordered list of ResolvedCase into per-expert arrays and
sparse matrices; ``matrix(text, topics, rows)`` returns the ``FEATURES`` columns for one
question and the given expert rows (row ``len(experts)`` is the virtual unseen expert), with
the ``t_*`` columns counted from the cases strictly before the question's time ``at``.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from matching.tfidf import freeze, row_times, stored_entries, transform_one

if TYPE_CHECKING:
    from matching.ranker import ResolvedCase

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
ExpertId = Hashable

FEATURES = ("activity", "resolved", "resolve_rate", "rating", "recent", "last_seen",
            "tag_count", "tag_resolved", "tag_rate", "tag_focus", "topic_idf", "profile",
            "tag_rating", "knn", "log_rate", "log_tag_rate", "knn_near",
            "t_prior", "t_recent", "t_recent_res", "t_recent_long", "t_gap", "t_topic")
# Hand-set weights used when there is too little history to learn them (cold start).
DEFAULT_WEIGHTS: dict[str, float] = {
    "activity": 0.1, "resolved": 0.4, "resolve_rate": 2.0, "rating": 1.0, "recent": 0.2,
    "last_seen": 0.0, "tag_count": 0.1, "tag_resolved": 0.5, "tag_rate": 1.0, "tag_focus": 0.2,
    "topic_idf": 0.1, "profile": 1.0, "tag_rating": 0.5, "knn": 0.5, "log_rate": 0.5,
    "log_tag_rate": 0.5, "knn_near": 4.0,
    "t_prior": 0.0, "t_recent": 0.2, "t_recent_res": 0.0, "t_recent_long": 0.0, "t_gap": 0.2,
    "t_topic": 0.2,
}
_N_STATIC = 6


class Profiles:
    """Expert statistics from a list of cases; row ``n_experts`` is the virtual unseen expert."""

    def __init__(self, cases: Sequence[ResolvedCase], prior_strength: float,
                 rating_prior: float, recent_share: float, topic_prior: float,
                 knn_k: int = 100, tags_as_text: bool = True, times: FloatArray | None = None,
                 time_window: float = 0.05) -> None:
        ids = sorted({c.expert_id for c in cases}, key=str)
        self.experts = ids
        self.index = {e: i for i, e in enumerate(ids)}
        n_exp, n_cases, m = len(ids) + 1, len(cases), prior_strength  # + virtual unseen expert
        owner = np.array([self.index[c.expert_id] for c in cases], dtype=np.intp)
        ok = np.array([1.0 if c.resolved else 0.0 for c in cases])
        rated = np.array([c.rating is not None for c in cases], dtype=bool)
        r_val = np.array([float(c.rating) if c.rating is not None else 0.0 for c in cases])
        n = np.bincount(owner, minlength=n_exp).astype(np.float64)
        res = np.bincount(owner, weights=ok, minlength=n_exp)
        r_n = np.bincount(owner[rated], minlength=n_exp).astype(np.float64)
        r_sum = np.bincount(owner[rated], weights=r_val[rated], minlength=n_exp)
        self.resolve_prior = float(res.sum() / n.sum()) if n.sum() else 0.5
        self.rate = (res + m * self.resolve_prior) / (n + m)
        self.rating = ((r_sum + m * rating_prior) / (r_n + m) - 1.0) / 4.0
        recent = np.bincount(owner[int(n_cases * (1.0 - recent_share)):], minlength=n_exp)
        last = np.zeros(n_exp)
        if n_cases:
            np.maximum.at(last, owner, (np.arange(n_cases) + 1.0) / n_cases)
        self.static = np.column_stack([np.log1p(n), np.log1p(res), self.rate, self.rating,
                                       np.log1p(recent.astype(np.float64)), last])
        self.n, self.topic_prior = n, topic_prior

        # topics: counts, resolved counts and rating sums per (expert, topic); CSC for columns
        topic_ids: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        src: list[int] = []
        for k, (o, c) in enumerate(zip(owner, cases)):
            for t in set(c.topics):
                rows.append(int(o))
                cols.append(topic_ids.setdefault(t, len(topic_ids)))
                src.append(k)
        n_top = max(len(topic_ids), 1)
        r_arr, c_arr, k_arr = (np.array(v, dtype=np.intp) for v in (rows, cols, src))
        shape = (n_exp, n_top)
        self.topic_ids = topic_ids
        self.tcount = sp.csc_matrix((np.ones(len(rows)), (r_arr, c_arr)), shape=shape)
        self.tres = sp.csc_matrix((ok[k_arr], (r_arr, c_arr)), shape=shape)
        t_rating = np.where(rated[k_arr], (r_val[k_arr] - 1.0) / 4.0,
                            (rating_prior - 1.0) / 4.0)
        self.trat = sp.csc_matrix((t_rating, (r_arr, c_arr)), shape=shape)
        df = np.bincount(c_arr, minlength=n_top).astype(np.float64)
        self.topic_p = (df + 1.0) / (df.sum() + n_top)
        self.topic_idf = np.log((1.0 + n_cases) / (1.0 + df)) + 1.0

        # time: every case gets its rank in time order (``times``, else list order); per expert
        # (and per topic) the sorted ranks are one flat array of keys row * (n + 1) + rank, so
        # "cases of these experts before rank p" is one vectorised searchsorted
        when = (np.arange(n_cases, dtype=np.float64) if times is None
                else np.asarray(times, dtype=np.float64))
        if when.shape != (n_cases,):
            raise ValueError(f"times must have one entry per case; got shape {when.shape}")
        order = np.argsort(when, kind="stable")
        self.t_sorted = when[order]
        rank = np.empty(n_cases, dtype=np.intp)
        rank[order] = np.arange(n_cases)
        self.t_stride = n_cases + 1
        self.t_window = max(1, int(round(time_window * n_cases)))
        self.t_key = np.sort(owner * self.t_stride + rank)
        self.t_key_res = np.sort((owner * self.t_stride + rank)[ok > 0])
        self.t_topic_key = np.sort(c_arr * self.t_stride + rank[k_arr])
        self.t_topic_owner = owner[k_arr][np.argsort(c_arr * self.t_stride + rank[k_arr],
                                                     kind="stable")]

        # text: TF-IDF of case texts, quality-weighted normalised expert profiles, stored as a
        # term x expert matrix so a question costs one sparse (1 x terms) @ (terms x experts)
        self.tags_as_text, self.knn_k = tags_as_text, knn_k
        self.vec: TfidfVectorizer | None = TfidfVectorizer(sublinear_tf=True, dtype=np.float64)
        try:
            cm = self.vec.fit_transform([self._doc(c.text, c.topics) for c in cases]).tocsr()
            freeze(self.vec)  # its vocabulary as arrays, not a dict of terms (matching.tfidf.TermIndex)
        except ValueError:  # empty vocabulary
            self.vec, cm = None, sp.csr_matrix((n_cases, 1))
        weight = (1.0 + ok) * np.where(rated, 0.5 + (r_val - 1.0) / 4.0, 1.0)
        om = sp.csr_matrix((weight, (owner, np.arange(n_cases))), shape=(n_exp, n_cases))
        prof = (om @ cm).tocsr()
        norms = np.sqrt(np.asarray(prof.multiply(prof).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        self.profiles_t = (sp.diags(1.0 / norms) @ prof).T.tocsr()

        # kNN: past questions (consecutive cases with the same text and topics are one question)
        # as unit TF-IDF rows, stored term x question; each of the ``knn_k`` nearest questions
        # votes for the experts who handled it (0.25, 1 if resolved) with its squared cosine to
        # the new question; ``knn_near`` is the best cosine among the ones the expert resolved
        new_q = np.ones(n_cases, dtype=bool)
        for k in range(1, n_cases):
            prev, cur = cases[k - 1], cases[k]
            new_q[k] = (cur.text, cur.topics) != (prev.text, prev.topics)
        q_of = np.cumsum(new_q) - 1
        n_q = int(q_of[-1]) + 1 if n_cases else 0
        self.docs_t = cm[np.flatnonzero(new_q)].T.tocsr()
        self.votes = sp.csr_matrix((0.25 + 0.75 * ok, (q_of, owner)), shape=(n_q, n_exp))
        self.resolved_votes = sp.csr_matrix((ok, (q_of, owner)), shape=(n_q, n_exp))

    def rows(self, candidates: Iterable[ExpertId] | None) -> IntArray:
        """Row per candidate (unseen -> the virtual row); all experts when None."""
        if candidates is None:
            return np.arange(len(self.experts), dtype=np.intp)
        unseen = len(self.experts)
        return np.array([self.index.get(e, unseen) for e in candidates], dtype=np.intp)

    def matrix(self, text: str, topics: Sequence[str], idx: IntArray,
               at: float | None = None) -> FloatArray:
        """Feature matrix (len(idx) x len(FEATURES)) for one question asked at ``at``."""
        out = np.zeros((len(idx), len(FEATURES)))
        out[:, :_N_STATIC] = self.static[idx]
        cols = [self.topic_ids[t] for t in dict.fromkeys(topics) if t in self.topic_ids]
        tm = self.topic_prior
        if cols:
            tc_all, s_r_all, s_t_all = self._topic_columns(tuple(cols))
            tc = tc_all[idx]
            s_c = tc.sum(axis=1)
            s_r, s_t = s_r_all[idx], s_t_all[idx]
            p = self.topic_p[cols]
            out[:, 6] = np.log1p(s_c)
            out[:, 7] = np.log1p(s_r)
            out[:, 8] = (s_r + tm * self.rate[idx]) / (s_c + tm)
            focus = (tc + 5.0 * p) / (self.n[idx, None] + 5.0)
            out[:, 9] = np.mean(np.log(focus / p), axis=1)
            out[:, 10] = np.log1p(tc) @ self.topic_idf[cols] / len(cols)
            out[:, 12] = (s_t + tm * self.rating[idx]) / (s_c + tm)
        else:
            out[:, 8], out[:, 12] = self.rate[idx], self.rating[idx]
        out[:, 14] = np.log(np.maximum(self.rate[idx], 1e-3))
        out[:, 15] = np.log(np.maximum(out[:, 8], 1e-3))
        out[:, 13] = np.log(0.05)
        if self.vec is not None:
            # sparse products as numpy over the stored entries they touch, summed in the order
            # scipy sums them (bit-identical; scipy's per-call overhead was most of this block)
            q = transform_one(self.vec, self._doc(text, topics))
            out[:, 11] = row_times(q, self.profiles_t)[idx]
            sims = row_times(q, self.docs_t)
            top = (np.argpartition(-sims, self.knn_k)[:self.knn_k] if len(sims) > self.knn_k
                   else np.arange(len(sims)))
            n_cols = self.votes.shape[1]
            experts, weights, lengths = stored_entries(self.votes, top)
            votes = np.zeros(n_cols)  # sims[top] ** 2 @ votes[top]
            np.add.at(votes, experts, weights * np.repeat(sims[top] ** 2, lengths))
            out[:, 13] = np.log(0.05 + votes[idx])
            # per expert, the best cosine among the near questions they resolved (0 without one):
            # the max over the selected rows' stored entries, as the sparse max(axis=0) of
            # resolved_votes[top] * sims[top] gives it (the products are never negative)
            experts, resolved, lengths = stored_entries(self.resolved_votes, top)
            best = np.zeros(n_cols)
            np.maximum.at(best, experts, resolved * np.repeat(sims[top], lengths))
            out[:, 16] = best[idx]
        self._time_columns(out, idx, cols, at)
        return out

    TOPIC_MEMO = 256  # topic sets whose columns are kept (a brand has a few dozen topics)

    def _topic_columns(self, cols: tuple[int, ...]) -> tuple[FloatArray, FloatArray, FloatArray]:
        """For every expert row: the counts in these topic columns (dense) and the sums of their
        resolved counts and ratings; kept per topic set (selecting columns of the sparse matrices
        was half of a question's features)."""
        memo: dict[tuple[int, ...], tuple[FloatArray, FloatArray, FloatArray]] = self.__dict__.setdefault("_topic_memo", {})
        hit = memo.get(cols)
        if hit is None:
            c = list(cols)
            hit = (self.tcount[:, c].toarray(), np.asarray(self.tres[:, c].sum(axis=1)).ravel(),
                   np.asarray(self.trat[:, c].sum(axis=1)).ravel())
            if len(memo) >= self.TOPIC_MEMO:
                memo.clear()
            memo[cols] = hit
        return hit

    def __getstate__(self) -> dict[str, object]:
        """Pickled without the per-topic memo (it is rebuilt on use)."""
        state = dict(self.__dict__)
        state.pop("_topic_memo", None)
        return state

    def position(self, at: float | None) -> int:
        """Number of cases strictly before ``at`` (all of them when ``at`` is None)."""
        if at is None:
            return len(self.t_sorted)
        return int(np.searchsorted(self.t_sorted, at, side="left"))

    def _time_columns(self, out: FloatArray, idx: IntArray, cols: list[int],
                      at: float | None) -> None:
        """Fill the ``t_*`` columns from the cases strictly before ``at`` (see FEATURES)."""
        pos, w, stride = self.position(at), self.t_window, self.t_stride
        lo, lo_long = max(pos - w, 0), max(pos - 4 * w, 0)
        base = idx * stride
        # per expert: index in t_key of its first case, of its first case in each window and of
        # its first case at or after ``at`` (differences are counts)
        k0, k_lo, k_long, k_at = (np.searchsorted(self.t_key, base + p)
                                  for p in (0, lo, lo_long, pos))
        r_lo, r_at = (np.searchsorted(self.t_key_res, base + p) for p in (lo, pos))
        out[:, 17] = np.log1p(k_at - k0)
        out[:, 18] = np.log1p(k_at - k_lo)
        out[:, 19] = np.log1p(r_at - r_lo)
        out[:, 20] = np.log1p(k_at - k_long)
        # exponentially decayed distance (in cases of the whole history) to the expert's last
        # case before ``at``; 0 without one
        has = k_at > k0
        last = self.t_key[np.maximum(k_at - 1, 0)] - base if len(self.t_key) else base
        gap = np.where(has, pos - 1 - last, 0)
        out[:, 21] = np.where(has, np.exp(-gap / w), 0.0)
        if cols:
            keys = self.t_topic_key
            c = np.asarray(cols, dtype=np.intp) * stride
            a, b = np.searchsorted(keys, c + lo_long), np.searchsorted(keys, c + pos)
            owners = np.concatenate([self.t_topic_owner[i:j] for i, j in zip(a, b)])
            hits = np.bincount(owners, minlength=len(self.experts) + 1)
            out[:, 22] = np.log1p(hits[idx])

    def _doc(self, text: str, topics: Sequence[str]) -> str:
        """Question text for TF-IDF; with ``tags_as_text`` its topics as extra tokens."""
        if not self.tags_as_text or not topics:
            return text
        return text + " " + " ".join("tag_" + "".join(ch if ch.isalnum() else "_" for ch in t)
                                     for t in topics)
