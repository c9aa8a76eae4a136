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
from collections.abc import Callable, Iterable, Iterator, Mapping
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


class TermIndex(Mapping[str, int]):
    """A fitted vectorizer's vocabulary (term -> column) held in arrays instead of a dict.

    A dict of 60,000 n-grams is 120,000 small objects (the terms and their column numbers) and a
    table of several MiB, all allocated when a model is unpickled and freed when a refit replaces
    it: in a serving process, 5.4 MiB in 92,000 blocks per swap of a suggestion index, among the
    connections' allocations (docs/benchmarks.md, "Memory at model swaps: vocabularies as
    arrays"). Here the terms are sorted fixed-width byte arrays with their columns beside them,
    which pickle out of band and map from a child's model file (`gigcx.fitworker`): the terms of
    up to `SHORT` UTF-8 bytes (nearly all of them: words and character n-grams) in one array,
    padded to that width, the longer ones in one array per length, unpadded (a 4,000-character
    word would otherwise widen every term). A query's terms are looked up together, a binary
    search per array. Terms with a NUL byte (which numpy's fixed-width bytes would drop at the
    end) stay in a small dict."""

    SHORT = 16

    def __init__(self, vocabulary: Mapping[str, int]) -> None:
        short: list[tuple[bytes, int]] = []
        long: dict[int, list[tuple[bytes, int]]] = {}
        self.odd_: dict[str, int] = {}
        for term, column in vocabulary.items():
            raw = term.encode()
            if not raw or b"\0" in raw:
                self.odd_[term] = int(column)
            elif len(raw) <= self.SHORT:
                short.append((raw, int(column)))
            else:
                long.setdefault(len(raw), []).append((raw, int(column)))
        self.short_ = self._arrays(short, self.SHORT)
        self.long_ = {size: self._arrays(items, size) for size, items in long.items()}
        self.size_ = len(vocabulary)

    @staticmethod
    def _arrays(items: list[tuple[bytes, int]], width: int) -> tuple[np.ndarray, np.ndarray]:
        terms = np.array([t for t, _ in items], dtype=f"S{width}")
        order = np.argsort(terms, kind="stable")
        return terms[order], np.array([c for _, c in items], dtype=np.int64)[order]

    def __len__(self) -> int:
        return self.size_

    def __iter__(self) -> Iterator[str]:
        for terms, _ in (self.short_, *self.long_.values()):
            for term in terms.tolist():
                yield term.decode()
        yield from self.odd_

    def __getitem__(self, term: str) -> int:
        found = self.columns([term])
        if not len(found):
            raise KeyError(term)
        return int(found[0])

    def __contains__(self, term: object) -> bool:
        return isinstance(term, str) and len(self.columns([term])) == 1

    def columns(self, terms: Iterable[str]) -> np.ndarray:
        """The columns of those of `terms` in the vocabulary, once per occurrence, in no
        particular order (`transform_one` counts them)."""
        short: list[bytes] = []
        long: dict[int, list[bytes]] = {}
        found = []
        for term in terms:
            raw = term.encode()
            if not raw or b"\0" in raw:
                if term in self.odd_:
                    found.append(self.odd_[term])
            elif len(raw) <= self.SHORT:
                short.append(raw)
            elif len(raw) in self.long_:
                long.setdefault(len(raw), []).append(raw)
        parts = [np.array(found, dtype=np.int64), self._search(self.short_, short, self.SHORT)]
        parts += [self._search(self.long_[size], wanted, size) for size, wanted in long.items()]
        return np.concatenate(parts)

    @staticmethod
    def _search(arrays: tuple[np.ndarray, np.ndarray], wanted: list[bytes], width: int) -> np.ndarray:
        known, cols = arrays
        if not wanted or not len(known):
            return cols[:0]
        query = np.array(wanted, dtype=f"S{width}")
        at = np.searchsorted(known, query)
        at[at == len(known)] = 0
        hit: np.ndarray = cols[at[known[at] == query]]
        return hit


def freeze(vec: TfidfVectorizer) -> TfidfVectorizer:
    """Hold a fitted vectorizer's vocabulary as a `TermIndex` (it transforms the same, through
    scikit-learn or `transform_one`), and drop `stop_words_`, the terms `min_df`/`max_df` cut,
    which only explains the fit (scikit-learn's docs say it may be removed before pickling)."""
    vec.vocabulary_ = TermIndex(vec.vocabulary_)
    if hasattr(vec, "stop_words_"):
        del vec.stop_words_
    return vec


def transform_one(vec: TfidfVectorizer, text: str) -> Any:
    """`vec.transform([text])`: a 1 x vocabulary CSR matrix, bit for bit."""
    analyze = _ANALYZERS.get(vec)
    if analyze is None:
        if not _plain(vec):
            return vec.transform([text])
        analyze = _ANALYZERS[vec] = _analyzer(vec)
    vocabulary = vec.vocabulary_
    if isinstance(vocabulary, TermIndex):
        found, times = np.unique(vocabulary.columns(analyze(text)), return_counts=True)
        indices, data = found.astype(np.int32), times.astype(np.float64)
    else:
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
    out = sp.csr_matrix((data, indices, np.array([0, len(indices)], dtype=np.int32)),
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
