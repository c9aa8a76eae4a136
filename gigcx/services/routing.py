"""Topic classification, suggested answers and expert choice for one brand, with per-process
model caches that rebuild when the brand's topics or resolved cases change."""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from gigcx.models import Brand, Case, Message, Topic
from gigcx.services.presence import Available
from matching import TopicClassifier
from matching.suggestions import AnsweredCase, SuggestionIndex

log = logging.getLogger(__name__)
_lock = threading.Lock()


@dataclass
class BrandModels:
    """What routing knows about one brand, and the data version it was built from."""

    version: tuple[Any, ...]
    topics: list[str]
    classifier: TopicClassifier | None


_classifiers: dict[int, BrandModels] = {}
_suggesters: dict[int, tuple[tuple[Any, ...], SuggestionIndex]] = {}


def _topics_version(session: Session, brand_id: int) -> tuple[Any, ...]:
    row = session.exec(select(func.count(), func.max(Topic.updated_at)).where(
        Topic.brand_id == brand_id, Topic.active.is_(True))).one()  # type: ignore[attr-defined]
    return tuple(row)


def brand_models(session: Session, brand: Brand) -> BrandModels:
    """The brand's topic classifier, (re)trained from its topics' examples when they changed."""
    version = _topics_version(session, brand.id)  # type: ignore[arg-type]
    cached = _classifiers.get(brand.id)  # type: ignore[arg-type]
    if cached is not None and cached.version == version:
        return cached
    topics = list(session.exec(select(Topic).where(Topic.brand_id == brand.id, Topic.active.is_(True))  # type: ignore[attr-defined]
                               .order_by(Topic.slug)))  # type: ignore[arg-type]
    texts, labels = [], []
    for t in topics:
        for text in [t.name, t.description, *t.examples]:
            if text.strip():
                texts.append(text)
                labels.append(t.slug)
    clf = None
    if len({*labels}) >= 2:
        # Cold start: lexical features only, so a model builds in milliseconds inside a request.
        clf = TopicClassifier(embeddings="none").fit(texts, labels)
    models = BrandModels(version, [t.slug for t in topics], clf)
    with _lock:
        _classifiers[brand.id] = models  # type: ignore[index]
    return models


def classify(session: Session, brand: Brand, text: str) -> tuple[str | None, float | None]:
    """The most likely topic and its probability (None when the brand has no topics)."""
    models = brand_models(session, brand)
    if not models.topics:
        return None, None
    if models.classifier is None:
        return models.topics[0], 1.0
    label, prob = models.classifier.predict_with_confidence([text])[0]
    return str(label), round(float(prob), 4)


def _answered_version(session: Session, brand_id: int) -> tuple[Any, ...]:
    return tuple(session.exec(select(func.count(), func.max(Case.resolved_at)).where(
        Case.brand_id == brand_id, Case.status == "resolved")).one())


def suggest(session: Session, brand: Brand, text: str) -> list[dict[str, Any]]:
    """Answers from the brand's most similar resolved cases (not rejected by the brand)."""
    version = _answered_version(session, brand.id)  # type: ignore[arg-type]
    cached = _suggesters.get(brand.id)  # type: ignore[arg-type]
    if cached is None or cached[0] != version:
        cached = (version, SuggestionIndex().fit(answered_cases(session, brand.id)))  # type: ignore[arg-type]
        with _lock:
            _suggesters[brand.id] = cached  # type: ignore[index]
    return [{"case_id": s.case_id, "question": s.question, "answer": s.answer, "score": s.score}
            for s in cached[1].suggest(text)]


def answered_cases(session: Session, brand_id: int, limit: int = 5000) -> list[AnsweredCase]:
    """Recent resolved cases with the expert's longest message as their answer."""
    rows = session.exec(select(Case.id, Case.question).where(
        Case.brand_id == brand_id, Case.status == "resolved",
        (Case.review_verdict.is_(None)) | (Case.review_verdict != "reject"))  # type: ignore[union-attr]
        .order_by(Case.resolved_at.desc()).limit(limit)).all()  # type: ignore[union-attr]
    if not rows:
        return []
    answers: dict[int, str] = {}
    for case_id, text in session.exec(select(Message.case_id, Message.text).where(
            Message.case_id.in_([r[0] for r in rows]), Message.sender == "expert")):  # type: ignore[attr-defined]
        if len(text) > len(answers.get(case_id, "")):
            answers[case_id] = text
    return [AnsweredCase(cid, q, answers[cid]) for cid, q in rows if cid in answers]


def topic_pool(brand: Brand, case: Case) -> str | None:
    """The topic whose experts are asked, or None (general pool) when the guess is uncertain."""
    if case.topic is None or (case.topic_confidence or 0.0) < brand.min_topic_confidence:
        return None
    return case.topic


def choose(session: Session, brand: Brand, case: Case, pool: list[Available]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Pick the experts to offer the case to, with the reasons, best first."""
    from gigcx.services import ranking

    return ranking.choose(session, brand, case, pool)
