"""Topic classification, suggested answers and expert choice for one brand, with model caches
(per app, `RoutingState`) that rebuild when the brand's topics or resolved cases change."""
from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from sqlalchemy import func
from sqlmodel import Session, col, select

from gigcx.concurrency import call_blocking, spawn
from gigcx.models import Brand, Case, ReusableAnswer, Topic
from gigcx.services import training
from gigcx.services.modelcache import RefreshingCache
from gigcx.services.presence import Available
from matching import TopicClassifier
from matching.suggestions import AnsweredCase, SuggestionIndex

log = logging.getLogger(__name__)
# the classifier's label for "none of our topics": not a valid slug, so never a brand's topic
NO_TOPIC = "_no_topic"


@dataclass
class BrandModels:
    """What routing knows about one brand, and the data version it was built from."""

    version: tuple[Any, ...]
    topics: list[str]
    classifier: TopicClassifier | None
    trained_version: int | None = None
    rewards: dict[str, int] = field(default_factory=dict)  # active topic -> reward in cents


TRAINED_CHECK_S = 5.0


@dataclass
class RoutingState:
    """Routing's caches for one app (`app.extensions["gigcx_routing"]`), by brand id."""

    classifiers: dict[int, BrandModels] = field(default_factory=dict)  # cold-start models
    trained: dict[int, BrandModels] = field(default_factory=dict)  # loaded trained models
    loading: set[tuple[int, int]] = field(default_factory=set)  # (brand, version) being loaded
    checked: dict[int, tuple[float, int | None]] = field(default_factory=dict)  # newest trained version seen
    topics_checked: dict[int, tuple[float, tuple[Any, ...]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    suggesters: RefreshingCache[list[AnsweredCase], SuggestionIndex] = field(
        default_factory=lambda: _suggestion_cache())


def init_app(app: Any) -> None:
    """Give the app its own routing caches (two apps in one process never share them)."""
    app.extensions["gigcx_routing"] = RoutingState()


def state(app: Any = None) -> RoutingState:
    """The routing caches of `app`, or of the current app."""
    return (app or current_app).extensions["gigcx_routing"]


def _topics_version(session: Session, brand_id: int) -> tuple[Any, ...]:
    """What the brand's active topics look like now (read at most every GIGCX_MODEL_CHECK_S)."""
    now = time.monotonic()
    seen = state().topics_checked.get(brand_id)
    if seen is not None and now - seen[0] < current_app.config["GIGCX"].model_check_s:
        return seen[1]
    row = session.exec(select(func.count(), func.max(Topic.updated_at)).where(
        col(Topic.brand_id) == brand_id, col(Topic.active).is_(True))).one()
    state().topics_checked[brand_id] = (now, tuple(row))
    return tuple(row)


def _cold_start(session: Session, brand: Brand, version: tuple[Any, ...]) -> BrandModels:
    """A lexical model fitted on the topics' own examples (milliseconds, inside the request)."""
    topics = list(session.exec(select(Topic).where(col(Topic.brand_id) == brand.id, col(Topic.active).is_(True))
                               .order_by(Topic.slug)))
    texts, labels = [], []
    for t in topics:
        for text in [t.name, t.description, *t.examples]:
            if text.strip():
                texts.append(text)
                labels.append(t.slug)
    clf = TopicClassifier(embeddings="none", unknown_label=NO_TOPIC).fit(texts, labels) \
        if len({*labels}) >= 2 else None
    return BrandModels(version, [t.slug for t in topics], clf, rewards={t.slug: t.reward_cents for t in topics})


def topic_reward(session: Session, brand: Brand, slug: str) -> int | None:
    """An active topic's reward as of the brand's current topics version (read with the models,
    so an ask costs no query for it); None when the topic is not active or not cached."""
    assert brand.id is not None  # a stored row
    cached = state().classifiers.get(brand.id)
    if cached is None or cached.version != _topics_version(session, brand.id):
        return None
    return cached.rewards.get(slug)


def _trained_version(session: Session, brand_id: int) -> int | None:
    now = time.monotonic()
    checked = state().checked.get(brand_id)
    if checked is None or now - checked[0] > TRAINED_CHECK_S:
        checked = (now, training.latest_version(session, brand_id))
        state().checked[brand_id] = checked
    return checked[1]


def _load_trained(app: Any, brand_id: int, version: int) -> None:
    """Load a stored model in the background, then swap it in."""
    from gigcx.db import session_scope

    try:
        with app.app_context():
            with session_scope() as session:  # on the event loop: it reads the database
                blob = training.load_blob(session, brand_id, version)
            clf = call_blocking(training.unpickle, blob)  # in an OS thread: CPU work
        state(app).trained[brand_id] = BrandModels((), [str(c) for c in clf.classes_], clf, version)
        log.info("brand %s now serves topic model v%s", brand_id, version)
    except Exception:
        log.exception("loading topic model v%s of brand %s failed", version, brand_id)
    finally:
        state(app).loading.discard((brand_id, version))


def brand_models(session: Session, brand: Brand) -> BrandModels:
    """The brand's newest trained model once loaded (never blocking a request for it), else a
    cold-start model from its topics' examples; a trained model missing a topic is not used."""
    caches = state()
    assert brand.id is not None  # a stored row
    version = _topics_version(session, brand.id)
    cached = caches.classifiers.get(brand.id)
    if cached is None or cached.version != version:
        cached = _cold_start(session, brand, version)
        with caches.lock:
            caches.classifiers[brand.id] = cached
    trained_v = _trained_version(session, brand.id)
    trained = caches.trained.get(brand.id)
    if trained_v is not None and (trained is None or trained.trained_version != trained_v):
        key = (brand.id, trained_v)
        if key not in caches.loading:
            caches.loading.add(key)
            spawn(_load_trained, current_app._get_current_object(), brand.id, trained_v)  # type: ignore[attr-defined]
    if trained is not None and set(cached.topics) <= set(trained.topics):
        return BrandModels(version, cached.topics, trained.classifier, trained.trained_version)
    return cached


def classify(session: Session, brand: Brand, text: str) -> tuple[str | None, float | None]:
    """The most likely active topic and its probability; (None, None) when the brand has no
    topics, and (None, probability of the best topic) when the model abstains: no topic is
    likely enough ("none of our topics", see `no_topic`)."""
    models = brand_models(session, brand)
    if not models.topics:
        return None, None
    if models.classifier is None:
        return models.topics[0], 1.0
    clf = models.classifier
    probs, conf = call_blocking(clf.proba_and_confidence, [text]) \
        if getattr(clf, "embeddings_used_", False) else clf.proba_and_confidence([text])
    active = set(models.topics)
    best = max((p, str(c)) for c, p in zip(clf.classes_, probs[0]) if str(c) in active)
    if abstains(clf, float(conf[0])):
        return None, round(float(best[0]), 4)
    return best[1], round(float(best[0]), 4)


def abstains(clf: TopicClassifier, confidence: float) -> bool:
    """Whether the model finds no topic likely enough (calibrated confidence under its
    threshold); models stored before abstention existed never abstain."""
    if getattr(clf, "unknown_label", None) is None:
        return False
    return confidence < float(getattr(clf, "threshold_", 0.0))


def no_topic(case: Case) -> bool:
    """The brand has topics but the question fits none of them (classified, no topic named)."""
    return case.topic is None and case.topic_confidence is not None


def generalists(session: Session, brand: Brand) -> set[int]:
    """The brand's generalists: approved experts whose approved topics cover every active topic
    (they are asked the questions that fit no topic)."""
    from gigcx.services import presence

    active = set(brand_models(session, brand).topics)
    if not active:
        return set()
    assert brand.id is not None  # a stored row
    roster = presence.brand_roster(session, brand.id)
    return {eid for eid, topics in roster.items() if active <= set(topics)}


def _answered_version(session: Session, brand_id: int) -> tuple[Any, ...]:
    from gigcx.services import answers

    return answers.version(session, brand_id)


def suggest(session: Session, brand: Brand, text: str) -> list[dict[str, Any]]:
    """Reusable answers (scrubbed, never another customer's question) closest to the question.

    The index may be a few seconds old: the hits are checked against what the brand suggests
    right now, so a rejected or erased answer is never shown, and an edit shows at once."""
    from gigcx.services import answers

    if not answers.served_statuses(brand.answer_reuse):
        return []
    assert brand.id is not None  # a stored row
    hits = state().suggesters.get(session, brand.id).suggest(text)
    live = answers.served(session, brand.id, [s.case_id for s in hits])
    return [{"id": row.id, "answer": row.answer, "topic": row.topic, "score": s.score}
            for s in hits if (row := live.get(s.case_id)) is not None]


def answered_cases(session: Session, brand_id: int, limit: int = 5000) -> list[AnsweredCase]:
    """The brand's suggestible answers, newest first, keyed by answer id and matched on their
    scrubbed question."""
    from gigcx.services import answers

    brand = session.get(Brand, brand_id)
    statuses = answers.served_statuses(brand.answer_reuse if brand else "off")
    if not statuses:
        return []
    rows = session.exec(select(ReusableAnswer.id, ReusableAnswer.question, ReusableAnswer.answer).where(
        col(ReusableAnswer.brand_id) == brand_id, col(ReusableAnswer.status).in_(statuses))
        .order_by(col(ReusableAnswer.id).desc()).limit(limit)).all()
    # placeholders ("[name]", "[card number]") are not what the question was about
    return [AnsweredCase(aid, _PLACEHOLDER.sub(" ", q), a) for aid, q, a in rows]  # type: ignore[arg-type]


_PLACEHOLDER = re.compile(r"\[[a-z ]+\]")


def topic_pool(brand: Brand, case: Case) -> str | None:
    """The topic whose experts are asked, or None (general pool) when the guess is uncertain."""
    if case.topic is None or (case.topic_confidence or 0.0) < brand.min_topic_confidence:
        return None
    return case.topic


def choose(session: Session, brand: Brand, case: Case, pool: list[Available]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Pick the experts to offer the case to, with the reasons, best first."""
    from gigcx.services import ranking

    return ranking.choose(session, brand, case, pool)


def _suggestion_cache() -> RefreshingCache[list[AnsweredCase], SuggestionIndex]:
    """An empty cache of suggestion indexes (one per app, in `RoutingState`)."""
    return RefreshingCache(
        "suggestion index", _answered_version, answered_cases, lambda cases: SuggestionIndex().fit(cases), len,
        inline_below=200, min_interval_s=10.0, child_fit="matching.suggestions:SuggestionIndex",
        interim=lambda cases, n: cases[:n],  # answered_cases is newest first
        # the child reads the answers itself: loading 5,000 of them here (and pickling them to the
        # child) was a step of 12-16 MiB in the serving process's memory at each refit
        child_load=("gigcx.services.routing:_answered_version", "gigcx.services.routing:answered_cases"))
