"""One question through a fitted TfidfVectorizer, without scikit-learn's per-call overhead.

`TfidfVectorizer.transform([text])` spends most of its time on what is the same for every call
(rebuilding the analyzer, validating parameters and the input array, the sparse-interface config)
rather than on the counting: with one short question per ask, that overhead was most of the
suggestion lookup and of the ranker's text features (py-spy, docs/benchmarks.md). `transform_one`
does the same arithmetic in the same order (counts, sublinear tf, idf, l2 rows with scikit-learn's
own row normaliser), so its result is bit-identical; vectorizers with other settings fall back to
`transform`.
"""
from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn import get_config
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.utils.sparsefuncs_fast import inplace_csr_row_normalize_l2

# the analyzer of each fitted vectorizer, built once (it depends on its parameters only);
# weak keys: a refitted model's vectorizers go with it. The analyzer is built by an unfitted copy
# with the same parameters (`_analyzer`): one built by the vectorizer itself holds it (bound
# methods), and a weak key its own value refers to is never dropped, so every vectorizer ever
# used stayed alive, with its vocabulary and whatever model held it (each refit's ranker and
# suggestion index, for the life of the process).
_ANALYZERS: weakref.WeakKeyDictionary[TfidfVectorizer, Callable[[str], list[str]]] = weakref.WeakKeyDictionary()


def _plain(vec: TfidfVectorizer) -> bool:
    """Settings `transform_one` reproduces exactly (the ones this package fits)."""
    return (not vec.binary and vec.use_idf and vec.norm in ("l2", None) and vec.dtype is np.float64
            and vec.input == "content" and get_config().get("sparse_interface", "spmatrix") == "spmatrix")


def transform_one(vec: TfidfVectorizer, text: str) -> Any:
    """`vec.transform([text])`: a 1 x vocabulary CSR matrix, bit for bit."""
    analyze = _ANALYZERS.get(vec)
    if analyze is None:
        if not _plain(vec):
            return vec.transform([text])
        analyze = _ANALYZERS[vec] = _analyzer(vec)
    vocabulary = vec.vocabulary_
    counts: dict[int, int] = {}
    for feature in analyze(text):
        j = vocabulary.get(feature)
        if j is not None:
            counts[j] = counts.get(j, 0) + 1
    indices = np.fromiter(sorted(counts), dtype=np.int32, count=len(counts))
    data = np.fromiter((counts[j] for j in indices.tolist()), dtype=np.float64, count=len(counts))
    if vec.sublinear_tf:
        np.log(data, data)
        data += 1.0
    data *= vec.idf_[indices]
    out = sp.csr_matrix((data, indices, np.array([0, len(counts)], dtype=np.int32)),
                        shape=(1, len(vocabulary)), dtype=np.float64)
    if vec.norm == "l2":
        inplace_csr_row_normalize_l2(out)
    return out


def _analyzer(vec: TfidfVectorizer) -> Callable[[str], list[str]]:
    """`vec.build_analyzer()`, built by an unfitted vectorizer of the same parameters: the same
    function, holding no reference to `vec` (nor its vocabulary)."""
    analyzer: Callable[[str], list[str]] = type(vec)(**vec.get_params(deep=False)).build_analyzer()
    return analyzer


def row_times(q: Any, m: Any) -> Any:
    """The one-row sparse product ``(q @ m).toarray().ravel()`` for CSR ``q`` (1 x n) and ``m``
    (n x k), as a dense array: each of q's stored entries (in order) adds its multiple of one row
    of ``m``, which is how scipy's sparse product accumulates it (so bit-identical: `np.add.at`
    adds in array order), without scipy's per-call overhead (most of the time for one row)."""
    cols, vals, lengths = stored_entries(m, q.indices)
    out = np.zeros(m.shape[1])
    np.add.at(out, cols, vals * np.repeat(q.data, lengths))
    return out


def stored_entries(m: Any, rows: Any) -> tuple[Any, Any, Any]:
    """The stored entries of these rows of a canonical CSR matrix, in row order: their columns,
    their values and how many each row has (what ``m[rows]`` holds, without building it)."""
    m.sum_duplicates()  # a no-op once known canonical
    starts = m.indptr[rows]
    lengths = m.indptr[np.asarray(rows) + 1] - starts
    first = np.cumsum(lengths) - lengths  # where each row's entries start in the output
    pos = np.repeat(starts - first, lengths) + np.arange(int(lengths.sum()))
    return m.indices[pos], m.data[pos], lengths
