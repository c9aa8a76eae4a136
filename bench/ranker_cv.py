"""Out-of-fold validation of ExpertRanker on the CQA *train* split only (never the test split).

    python bench/ranker_cv.py [--sites dba history physics] [--folds 5] [--seed 0]
                              [--case-time answer|question|none]

Train questions are split into random folds; for each fold the ranker (and the tag-count
baseline) is fitted on the cases of the other folds and evaluated on the fold's questions with
the published protocol (accepted answerer seen in the fitted cases; (b) candidates = the
question's answerers seen there). Prints per-site (a) MRR / P@1 and (b) P@1 / MRR, pooled over
folds; "ours" ranks each question at its own time (``at`` = its id, only cases before it count
in the time features), "ours at=None" ranks the same model with no question time (as if asked
after the whole history). This is what ranker changes are compared on before the test split is
looked at.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from matching import ExpertRanker  # noqa: E402
from matching.datasets import CQA_SITES, CQAQuestion, load_cqa, missing_data  # noqa: E402
from matching.evaluation import TagCountRanker, evaluate_routing, published_questions  # noqa: E402


def skip_if_missing(*sets: str) -> None:
    """Say which data is missing and stop (exit status 0: a skipped benchmark, not a failure)."""
    why = missing_data(*sets)
    if why:
        print(f"skipped: {why}", file=sys.stderr)
        raise SystemExit(0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sites", nargs="+", default=list(CQA_SITES))
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--params", default="{}", help="ExpertRanker keyword arguments as JSON")
    ap.add_argument("--ratings", default="log2", choices=("log2", "quantile"),
                    help="score -> rating mapping of load_cqa")
    ap.add_argument("--case-time", default="answer", choices=("answer", "question", "none"),
                    help="what load_cqa dates cases by (none: no times at all)")
    args = ap.parse_args()
    skip_if_missing("cqa")
    for site in args.sites:
        cases, train, _ = load_cqa(site, ratings=args.ratings, case_time=args.case_time)
        # cases are grouped per train question, in question order (see load_cqa)
        by_q: list[list[int]] = []
        for i, c in enumerate(cases):
            if i == 0 or (c.text, c.topics) != (cases[i - 1].text, cases[i - 1].topics):
                by_q.append([])
            by_q[-1].append(i)
        assert len(by_q) == len(train)
        fold = np.random.default_rng(args.seed).integers(0, args.folds, len(train))
        tot: dict[str, list[float]] = {}
        fit_s = []
        for k in range(args.folds):
            inner = [cases[i] for q, ix in enumerate(by_q) if fold[q] != k for i in ix]
            held: list[CQAQuestion] = [q for q, f in zip(train, fold) if f == k]
            test = published_questions(held, {c.expert_id for c in inner})
            t0 = time.perf_counter()
            ours = ExpertRanker(**json.loads(args.params)).fit(inner)
            fit_s.append(time.perf_counter() - t0)
            fallback = getattr(ours, "tag_count_fallback_", {})
            for setting, used in fallback.items():
                tot.setdefault(f"fallback_{setting}", []).append(float(used))
            tag = TagCountRanker().fit(inner)
            for name, model, use_time in (("ours", ours, True), ("notime", ours, False),
                                          ("tag", tag, True)):
                for setting in ("all", "answerers"):
                    r = evaluate_routing(model, test, setting, use_time)
                    for m, v in r.items():
                        tot.setdefault(f"{name}_{setting}_{m}", []).append(v * len(test))
            tot.setdefault("n", []).append(len(test))
        n = sum(tot["n"])

        def g(key: str, tot: dict[str, list[float]] = tot, n: int = n) -> float:
            return sum(tot[key]) / n

        print(f"{site:8s} n={n:5d} fit {np.median(fit_s):5.1f}s | "
              f"(a) MRR ours {g('ours_all_mrr'):.3f} tag {g('tag_all_mrr'):.3f} | "
              f"(a) P@1 ours {g('ours_all_p@1'):.3f} tag {g('tag_all_p@1'):.3f} | "
              f"(b) P@1 ours {g('ours_answerers_p@1'):.3f} tag {g('tag_answerers_p@1'):.3f} | "
              f"(b) MRR ours {g('ours_answerers_mrr'):.3f} tag {g('tag_answerers_mrr'):.3f} | "
              f"at=None: (a) MRR {g('notime_all_mrr'):.3f} (b) P@1 {g('notime_answerers_p@1'):.3f}"
              f" | tag-count fallback in folds: (a) {sum(tot.get('fallback_all', [])):.0f} "
              f"(b) {sum(tot.get('fallback_candidates', [])):.0f} of {args.folds}",
              flush=True)


if __name__ == "__main__":
    main()
