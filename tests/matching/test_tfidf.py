"""transform_one gives exactly what TfidfVectorizer.transform gives for one text."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from matching.suggestions import content_words
from matching.tfidf import transform_one

TEXTS = ["where is my card, it has not arrived", "I lost my card", "refund for my order please",
         "card arrived damaged", "how do I reset my password?", "Où est ma carte ?"] * 5


def _vectorizers() -> list[TfidfVectorizer]:
    return [TfidfVectorizer(sublinear_tf=True, dtype=np.float64),  # the ranker's
            TfidfVectorizer(stop_words="english", sublinear_tf=True, ngram_range=(1, 2)),  # suggestions'
            TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True,
                            preprocessor=content_words),
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2),  # classifier's
            TfidfVectorizer(norm=None), TfidfVectorizer(binary=True), TfidfVectorizer(norm="l1")]  # fallbacks


@pytest.mark.parametrize("vec", _vectorizers())
@pytest.mark.parametrize("text", ["where is my card, it has not arrived", "Card card CARD refund?", "zzz", "",
                                  "ma carte où est-elle"])
def test_bit_identical(vec: TfidfVectorizer, text: str) -> None:
    vec.fit(TEXTS)
    want, got = vec.transform([text]), transform_one(vec, text)
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
