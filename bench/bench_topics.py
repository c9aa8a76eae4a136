"""TopicClassifier beyond plain accuracy: abstention ("none of our topics") and few examples.

    python bench/bench_topics.py [--no-embeddings] [--draws 3] [--leave-out 10] [--out FILE]
                                 [--skip-abstain] [--skip-fewshot]

Needs the shared BANKING77 data (docs/matching.md, "Evaluation helpers"); without it, says so
and exits 0 (skipped).

Abstention, leave-k-topics-out: for each draw, ``--leave-out`` of the 77 intents are removed
from training; the classifier (``unknown_label`` set, threshold chosen out-of-fold on the
training rows only, budget one point of in-scope accuracy) is fitted on the training rows of
the other intents and evaluated on the official test split: in-scope accuracy (an abstention on
an in-scope question counts as wrong), the same without abstention, and out-of-scope recall
(share of the left-out intents' test questions that get the unknown label). The curve sweeps
the threshold over the same predictions.

Few examples: for 5, 10 and 20 training questions per intent (``--draws`` random draws each),
accuracy on the whole test split of a plain TF-IDF + LinearSVC baseline (same run) and of
TopicClassifier without and with the embedding extra. With embeddings, sentence vectors are
memoised per text inside this process, so the fit times here exclude encoding (the full-data
fit time with encoding is in bench_matching.py).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_matching import baseline_model, machine, skip_if_missing  # noqa: E402
from matching import TopicClassifier  # noqa: E402
from matching import embeddings as emb  # noqa: E402
from matching.datasets import load_banking77  # noqa: E402

UNKNOWN = "_none"


def memoise_encoder(vectors: Path | None = None) -> None:
    """Encode each distinct text once per process (the bench fits many models on one set);
    ``vectors``: a folder with ``emb_train.npy`` / ``emb_test.npy``, the bundled model's vectors
    of the BANKING77 splits in file order, to start from (encoding them takes minutes)."""
    real = emb.encode
    memo: dict[tuple[str | None, str], np.ndarray] = {}
    for split in ("train", "test"):
        path = vectors / f"emb_{split}.npy" if vectors else None
        if path is not None and path.exists():
            texts, _ = load_banking77(split)
            arr = np.load(path).astype(np.float64)
            assert arr.shape[0] == len(texts), f"{path} does not match the {split} split"
            for t, v in zip(texts, arr):
                memo[(None, t)] = v

    def encode(texts: Sequence[str], model_path: str | None = None) -> np.ndarray:
        todo = list(dict.fromkeys(t for t in texts if (model_path, t) not in memo))
        if todo:
            for t, v in zip(todo, real(todo, model_path)):
                memo[(model_path, t)] = v
        if not texts:
            return real([], model_path)
        return np.vstack([memo[(model_path, t)] for t in texts])

    emb.encode = encode  # type: ignore[assignment]


def models(with_embeddings: bool) -> list[tuple[str, Callable[[], Any]]]:
    out: list[tuple[str, Callable[[], Any]]] = [
        ("TF-IDF + LinearSVC baseline", baseline_model),
        ("TopicClassifier, no extra", lambda: TopicClassifier(embeddings="none")),
    ]
    if with_embeddings:
        out.append(("TopicClassifier, MiniLM", lambda: TopicClassifier(embeddings="required")))
    return out


def abstain(draws: int, leave_out: int, with_embeddings: bool) -> list[str]:
    tr_x, tr_y = load_banking77("train")
    te_x, te_y = load_banking77("test")
    intents = sorted(set(tr_y))
    grid = [0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95]
    variants = [("no extra", "none")] + ([("MiniLM", "required")] if with_embeddings else [])
    lines = ["### Questions that fit no topic (BANKING77, leave-k-intents-out)", "",
             f"{leave_out} of 77 intents left out of training per draw, {draws} draws (seeds "
             f"0..{draws - 1}); threshold chosen out-of-fold on the training rows (budget: one "
             "point of in-scope accuracy); evaluated on the official test split (in-scope: "
             "the kept intents' test questions; out-of-scope: the left-out intents').", "",
             "| model | in-scope accuracy, no abstention | in-scope accuracy at the chosen "
             "threshold | drop | out-of-scope recall | threshold (mean) | fit s (mean) |",
             "|---|---|---|---|---|---|---|"]
    curves: dict[str, list[list[tuple[float, float]]]] = {}
    for name, mode in variants:
        rows = []
        for seed in range(draws):
            rng = np.random.default_rng(seed)
            out = set(rng.choice(intents, leave_out, replace=False).tolist())
            x = [t for t, y in zip(tr_x, tr_y) if y not in out]
            y = [y for y in tr_y if y not in out]
            t0 = time.perf_counter()
            clf = TopicClassifier(embeddings=mode, unknown_label=UNKNOWN).fit(x, y)
            fit_s = time.perf_counter() - t0
            scoped = clf.predict_with_scope(te_x)
            ins = np.array([t not in out for t in te_y])
            best = np.array([lab for lab, _, _ in scoped], dtype=object)
            conf = np.array([c for _, _, c in scoped])
            top = np.array([str(c) for c in clf.classes_[np.argmax(clf.predict_proba(te_x), 1)]],
                           dtype=object)
            right = (top == np.array(te_y, dtype=object)) & ins
            rows.append((right[ins].mean(), ((best != UNKNOWN) & right)[ins].mean(),
                         (best[~ins] == UNKNOWN).mean(), clf.threshold_, fit_s))
            curves.setdefault(name, []).append(
                [((right & (conf >= g))[ins].mean(), (conf[~ins] < g).mean()) for g in grid])
        m = np.array(rows).mean(axis=0)
        lines.append(f"| TopicClassifier, {name} | {100 * m[0]:.2f}% | {100 * m[1]:.2f}% | "
                     f"{100 * (m[0] - m[1]):.2f} pts | {100 * m[2]:.1f}% | {m[3]:.3f} | "
                     f"{m[4]:.1f} |")
    lines += ["", "Curve (mean over draws): in-scope accuracy / out-of-scope recall at each "
              "confidence threshold.", "",
              "| threshold | " + " | ".join(curves) + " |", "|---|" + "---|" * len(curves)]
    for i, g in enumerate(grid):
        cells = []
        for name in curves:
            acc = statistics.mean(c[i][0] for c in curves[name])
            rec = statistics.mean(c[i][1] for c in curves[name])
            cells.append(f"{100 * acc:.1f}% / {100 * rec:.1f}%")
        lines.append(f"| {g:.2f} | " + " | ".join(cells) + " |")
    return lines


def fewshot(draws: int, with_embeddings: bool, shots: Sequence[int] = (5, 10, 20)) -> list[str]:
    tr_x, tr_y = load_banking77("train")
    te_x, te_y = load_banking77("test")
    by_label: dict[str, list[int]] = {}
    for i, y in enumerate(tr_y):
        by_label.setdefault(y, []).append(i)
    lines = ["### Few examples per topic (BANKING77)", "",
             f"n training questions per intent drawn at random ({draws} draws, seeds 0.."
             f"{draws - 1}), accuracy on the whole official test split (3,080): mean, and "
             "min–max over draws.", "",
             "| model | " + " | ".join(f"{n} per topic" for n in shots) + " | fit s at "
             f"{shots[-1]} |", "|---|" + "---|" * (len(shots) + 1)]
    for name, make in models(with_embeddings):
        cells, fit_s = [], 0.0
        for n in shots:
            accs = []
            for seed in range(draws):
                rng = np.random.default_rng(1000 * n + seed)
                idx = [i for ix in by_label.values()
                       for i in rng.choice(ix, min(n, len(ix)), replace=False)]
                t0 = time.perf_counter()
                clf = make().fit([tr_x[i] for i in idx], [tr_y[i] for i in idx])
                fit_s = time.perf_counter() - t0
                pred = clf.predict(te_x)
                accs.append(float(np.mean([p == y for p, y in zip(pred, te_y)])))
            cells.append(f"{100 * statistics.mean(accs):.1f}% ({100 * min(accs):.1f}–"
                         f"{100 * max(accs):.1f})")
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {fit_s:.1f} |")
    return lines


def fewshot_finetune(draws: int, shots: Sequence[int] = (5, 10, 20), n_pairs: int = 1000,
                     test_per_topic: int = 0) -> list[str]:
    """Frozen encoder vs contrastively fine-tuned encoder (bench/finetune.py), same draws, same
    process; ``test_per_topic`` > 0 evaluates on that many test questions per intent (seeded)
    instead of the whole test split, to keep re-encoding affordable on a small machine."""
    import tempfile

    from bench.finetune import fine_tune

    tr_x, tr_y = load_banking77("train")
    te_x, te_y = load_banking77("test")
    if test_per_topic:
        rng = np.random.default_rng(12345)
        keep = sorted(i for lab in sorted(set(te_y))
                      for i in rng.choice([j for j, t in enumerate(te_y) if t == lab],
                                          test_per_topic, replace=False))
        te_x, te_y = [te_x[i] for i in keep], [te_y[i] for i in keep]
    by_label: dict[str, list[int]] = {}
    for i, y in enumerate(tr_y):
        by_label.setdefault(y, []).append(i)
    res: dict[tuple[str, int], list[tuple[float, float, float]]] = {}
    for n in shots:
        for seed in range(draws):
            rng = np.random.default_rng(1000 * n + seed)
            idx = [i for ix in by_label.values()
                   for i in rng.choice(ix, min(n, len(ix)), replace=False)]
            x, y = [tr_x[i] for i in idx], [tr_y[i] for i in idx]
            for name in ("frozen", "fine-tuned"):
                w0, c0 = time.perf_counter(), time.process_time()
                with tempfile.TemporaryDirectory() as tmp:
                    path = None
                    if name == "fine-tuned":
                        path = fine_tune(x, y, tmp, n_pairs=n_pairs, seed=seed)
                    clf = TopicClassifier(embeddings="required", embedding_model=path).fit(x, y)
                    fit = (time.perf_counter() - w0, time.process_time() - c0)
                    acc = float(np.mean([p == t for p, t in zip(clf.predict(te_x), te_y)]))
                    if path is not None:
                        emb._cache.pop(path, None)  # free the fine-tuned model
                res.setdefault((name, n), []).append((acc, *fit))
                print(f"few-shot {name} n={n} seed={seed}: {100 * acc:.1f}% fit wall "
                      f"{fit[0]:.0f}s cpu {fit[1]:.0f}s", file=sys.stderr, flush=True)
    scope = (f"{len(te_x)} test questions ({test_per_topic} per intent, seeded)"
             if test_per_topic else "the whole official test split")
    lines = ["### Few examples: frozen vs fine-tuned encoder (BANKING77)", "",
             f"{draws} draws per size, {n_pairs} contrastive pairs, 1 epoch; accuracy on "
             f"{scope}: median (min–max); fit = fine-tuning + encoding + TopicClassifier.fit, "
             "wall / CPU seconds (median).", "",
             "| encoder | " + " | ".join(f"{n} per topic" for n in shots) + " | " +
             " | ".join(f"fit s at {n} (wall / CPU)" for n in shots) + " |",
             "|---|" + "---|" * (2 * len(shots))]
    for name in ("frozen", "fine-tuned"):
        accs = [[r[0] for r in res[(name, n)]] for n in shots]
        fits = [res[(name, n)] for n in shots]
        lines.append(f"| MiniLM, {name} | " + " | ".join(
            f"{100 * statistics.median(a):.1f}% ({100 * min(a):.1f}–{100 * max(a):.1f})"
            for a in accs) + " | " + " | ".join(
            f"{statistics.median(r[1] for r in f):.0f} / {statistics.median(r[2] for r in f):.0f}"
            for f in fits) + " |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--no-embeddings", action="store_true")
    ap.add_argument("--draws", type=int, default=3)
    ap.add_argument("--leave-out", type=int, default=10)
    ap.add_argument("--skip-abstain", action="store_true")
    ap.add_argument("--skip-fewshot", action="store_true")
    ap.add_argument("--fine-tune", action="store_true",
                    help="few examples: frozen vs contrastively fine-tuned encoder")
    ap.add_argument("--pairs", type=int, default=1000)
    ap.add_argument("--test-per-topic", type=int, default=0)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--vectors", type=Path, help="folder of precomputed emb_{train,test}.npy")
    args = ap.parse_args()
    skip_if_missing("banking77")
    with_emb = not args.no_embeddings and emb.embeddings_available()
    if with_emb:
        memoise_encoder(args.vectors)
    lines = ["## Topic classifier: abstention and few examples", "",
             f"Command: `python bench/bench_topics.py --draws {args.draws} --leave-out "
             f"{args.leave_out}{' --no-embeddings' if args.no_embeddings else ''}`  ",
             f"Machine: {machine()}", ""]
    if not args.skip_abstain:
        lines += abstain(args.draws, args.leave_out, with_emb) + [""]
        print("\n".join(lines), file=sys.stderr, flush=True)
    if not args.skip_fewshot:
        lines += fewshot(args.draws, with_emb) + [""]
    if args.fine_tune and with_emb:
        lines += fewshot_finetune(args.draws, n_pairs=args.pairs,
                                  test_per_topic=args.test_per_topic) + [""]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
