"""How far can any ranker get on CQA setting (b)? A ceiling study on the *train* split only.

    python bench/ranker_ceiling.py [--sites dba history physics] [--seeds 3] [--folds 5]
                                   [--no-ranker]

Setting (b) asks: among the answerers of a question (those seen in the fitted history), who
wrote the accepted answer? This script estimates how much signal the data holds for that
question, independently of ExpertRanker's own learning procedure, so that a floor can be
compared with what is attainable.

For ``--seeds`` random splits of the train questions into ``--folds`` folds, each fold's
questions get, from the other folds' cases only:

* ``ranker``: ExpertRanker's 23 features (``matching.FEATURES``, profiles without weight
  learning; time features at the question's own time);
* ``extra``: per-expert signals from the raw answers that ``ResolvedCase`` does not carry or
  the ranker does not compute: shrunk acceptance rate overall and on the question's tags,
  mean log answer score, share of the expert's answers that had the question's top score,
  share answered first, median response delay (answer id minus question id), log answers and
  acceptances, log answers on the tags, and asker affinity (how often this asker accepted
  this expert before).

On these lists, nested inside the same folds (fitted on the other folds' lists, scored on
the fold's): a conditional logit (pairwise logistic regression, C = 1 and C = 0.01) on each
feature set, and gradient-boosted trees on pairwise differences of all features (a list is
scored by summed pairwise win probabilities). Baselines in the same run: the exact expected
P@1 of a random order, tag-count (with ties broken at random, in expectation, and by
str(id) as in ``TagCountRanker``) and, unless ``--no-ranker``, ExpertRanker as shipped (its own
learned candidate weights; this is ``bench/ranker_cv.py``'s number).

Last, for each site, the published test split's size n and the quoted floor: the chance
that a ranker whose true P@1 equals the best mean found here scores at least the floor on n
questions, and that its 95% interval (normal approximation) lies wholly above the floor.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy.stats import binom
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from matching import FEATURES, ExpertRanker  # noqa: E402
from matching.datasets import CQA_SITES, CQAQuestion, cqa_rows, load_cqa, missing_data  # noqa: E402
from matching.evaluation import TagCountRanker, published_questions  # noqa: E402

# (b) P@1 floors quoted in issue #4 (tag-count ranker)
FLOORS_B = {"dba": 0.611, "history": 0.521, "physics": 0.549}
EXTRA = ("acc_rate", "tag_acc_rate", "mean_log_score", "top_share", "first_share",
         "log_delay", "log_answers", "log_accepted", "log_tag_answers", "asker_affinity")
Lists = list[tuple[np.ndarray, int]]  # (candidate x feature matrix, accepted row)


class RawStats:
    """Per-expert statistics from the raw answers of a set of questions (see ``EXTRA``)."""

    def __init__(self, questions: list[dict[str, str]],
                 answers: dict[str, list[dict[str, str]]]) -> None:
        self.n: Counter[str] = Counter()
        self.acc: Counter[str] = Counter()
        self.first: Counter[str] = Counter()
        self.top: Counter[str] = Counter()
        self.log_score: Counter[str] = Counter()
        self.tags: dict[str, Counter[str]] = defaultdict(Counter)
        self.tag_acc: dict[str, Counter[str]] = defaultdict(Counter)
        self.delays: dict[str, list[int]] = defaultdict(list)
        self.affinity: Counter[tuple[str, str]] = Counter()
        for q in questions:
            rows = sorted(answers[q["question_id"]], key=lambda a: int(a["answer_id"]))
            best = max(int(a["score"]) for a in rows)
            for pos, a in enumerate(rows):
                e, ok = a["answerer_id"], a["accepted"] == "1"
                self.n[e] += 1
                self.acc[e] += ok
                self.first[e] += pos == 0
                self.top[e] += int(a["score"]) == best
                self.log_score[e] += float(np.log1p(max(int(a["score"]), 0)))
                self.delays[e].append(max(int(a["answer_id"]) - int(q["question_id"]), 0))
                for t in q["tags"].split("|"):
                    self.tags[e][t] += 1
                    self.tag_acc[e][t] += ok
                if ok:
                    self.affinity[(q["asker_id"], e)] += 1
        total = sum(self.n.values())
        self.prior = sum(self.acc.values()) / total if total else 0.5
        self.mean_log_score = (sum(self.log_score.values()) / total) if total else 0.0

    def row(self, e: str, tags: list[str], asker: str, m: float = 5.0) -> list[float]:
        """The ``EXTRA`` features of expert ``e`` for a question with ``tags`` by ``asker``."""
        n = self.n[e]
        rate = (self.acc[e] + m * self.prior) / (n + m)
        tn = sum(self.tags[e][t] for t in tags)
        ta = sum(self.tag_acc[e][t] for t in tags)
        return [rate, (ta + 3.0 * rate) / (tn + 3.0),
                (self.log_score[e] + m * self.mean_log_score) / (n + m),
                (self.top[e] + m * 0.5) / (n + m), (self.first[e] + m * 0.4) / (n + m),
                float(np.log1p(np.median(self.delays[e]))) if self.delays[e] else 0.0,
                float(np.log1p(n)), float(np.log1p(self.acc[e])), float(np.log1p(tn)),
                float(np.log1p(self.affinity[(asker, e)]))]


def p_at_1(lists: Lists, score: Callable[[np.ndarray], np.ndarray]) -> float:
    """P@1 of the accepted row, ties shared (the expectation of a random tie-break)."""
    total = 0.0
    for x, p in lists:
        s = score(x)
        if not (s > s[p]).any():
            total += 1.0 / float((s == s[p]).sum())
    return total / max(len(lists), 1)


def pairwise(lists: Lists) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Symmetric pairwise training set (accepted minus each other candidate) and its scale."""
    d = np.vstack([x[p] - np.delete(x, p, axis=0) for x, p in lists if len(x) > 1])
    scale = d.std(axis=0) + 1e-9
    return (np.vstack([d / scale, -d / scale]),
            np.r_[np.ones(len(d)), np.zeros(len(d))], scale)


