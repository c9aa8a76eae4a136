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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--no-embeddings", action="store_true")
    ap.add_argument("--draws", type=int, default=3)
    ap.add_argument("--leave-out", type=int, default=10)
    ap.add_argument("--skip-abstain", action="store_true")
    ap.add_argument("--skip-fewshot", action="store_true")
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
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
