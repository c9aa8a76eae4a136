"""Contrastive fine-tuning of the sentence encoder on a brand's examples (SetFit-style).

Measured in bench/bench_topics.py --fine-tune and not part of the library: at 5, 10 and 20
examples per topic it did not pay for itself (docs/benchmarks.md, "few examples").

Pairs of example questions are drawn, half from the same topic (target cosine 1) and half
from different topics (target 0); one epoch of cosine-similarity loss (mean squared error
between the pair's cosine and its target) moves the encoder so that same-topic questions lie
closer together. The fine-tuned model is saved to a directory that ``TopicClassifier``'s
``embedding_model`` can point at. CPU only; nothing is downloaded.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence

import numpy as np

from matching import embeddings as _emb

Progress = Callable[[int, int], None]  # (batches done, batches in all)


def contrastive_pairs(labels: Sequence[Hashable], n_pairs: int,
                      seed: int = 0) -> list[tuple[int, int, float]]:
    """``n_pairs`` (i, j, target) index pairs, half same-topic (1.0), half different (0.0),
    drawn with replacement; topics are taken in turn so each gets its share."""
    y = np.asarray([str(v) for v in labels], dtype=object)
    rng = np.random.default_rng(seed)
    by = {c: np.flatnonzero(y == c) for c in sorted(set(y.tolist()))}
    topics = [c for c in by if len(by[c]) >= 2]
    if not topics or len(by) < 2:
        raise ValueError("fine-tuning needs two topics and two examples in at least one")
    out: list[tuple[int, int, float]] = []
    names = list(by)
    for k in range(n_pairs):
        if k % 2 == 0:
            c = topics[(k // 2) % len(topics)]
            i, j = rng.choice(by[c], 2, replace=False)
            out.append((int(i), int(j), 1.0))
        else:
            a = names[(k // 2) % len(names)]
            b = names[int(rng.integers(len(names) - 1))]
            b = b if b != a else names[-1]
            out.append((int(rng.choice(by[a])), int(rng.choice(by[b])), 0.0))
    order = rng.permutation(len(out))
    return [out[i] for i in order]


def fine_tune(texts: Sequence[str], labels: Sequence[Hashable], out_dir: str, *,
              model_path: str | None = None, n_pairs: int = 2000, batch_size: int = 16,
              learning_rate: float = 2e-5, seed: int = 0,
              progress: Progress | None = None) -> str:
    """Fine-tune the local sentence encoder (``model_path``, default the bundled one) on
    contrastive pairs of ``texts`` for one epoch and save it to ``out_dir``; returns out_dir."""
    import torch

    if len(texts) != len(labels):
        raise ValueError("texts and labels must be as long as each other")
    pairs = contrastive_pairs(labels, n_pairs, seed)
    torch.manual_seed(seed)
    _emb.encode([], model_path)  # loads the shared model once: sets the offline environment
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(_emb.resolve_model_path(model_path), device="cpu")
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=learning_rate)
    n_batches = (len(pairs) + batch_size - 1) // batch_size
    warmup = max(1, n_batches // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda step: min(1.0, (step + 1) / warmup) * max(0.0, (n_batches - step) / n_batches))
    for b in range(n_batches):
        batch = pairs[b * batch_size:(b + 1) * batch_size]
        left = model.tokenize([texts[i] for i, _, _ in batch])
        right = model.tokenize([texts[j] for _, j, _ in batch])
        u = model(dict(left))["sentence_embedding"]
        v = model(dict(right))["sentence_embedding"]
        target = torch.tensor([t for _, _, t in batch], dtype=u.dtype)
        loss = torch.nn.functional.mse_loss(torch.cosine_similarity(u, v), target)
        opt.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()
        sched.step()
        if progress is not None:
            progress(b + 1, n_batches)
    model.eval()
    model.save(out_dir)
    return out_dir