def fit_scorer(model: str, train: Lists) -> Callable[[np.ndarray], np.ndarray]:
    """A list scorer fitted on ``train`` lists: conditional logit ("lr1", "lr.01") or "trees"."""
    x, y, scale = pairwise(train)
    if model == "trees":
        gb = HistGradientBoostingClassifier(max_iter=150, learning_rate=0.05, max_depth=3,
                                            random_state=0).fit(x, y)

        def trees(c: np.ndarray) -> np.ndarray:
            if len(c) == 1:
                return np.zeros(1)
            i, j = np.nonzero(~np.eye(len(c), dtype=bool))
            win = gb.predict_proba((c[i] - c[j]) / scale)[:, 1]
            return np.bincount(i, weights=win, minlength=len(c))
        return trees
    lr = LogisticRegression(C=1.0 if model == "lr1" else 0.01, fit_intercept=False,
                            max_iter=2000).fit(x, y)
    w = lr.coef_.ravel() / scale
    return lambda c: c @ w


def site_lists(site: str, seed: int, folds: int, with_ranker: bool
               ) -> tuple[Lists, np.ndarray, dict[str, float]]:
    """(b) lists of every train question with a known accepted answerer (features: ranker's
    then ``EXTRA``), their fold, and the per-question baselines summed over folds."""
    cases, train, _ = load_cqa(site)
    qrows, arows = cqa_rows(site)
    answers: dict[str, list[dict[str, str]]] = defaultdict(list)
    for a in arows:
        answers[a["question_id"]].append(a)
    raw = {int(q["question_id"]): q for q in qrows if q["split"] == "train"}
    spans: list[list[int]] = []  # cases of each train question (load_cqa keeps question order)
    for i, c in enumerate(cases):
        if i == 0 or (c.text, c.topics) != (cases[i - 1].text, cases[i - 1].topics):
            spans.append([])
        spans[-1].append(i)
    fold = np.random.default_rng(seed).integers(0, folds, len(train))
    lists: Lists = []
    of: list[int] = []
    base: dict[str, float] = defaultdict(float)
    for k in range(folds):
        inner = [cases[i] for q, ix in enumerate(spans) if fold[q] != k for i in ix]
        stats = RawStats([raw[q.question_id] for q, f in zip(train, fold) if f != k], answers)
        profiles = ExpertRanker(learn_weights=False).fit(inner)
        tag = TagCountRanker().fit(inner)
        held: list[CQAQuestion] = published_questions(
            [q for q, f in zip(train, fold) if f == k], set(profiles.experts_))
        shipped = ExpertRanker().fit(inner) if with_ranker else None
        for q in held:
            feats = profiles.features(q.text, q.topics, q.answerers, at=q.at)
            extra = [stats.row(e, q.topics, raw[q.question_id]["asker_id"]) for e in q.answerers]
            x = np.column_stack([np.column_stack([feats[f] for f in FEATURES]),
                                 np.array(extra)])
            p = q.answerers.index(q.accepted_answerer)
            lists.append((x, p))
            of.append(k)
            ranked = tag.rank(q.text, q.topics, q.answerers)  # ties by str(id)
            counts = dict(ranked)
            tag_scores = np.array([counts[e] for e in q.answerers])
            base["random"] += 1.0 / len(q.answerers)
            base["tag-count (random ties)"] += p_at_1([(tag_scores, p)], lambda s: s)
            base["tag-count (str(id) ties)"] += float(ranked[0][0] == q.accepted_answerer)
            if shipped is not None:
                base["ExpertRanker as shipped"] += float(
                    shipped.rank(q.text, q.topics, q.answerers, at=q.at)[0][0]
                    == q.accepted_answerer)
    return lists, np.array(of), base


