"""Benchmark the matching library on the shared real data and print a Markdown report.

    python bench/bench_matching.py [--no-embeddings] [--quick] [--repeats N] [--out FILE]

Classifier: BANKING77 official split; accuracy, macro-F1, ECE, fit time, predictions/s for a
plain TF-IDF+LinearSVC baseline, TopicClassifier without and (if installed) with embeddings.
Ranker: Stack Exchange CQA (dba, history, physics); P@1 and MRR for (a) all train answerers and
(b) the question's own answerers, against a tag-count ranker and (b) a random order. Each test
question is ranked at its own time (``at`` = its id; cases are dated by their answer id); the
same model is also reported with no question time (``at=None``: as if asked after the whole
train history).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402
from sklearn.metrics import f1_score  # noqa: E402
from sklearn.pipeline import make_pipeline, make_union  # noqa: E402
from sklearn.svm import LinearSVC  # noqa: E402

from matching import ExpertRanker, TopicClassifier  # noqa: E402
from matching import embeddings as emb_module  # noqa: E402
from matching.datasets import CQA_SITES, load_banking77, load_cqa, missing_data  # noqa: E402
from matching.embeddings import embeddings_available  # noqa: E402
from matching.evaluation import (  # noqa: E402
    TagCountRanker,
    evaluate_routing,
    published_questions,
    random_answerers_baseline,
)

# Floors quoted in issue #4 (tag-count ranker): (a) MRR, (b) P@1, random (b) P@1.
FLOORS = {"dba": (0.237, 0.611, 0.519), "history": (0.163, 0.521, 0.424),
          "physics": (0.151, 0.549, 0.501)}


def baseline_model() -> Any:
    """Plain word+char TF-IDF + LinearSVC (no calibration)."""
    return make_pipeline(
        make_union(
            TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2),
        ),
        LinearSVC(random_state=0),
    )


def ece(proba: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error of the top-class probability."""
    conf = proba.max(axis=1)
    edges = np.linspace(0.0, 1.0, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            total += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return float(total)


def bench_classifier(name: str, make: Any, repeats: int, quick: bool) -> dict[str, Any]:
    """Fit/predict timings (median of repeats) and quality on BANKING77."""
    tr_x, tr_y = load_banking77("train")
    te_x, te_y = load_banking77("test")
    if quick:
        tr_x, tr_y = tr_x[::4], tr_y[::4]
    fits, cpus, preds = [], [], []
    model: Any = None
    pred: list[Any] = []
    for _ in range(repeats):
        model = make()
        t0, c0 = time.perf_counter(), time.process_time()
        model.fit(tr_x, tr_y)
        fits.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
        t0 = time.perf_counter()
        pred = list(model.predict(te_x))
        preds.append(time.perf_counter() - t0)
    correct = np.array([p == y for p, y in zip(pred, te_y)])
    row: dict[str, Any] = {
        "model": name,
        "accuracy": float(correct.mean()),
        "macro_f1": float(f1_score(te_y, pred, average="macro")),
        "fit_s": statistics.median(fits),
        "fit_cpu": statistics.median(cpus),
        "pred_per_s": len(te_x) / statistics.median(preds),
        "ece": None,
    }
    if hasattr(model, "predict_proba"):
        row["ece"] = ece(model.predict_proba(te_x), correct)
        row["temperature"] = model.temperature_
    return row


def memoise_encoder() -> None:
    """Encode each distinct text once per process: the second embedding model reuses the
    first one's vectors, so its fit time excludes encoding (marked * in the report)."""
    real = emb_module.encode
    memo: dict[tuple[str | None, str], Any] = {}

    def encode(texts: Any, model_path: str | None = None) -> Any:
        todo = list(dict.fromkeys(t for t in texts if (model_path, t) not in memo))
        if todo:
            for t, v in zip(todo, real(todo, model_path)):
                memo[(model_path, t)] = v
        if not len(texts):
            return real([], model_path)
        return np.vstack([memo[(model_path, t)] for t in texts])

    emb_module.encode = encode


def bench_ranker() -> list[dict[str, Any]]:
    """P@1/MRR per site and setting for ExpertRanker, tag-count and random."""
    rows = []
    for site in CQA_SITES:
        cases, _, all_test = load_cqa(site)
        test = published_questions(all_test, {c.expert_id for c in cases})
        t0 = time.perf_counter()
        ours = ExpertRanker().fit(cases)
        fit_s = time.perf_counter() - t0
        base = TagCountRanker().fit(cases)
        t0 = time.perf_counter()
        res = {
            "a_ours": evaluate_routing(ours, test, "all"),
            "b_ours": evaluate_routing(ours, test, "answerers"),
        }
        per_q_ms = (time.perf_counter() - t0) / (2 * len(test)) * 1e3
        res["a_notime"] = evaluate_routing(ours, test, "all", use_time=False)
        res["b_notime"] = evaluate_routing(ours, test, "answerers", use_time=False)
        res["a_tag"] = evaluate_routing(base, test, "all")
        res["b_tag"] = evaluate_routing(base, test, "answerers")
        res["b_rand"] = random_answerers_baseline(test)
        res["a_rand"] = {"p@1": 1.0 / len(base.experts_),
                         "mrr": sum(1.0 / k for k in range(1, len(base.experts_) + 1))
                         / len(base.experts_)}
        rows.append({"site": site, "cases": len(cases), "test": len(test), "fit_s": fit_s,
                     "all_test": len(all_test), "weights": ours.weights_, "cand_weights": ours.candidate_weights_,
                     "rank_ms": per_q_ms, **res})
    return rows


def bench_ranker_no_times() -> list[dict[str, Any]]:
    """P@1/MRR per site and setting for ExpertRanker fitted and queried without any time
    (``ResolvedCase.at`` and ``rank(at=)`` left out), against tag-count in the same run."""
    rows = []
    for site in CQA_SITES:
        cases, _, all_test = load_cqa(site, case_time="none")
        test = published_questions(all_test, {c.expert_id for c in cases})
        t0, c0 = time.perf_counter(), time.process_time()
        ours = ExpertRanker().fit(cases)
        fit_s, fit_cpu = time.perf_counter() - t0, time.process_time() - c0
        base = TagCountRanker().fit(cases)
        row: dict[str, Any] = {"site": site, "fit_s": fit_s, "fit_cpu": fit_cpu,
                               "fallback": dict(getattr(ours, "tag_count_fallback_", {}))}
        for s, setting in (("a", "all"), ("b", "answerers")):
            row[f"{s}_ours"] = evaluate_routing(ours, test, setting, use_time=False)
            row[f"{s}_tag"] = evaluate_routing(base, test, setting, use_time=False)
        rows.append(row)
        print(row, file=sys.stderr, flush=True)
    return rows


def report_no_times(rows: list[dict[str, Any]]) -> str:
    """Markdown table of the no-times ranker against tag-count."""
    out = ["### Expert ranker without times (published test split)", "",
           "`ExpertRanker` fitted on cases without `at` and queried without `at` "
           "(`load_cqa(case_time=\"none\")`); tag-count in the same run.", "",
           "| site | setting | ExpertRanker P@1 | tag-count P@1 | ExpertRanker MRR | "
           "tag-count MRR | ours / tag-count (MRR) | tag-count fallback | fit s (wall / CPU) |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        for s, label in (("a", "(a) all"), ("b", "(b) own answerers")):
            o, t = r[f"{s}_ours"], r[f"{s}_tag"]
            used = r["fallback"].get("all" if s == "a" else "candidates", False)
            out.append(f"| {r['site']} | {label} | {o['p@1']:.3f} | {t['p@1']:.3f} | "
                       f"{o['mrr']:.3f} | {t['mrr']:.3f} | {o['mrr'] / t['mrr']:.2f}x | "
                       f"{'yes' if used else 'no'} | {r['fit_s']:.1f} / {r['fit_cpu']:.1f} |")
    return "\n".join(out) + "\n"


def machine() -> str:
    """One line of machine facts."""
    try:
        import torch

        torch_v = f", torch {torch.__version__} ({torch.get_num_threads()} threads)"
    except ImportError:
        torch_v = ", torch not installed"
    import sklearn

    return (f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"numpy {np.__version__}, scikit-learn {sklearn.__version__}{torch_v}")


def report(clf_rows: list[dict[str, Any]], rank_rows: list[dict[str, Any]], args: Any) -> str:
    """Render the Markdown 'Matching' section."""
    base = clf_rows[0] if clf_rows else {"fit_s": 1.0}
    out = ["## Matching", "", f"Command: `python bench/bench_matching.py"
           f"{' --quick' if args.quick else ''}{' --no-embeddings' if args.no_embeddings else ''}"
           f" --repeats {args.repeats}`  ", f"Machine: {machine()}", "",
           "### Topic classifier (BANKING77, official test split, 3,080 questions)", "",
           f"Fit on {'a quarter of ' if args.quick else ''}the 10,003 training questions. "
           f"Times are medians of {args.repeats} run(s); fit time with embeddings includes "
           "encoding the training texts (and loading the model on the first run; * : the "
           "vectors of the row above are reused, so encoding is excluded). CPU: process time "
           "of the fit.", "",
           "| model | accuracy | macro-F1 | ECE | fit s (wall) | fit s (CPU) | fit vs baseline "
           "(wall) | predictions/s |",
           "|---|---|---|---|---|---|---|---|"]
    for r in clf_rows:
        e = "n/a" if r["ece"] is None else f"{r['ece']:.3f}"
        out.append(f"| {r['model']} | {100 * r['accuracy']:.2f}% | {r['macro_f1']:.4f} | {e} | "
                   f"{r['fit_s']:.1f} | {r['fit_cpu']:.1f} | {r['fit_s'] / base['fit_s']:.1f}x | "
                   f"{r['pred_per_s']:,.0f} |")
    out += ["", "Reference (Casanueva et al. 2020): fine-tuned BERT 93.66%, USE+ConveRT 93.36%.",
            "", "### Expert ranker (Stack Exchange CQA, published test split)", "",
            "Published protocol (matching.evaluation.published_questions): profiles from train "
            "questions only (a case per answer: resolved = accepted, rating from the score); test "
            "questions whose accepted answerer answered in train; (a) rank all train answerers, "
            "(b) rank the question's answerers who answered in train. Tag-count and random are "
            "computed in the same run; floors are the numbers quoted in issue #4.", "",
            "| site | setting | ExpertRanker P@1 | tag-count P@1 | random P@1 | "
            "ExpertRanker MRR | tag-count MRR | random MRR | quoted floor | ours / floor | "
            "ours / our tag-count |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rank_rows:
        fa, fb, _ = FLOORS[r["site"]]
        for s, label in (("a", "(a) all"), ("b", "(b) own answerers")):
            o, t, rnd = r[f"{s}_ours"], r[f"{s}_tag"], r[f"{s}_rand"]
            key, floor = ("mrr", fa) if s == "a" else ("p@1", fb)
            out.append(f"| {r['site']} | {label} | {o['p@1']:.3f} | {t['p@1']:.3f} | "
                       f"{rnd['p@1']:.3f} | {o['mrr']:.3f} | {t['mrr']:.3f} | {rnd['mrr']:.3f} | "
                       f"{key} {floor:.3f} | {o[key] / floor:.2f}x | {o[key] / t[key]:.2f}x |")
    out += ["", "Same model, questions ranked with no time (`at=None`: as if asked after the "
            "whole train history; the app's path until it passes `at`):", "",
            "| site | (a) MRR at=None | (a) P@1 at=None | (b) P@1 at=None | (b) MRR at=None |",
            "|---|---|---|---|---|"]
    for r in rank_rows:
        a, b = r["a_notime"], r["b_notime"]
        out.append(f"| {r['site']} | {a['mrr']:.3f} | {a['p@1']:.3f} | {b['p@1']:.3f} | "
                   f"{b['mrr']:.3f} |")
    out += ["", "| site | train cases | test questions (of all) | fit s (incl. weight "
            "learning) | ms per ranked question (avg of (a) and (b)) |", "|---|---|---|---|---|"]
    for r in rank_rows:
        out.append(f"| {r['site']} | {r['cases']} | {r['test']} ({r['all_test']}) | "
                   f"{r['fit_s']:.2f} | {r['rank_ms']:.2f} |")
    out += ["", "Learned weights per site: "]
    for r in rank_rows:
        out.append(f"* {r['site']}: " + ", ".join(f"{k} {v:.2f}" for k, v in r["weights"].items()))
    out += ["", "Candidate-list weights (rank(..., candidates=[...])) per site: "]
    for r in rank_rows:
        out.append(f"* {r['site']}: "
                   + ", ".join(f"{k} {v:.2f}" for k, v in r["cand_weights"].items()))
    return "\n".join(out) + "\n"


def skip_if_missing(*sets: str) -> None:
    """Say which data is missing and stop (exit status 0: a skipped benchmark, not a failure)."""
    why = missing_data(*sets)
    if why:
        print(f"skipped: {why}", file=sys.stderr)
        raise SystemExit(0)


def main() -> None:
    """Parse options, run the benchmarks, print and optionally write the report."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--no-embeddings", action="store_true", help="skip the embedding model")
    ap.add_argument("--quick", action="store_true", help="quarter of the training data")
    ap.add_argument("--repeats", type=int, default=1, help="timed runs per classifier")
    ap.add_argument("--out", type=Path, help="also write the Markdown report here")
    ap.add_argument("--skip-ranker", action="store_true")
    ap.add_argument("--ranker-only", action="store_true", help="skip the classifier")
    ap.add_argument("--ranker-no-times", action="store_true",
                    help="only the ranker fitted and queried without times, vs tag-count")
    args = ap.parse_args()
    if args.ranker_no_times:
        skip_if_missing("cqa")
        text = report_no_times(bench_ranker_no_times())
        print(text)
        if args.out:
            args.out.write_text(text, encoding="utf-8")
        return
    needed = ([] if args.ranker_only else ["banking77"]) + ([] if args.skip_ranker else ["cqa"])
    skip_if_missing(*needed)
    models: list[tuple[str, Any]] = [
        ("TF-IDF + LinearSVC baseline", baseline_model),
        ("TopicClassifier(embeddings='none')", lambda: TopicClassifier(embeddings="none")),
    ]
    if not args.no_embeddings and embeddings_available():
        models.append(("TopicClassifier(embeddings='auto'), MiniLM",
                       lambda: TopicClassifier(embeddings="required")))
        models.append(("same with an RBF map of the embeddings (embedding_rbf=1000)*",
                       lambda: TopicClassifier(embeddings="required", embedding_rbf=1000)))
        memoise_encoder()
    clf_rows = []
    for name, make in ([] if args.ranker_only else models):
        clf_rows.append(bench_classifier(name, make, args.repeats, args.quick))
        print(clf_rows[-1], file=sys.stderr, flush=True)
    rank_rows = [] if args.skip_ranker else bench_ranker()
    text = report(clf_rows, rank_rows, args)
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
