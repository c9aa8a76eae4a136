"""How the ranker fits weight vectors on its learning lists (feature matrix, resolver row, rows
of the question's own experts): pairwise logistic regressions and coordinate ascent on the mean
reciprocal rank."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression

from matching.expert_profiles import FloatArray, IntArray
from matching.list_scores import mrr_all

Lists = list[tuple[FloatArray, int, IntArray]]


def pair_lr(diffs: FloatArray, c: float, init: FloatArray | None = None) -> FloatArray:
    """Weights of a pairwise logistic regression: P(first of the pair is better) from diffs.

    ``init``: starting weights for the solver (the problem is strictly convex, so only the
    path to the one optimum changes, and its length)."""
    x = np.vstack([diffs, -diffs])
    y = np.r_[np.ones(len(diffs)), np.zeros(len(diffs))]
    model = LogisticRegression(C=c, fit_intercept=False, max_iter=1000,
                               warm_start=init is not None)
    if init is not None:
        model.coef_ = init.reshape(1, -1).copy()
    return np.asarray(model.fit(x, y).coef_, dtype=np.float64).ravel()


def fit_all(z: Lists, rng: np.random.Generator, n_negatives: int,
            rounds: int, init: tuple[FloatArray, FloatArray] | None = None
            ) -> tuple[FloatArray, tuple[FloatArray, FloatArray]]:
    """All-experts weights on lists ``z``: pairwise logistic regression of the resolver
    against random experts and the question's other experts, again with the first model's
    top-scored experts as hard negatives, then ``rounds`` of coordinate ascent on the mean
    reciprocal rank. Also returns the two regressions' weights; ``init`` starts the
    solvers there (a refit on part of the same lists converges in fewer steps)."""

    def all_pairs(w: FloatArray | None) -> FloatArray:
        out = []
        for x, p, own in z:
            others = np.delete(np.arange(len(x)), p)
            neg = set(rng.choice(others, min(n_negatives, len(others)), replace=False))
            if w is not None:
                s = x @ w.astype(np.float32)
                s[p] = -np.inf
                neg |= set(np.argsort(-s)[:n_negatives].tolist())
            neg |= {o for o in own if o != p}
            neg_ix = np.array(sorted(neg), dtype=np.intp)
            out.append((x[p] - x[neg_ix]) / np.sqrt(len(neg_ix)))
        return np.vstack(out).astype(np.float64)

    w1 = pair_lr(all_pairs(None), 1.0, None if init is None else init[0])
    w2 = pair_lr(all_pairs(w1), 1.0, None if init is None else init[1])
    return ascend(z, w2 / np.abs(w2).max(), rounds), (w1, w2)


def own_lr(z: Lists, which: list[int]) -> FloatArray:
    """Pairwise LR of the resolver against the question's other experts (lists ``which``)."""
    diffs = [z[i][0][z[i][1]] - z[i][0][z[i][2][z[i][2] != z[i][1]]] for i in which]
    return pair_lr(np.vstack(diffs).astype(np.float64), 0.01)


def ascend(z: Lists, w: FloatArray, rounds: int) -> FloatArray:
    """Coordinate ascent on the mean reciprocal rank among all experts (additive steps)."""
    best = mrr_all(z, w)
    for _ in range(rounds):
        improved = False
        for j in range(len(w)):
            for step in (0.5, -0.5, 0.125, -0.125):
                trial = w.copy()
                trial[j] += step * np.abs(w).max()
                val = mrr_all(z, trial)
                if val > best + 1e-9:
                    best, w, improved = val, trial, True
        if not improved:
            break
    return w