def skip_if_missing(*sets: str) -> None:
    """Say which data is missing and stop (exit status 0: a skipped benchmark, not a failure)."""
    why = missing_data(*sets)
    if why:
        print(f"skipped: {why}", file=sys.stderr)
        raise SystemExit(0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sites", nargs="+", default=list(CQA_SITES))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--no-ranker", action="store_true",
                    help="skip the shipped ExpertRanker (a full fit per fold)")
    args = ap.parse_args()
    skip_if_missing("cqa")
    warnings.filterwarnings("ignore", category=RuntimeWarning)
    n_rank = len(FEATURES)
    sets = {"ranker": list(range(n_rank)),
            "extra": list(range(n_rank, n_rank + len(EXTRA))),
            "all": list(range(n_rank + len(EXTRA)))}
    models = [(s, m) for s in sets for m in ("lr1", "lr.01")] + [("all", "trees")]
    print("| site | method | (b) P@1 per seed | mean |\n|---|---|---|---|")
    for site in args.sites:
        t0 = time.perf_counter()
        results: dict[str, list[float]] = defaultdict(list)
        n_held = 0
        for seed in range(args.seeds):
            lists, of, base = site_lists(site, seed, args.folds, not args.no_ranker)
            n_held = len(lists)
            for name, total in base.items():
                results[name].append(total / len(lists))
            for fs, model in models:
                cols = sets[fs]
                hits = 0.0
                for k in range(args.folds):
                    tr = [(x[:, cols], p) for (x, p), f in zip(lists, of) if f != k]
                    te = [(x[:, cols], p) for (x, p), f in zip(lists, of) if f == k]
                    hits += p_at_1(te, fit_scorer(model, tr)) * len(te)
                results[f"{model} on {fs} features"].append(hits / len(lists))
        for name, vals in results.items():
            print(f"| {site} | {name} | {' '.join(f'{v:.3f}' for v in vals)} | "
                  f"{np.mean(vals):.3f} |", flush=True)
        learned = {k: v for k, v in results.items() if "features" in k or "shipped" in k}
        best_name, best = max(((k, float(np.mean(v))) for k, v in learned.items()),
                              key=lambda kv: kv[1])
        cases, _, test = load_cqa(site)
        n = len(published_questions(test, {c.expert_id for c in cases}))
        floor = FLOORS_B[site]
        need = next(k for k in range(n + 1)
                    if k / n - 1.96 * np.sqrt(k / n * (1 - k / n) / n) > floor)
        print(f"\n{site}: {n_held} held-out lists per seed, {time.perf_counter() - t0:.0f} s. "
              f"Best mean: {best:.3f} ({best_name}). Test split n = {n}, floor {floor}: "
              f"a ranker with true P@1 {best:.3f} scores >= the floor with probability "
              f"{binom.sf(int(np.ceil(floor * n)) - 1, n, best):.2f}, and has a 95% interval "
              f"above it (needs >= {need / n:.3f}) with probability "
              f"{binom.sf(need - 1, n, best):.2f}.\n", flush=True)


if __name__ == "__main__":
    main()
