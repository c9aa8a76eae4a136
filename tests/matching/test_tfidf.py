"""transform_one gives exactly what TfidfVectorizer.transform gives for one text, with the
vocabulary as scikit-learn keeps it (a dict) or frozen into arrays (`TermIndex`)."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from matching.suggestions import content_words
from matching.tfidf import TermIndex, freeze, transform_one

TEXTS = ["where is my card, it has not arrived", "I lost my card", "refund for my order please",
         "card arrived damaged", "how do I reset my password?", "Où est ma carte ?"] * 5


def _vectorizers() -> list[TfidfVectorizer]:
    return [TfidfVectorizer(sublinear_tf=True, dtype=np.float64),  # the ranker's
            TfidfVectorizer(stop_words="english", sublinear_tf=True, ngram_range=(1, 2)),  # suggestions'
            TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True,
                            preprocessor=content_words),
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2),  # classifier's
            TfidfVectorizer(norm=None), TfidfVectorizer(binary=True), TfidfVectorizer(norm="l1")]  # fallbacks


QUERIES = ["where is my card, it has not arrived", "Card card CARD refund?", "zzz", "", "ma carte où est-elle"]


@pytest.mark.parametrize("frozen", [False, True], ids=["dict", "arrays"])
@pytest.mark.parametrize("vec", _vectorizers())
@pytest.mark.parametrize("text", QUERIES)
def test_bit_identical(vec: TfidfVectorizer, text: str, frozen: bool) -> None:
    vec.fit(TEXTS)
    want = vec.transform([text])
    if frozen:
        freeze(vec)
        assert isinstance(vec.vocabulary_, TermIndex)
        again = vec.transform([text])  # scikit-learn's own transform reads a frozen vocabulary too
        assert again.data.tobytes() == want.data.tobytes() and np.array_equal(again.indices, want.indices)
    got = transform_one(vec, text)
    assert type(got) is type(want) and got.shape == want.shape
    assert got.indices.dtype == want.indices.dtype and got.data.dtype == want.data.dtype
    assert np.array_equal(got.indptr, want.indptr) and np.array_equal(got.indices, want.indices)
    assert got.data.tobytes() == want.data.tobytes()  # bit for bit, not approximately


def test_refitted_vectorizer_uses_its_new_vocabulary() -> None:
    vec = TfidfVectorizer(sublinear_tf=True).fit(TEXTS)
    transform_one(vec, "card")
    vec.fit(["a brand new vocabulary entirely", "nothing about payments"])
    want, got = vec.transform(["new vocabulary card"]), transform_one(vec, "new vocabulary card")
    assert got.shape == want.shape and got.data.tobytes() == want.data.tobytes()


def test_row_times_is_the_sparse_product() -> None:
    import scipy.sparse as sp

    from matching.tfidf import row_times

    rng = np.random.default_rng(0)
    m = sp.random(300, 80, density=0.1, format="csr", random_state=1)
    for density in (0.0, 0.02, 0.3):
        q = sp.random(1, 300, density=density, format="csr", random_state=int(rng.integers(1 << 30)))
        assert row_times(q, m).tobytes() == (q @ m).toarray().ravel().tobytes()


def test_a_term_index_is_the_vocabulary_it_was_built_from() -> None:
    vocabulary = {"card": 3, "où": 0, "a\0b": 5, "ca": 1, "cards arrived": 2, "zz": 4, "\0": 6}
    index = TermIndex(vocabulary)
    assert len(index) == len(vocabulary) and dict(index.items()) == vocabulary
    assert all(index[t] == c for t, c in vocabulary.items())
    assert "card" in index and "car" not in index and "" not in index and 3 not in index
    with pytest.raises(KeyError):
        index["cardz"]
    assert index.get("cardz") is None and index.get("où") == 0
    # once per occurrence; unknown terms, and terms of a length no term has, are skipped
    assert sorted(index.columns(["card", "x", "card", "où", "a\0b", "unknown words here", "zz"]).tolist()) == [0, 3, 3, 4, 5]
    assert index.columns([]).tolist() == [] and index.columns([""]).tolist() == []


def test_a_frozen_vocabulary_pickles_as_arrays_not_as_terms() -> None:
    """What makes it worth having: a model's vocabulary pickles out of band (the child's model file
    maps it) instead of as one object per term unpickled into the serving process's heap."""
    import pickle

    texts = [f"question number {i} about card {i % 7} and refund {i * 13 % 101}" for i in range(2000)]
    plain = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5)).fit(texts)
    frozen = freeze(TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5)).fit(texts))
    buffers: list[pickle.PickleBuffer] = []
    in_band = pickle.dumps(frozen, protocol=5, buffer_callback=buffers.append)
    assert len(in_band) < len(pickle.dumps(plain, protocol=5)) / 10
    assert sum(b.raw().nbytes for b in buffers) > len(in_band)
    back = pickle.loads(in_band, buffers=buffers)
    for text in ("card 3 refund", "question 1999"):
        assert transform_one(back, text).data.tobytes() == plain.transform([text]).data.tobytes()
