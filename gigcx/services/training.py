"""Per-brand topic models: training from topics' examples and resolved cases, versioned in the
database so every process serves the same model."""
from __future__ import annotations

import pickle
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, select

from gigcx.models import Brand, Case, CaseStatus, Topic, TopicModel
from matching import TopicClassifier


@dataclass
class TrainingResult:
    """What one training run produced."""

    brand: str
    version: int | None
    n_examples: int
    classes: list[str]
    embeddings: bool
    skipped: str | None = None


def training_data(session: Session, brand_id: int, limit: int = 50000) -> tuple[list[str], list[str]]:
    """Topic names, descriptions and examples, plus resolved (not rejected) cases with a topic."""
    topics = session.exec(select(Topic).where(Topic.brand_id == brand_id, Topic.active.is_(True))).all()  # type: ignore[attr-defined]
    slugs = {t.slug for t in topics}
    texts: list[str] = []
    labels: list[str] = []
    for t in topics:
        for text in [t.name, t.description, *t.examples]:
            if text.strip():
                texts.append(text)
                labels.append(t.slug)
    rows = session.exec(select(Case.question, Case.topic).where(
        Case.brand_id == brand_id, Case.status == CaseStatus.resolved, Case.topic.in_(slugs),  # type: ignore[union-attr]
        (Case.review_verdict.is_(None)) | (Case.review_verdict != "reject"))  # type: ignore[union-attr]
        .order_by(Case.id.desc()).limit(limit)).all()  # type: ignore[union-attr]
    for question, topic in rows:
        texts.append(question)
        labels.append(topic)
    return texts, labels


def train_brand(session: Session, brand: Brand, embeddings: str = "auto",
                progress: Callable[[str], None] | None = None) -> TrainingResult:
    """Fit and store a new model version for the brand (skipped with fewer than two topics)."""
    say = progress or (lambda _msg: None)
    texts, labels = training_data(session, brand.id)  # type: ignore[arg-type]
    classes = sorted(set(labels))
    if len(classes) < 2:
        return TrainingResult(brand.slug, None, len(texts), classes, False, "fewer than two topics")
    say(f"{brand.slug}: fitting on {len(texts)} examples over {len(classes)} topics")
    from gigcx.services.routing import NO_TOPIC

    clf = TopicClassifier(embeddings=embeddings, unknown_label=NO_TOPIC).fit(texts, labels)
    last = session.exec(select(func.max(TopicModel.version)).where(TopicModel.brand_id == brand.id)).one()
    row = TopicModel(brand_id=brand.id, version=(last or 0) + 1, n_examples=len(texts), classes=classes,  # type: ignore[arg-type]
                     embeddings=bool(clf.embeddings_used_), blob=pickle.dumps(clf, protocol=5))
    session.add(row)
    session.flush()
    return TrainingResult(brand.slug, row.version, len(texts), classes, row.embeddings)


def latest_version(session: Session, brand_id: int) -> int | None:
    """The newest stored model version of the brand."""
    return session.exec(select(func.max(TopicModel.version)).where(TopicModel.brand_id == brand_id)).one()


def load_blob(session: Session, brand_id: int, version: int) -> bytes:
    """The pickled model of one version."""
    return session.exec(select(TopicModel.blob).where(TopicModel.brand_id == brand_id,
                                                      TopicModel.version == version)).one()


def unpickle(blob: bytes) -> TopicClassifier:
    """Our own blobs only (written by `train_brand`, read from our database)."""
    clf: TopicClassifier = pickle.loads(blob)  # noqa: S301 - trusted: written by this service
    return clf
