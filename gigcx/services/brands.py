"""Brands: creation with an API key, settings, topics."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import object_session
from sqlmodel import Session, col, select

from gigcx import schemas, security
from gigcx.errors import ApiError
from gigcx.events import Outbox
from gigcx.models import Brand, BrandApiKey, Topic, utcnow
from gigcx.sessions import key_credential


def create_brand(*, session: Session, data: schemas.BrandCreate) -> tuple[Brand, str]:
    """Create a brand and its first API key; the key is returned once, only its hash is kept."""
    import secrets

    brand = Brand(slug=data.slug, name=data.name, identity_secret="gcxi_" + secrets.token_hex(24))
    session.add(brand)
    try:
        session.flush()
    except IntegrityError:  # raising rolls the unit of work back
        raise ApiError("conflict", f"brand {data.slug!r} already exists") from None
    key = _add_key(session, brand)
    session.flush()
    return brand, key


def _add_key(session: Session, brand: Brand) -> str:
    assert brand.id is not None  # callers pass a flushed brand
    key = security.new_token(security.BRAND_KEY)
    session.add(BrandApiKey(brand_id=brand.id, key_hash=security.token_hash(key), prefix=key[:12]))
    return key


def rotate_key(*, session: Session, outbox: Outbox, brand_id: int) -> str:
    """Revoke every current key of the brand and issue a new one; the old keys' live sockets are
    disconnected after the commit."""
    brand = session.get(Brand, brand_id)
    assert brand is not None
    revoked = []
    for old in session.exec(select(BrandApiKey).where(
            col(BrandApiKey.brand_id) == brand_id, col(BrandApiKey.revoked_at).is_(None))):
        old.revoked_at = utcnow()
        session.add(old)
        revoked.append(old.id)
    key = _add_key(session, brand)
    session.flush()
    outbox.end_sessions([key_credential(key_id) for key_id in revoked], "key_rotated")  # type: ignore[arg-type]
    return key


def get_brand(session: Session, brand_id: int) -> Brand:
    """The brand or not_found."""
    brand = session.get(Brand, brand_id)
    if brand is None:
        raise ApiError("not_found", "no such brand")
    return brand


@dataclass(frozen=True)
class _Cached:
    read_at: float  # time.monotonic()
    generation: int  # _GENERATIONS[brand id] when it was read
    brand: Brand  # detached, never handed out: each session gets its own copy (Session.merge)


# brand id -> how many times this process changed the brand's row (ORM flushes and commits):
# a cached copy read under another count is stale. Per process, not per app: counting a change
# made through another app's engine too only costs a re-read.
_GENERATIONS: dict[int, int] = {}
_GEN_LOCK = threading.Lock()
_CHANGED = "gigcx_brands_changed"


def _bump(brand_ids: Any) -> None:
    with _GEN_LOCK:
        for brand_id in brand_ids:
            _GENERATIONS[brand_id] = _GENERATIONS.get(brand_id, 0) + 1


@event.listens_for(Brand, "after_insert")
@event.listens_for(Brand, "after_update")
@event.listens_for(Brand, "after_delete")
def _brand_written(_mapper: Any, _connection: Any, target: Brand) -> None:
    """A brand row was flushed: cached copies are stale now, and again once it commits (an ask
    may have re-read the old row in between)."""
    if target.id is None:
        return
    _bump([target.id])
    session = object_session(target)
    if session is not None:
        session.info.setdefault(_CHANGED, set()).add(target.id)


@event.listens_for(OrmSession, "after_commit")
def _brands_committed(session: OrmSession) -> None:
    changed = session.info.pop(_CHANGED, None)
    if changed:
        _bump(changed)


@event.listens_for(OrmSession, "after_soft_rollback")
def _brands_rolled_back(session: OrmSession, _previous: Any) -> None:
    session.info.pop(_CHANGED, None)


def init_app(app: Any) -> None:
    """Give the app its own brand cache (`cached_brand`), by brand id."""
    app.extensions["gigcx_brands"] = {}


def cached_brand(session: Session, brand_id: int) -> Brand:
    """`get_brand` for the ask path, from a per-process copy at most GIGCX_BRAND_CACHE_S old.

    Loading the brand row through the ORM was a tenth of an ask's server CPU on PostgreSQL
    (py-spy, docs/benchmarks.md). The copy is merged into `session` without a query, so the
    rest of the transaction (`session.get(Brand, ...)`) finds it there. Bound: a change this
    process commits is seen by its next ask (any ORM write of the row invalidates the copy, at
    flush and again at commit); a change committed by another process, or by SQL outside the
    ORM, is seen within GIGCX_BRAND_CACHE_S (`0`: read on every ask). Callers only read it: a
    setting is changed through `get_brand`, never through this copy."""
    max_age = current_app.config["GIGCX"].brand_cache_s
    if max_age <= 0:
        return get_brand(session, brand_id)
    key = session.identity_key(Brand, brand_id)
    held = session.identity_map.get(key)
    if held is not None:  # already in this transaction: that one
        return held
    cache: dict[int, _Cached] = current_app.extensions["gigcx_brands"]
    now, generation = time.monotonic(), _GENERATIONS.get(brand_id, 0)
    entry = cache.get(brand_id)
    if entry is not None and entry.generation == generation and now - entry.read_at < max_age:
        return session.merge(entry.brand, load=False)
    brand = get_brand(session, brand_id)
    copy = OrmSession().merge(brand, load=False)  # a detached copy with its identity, no query
    object_session(copy).expunge(copy)  # type: ignore[union-attr]
    cache[brand_id] = _Cached(now, generation, copy)
    return brand


def brand_by_slug(session: Session, slug: str) -> Brand | None:
    """Look a brand up by its slug."""
    return session.exec(select(Brand).where(Brand.slug == slug)).first()


def settings_view(brand: Brand, *, admin: bool = False) -> dict[str, Any]:
    """The brand's settings as the API shows them (with the identity secret for admins)."""
    from gigcx.services import trust

    out = schemas.BrandSettings.model_validate(brand, from_attributes=True).model_dump()
    out["trust"] = trust.settings_for(brand).to_dict()
    if admin and brand.identity_secret:
        out["identity_secret"] = brand.identity_secret
    return out


def update_settings(*, session: Session, brand_id: int, data: schemas.BrandUpdate) -> Brand:
    """Apply the fields present in a PATCH."""
    brand = get_brand(session, brand_id)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("currency"):
        from gigcx.services.budget import check_currency_change

        check_currency_change(session, brand, changes["currency"])
    for name, value in changes.items():
        if value is None and name not in schemas.BrandUpdate.NULLABLE:
            raise ApiError("invalid", f"{name}: may not be null")
        if name == "trust":
            brand.trust_settings = _merged_trust(brand, data.trust.model_dump(exclude_unset=True))  # type: ignore[union-attr]
            continue
        setattr(brand, name, value)
    session.add(brand)
    session.flush()
    return brand


def put_topic(*, session: Session, brand_id: int, slug: str, data: schemas.TopicPut) -> Topic:
    """Create or replace a topic of the brand."""
    topic = session.exec(select(Topic).where(Topic.brand_id == brand_id, Topic.slug == slug)).first()
    if topic is None:
        topic = Topic(brand_id=brand_id, slug=slug, name=data.name)
    topic.name = data.name
    topic.reward_cents = data.reward_cents
    topic.description = data.description
    topic.examples = list(data.examples)
    topic.active = data.active
    topic.updated_at = utcnow()
    session.add(topic)
    session.flush()
    return topic


def list_topics(session: Session, brand_id: int, active_only: bool = False) -> list[Topic]:
    """The brand's topics, by slug."""
    q = select(Topic).where(Topic.brand_id == brand_id)
    if active_only:
        q = q.where(col(Topic.active).is_(True))
    return list(session.exec(q.order_by(Topic.slug)))


def topic_view(topic: Topic) -> dict[str, Any]:
    """A topic as the API shows it."""
    return schemas.TopicPublic.model_validate(topic, from_attributes=True).model_dump()


def _merged_trust(brand: Brand, patch: dict[str, Any]) -> dict[str, Any]:
    """The brand's stored trust overrides with a PATCH applied (weights merge signal by signal)."""
    from payouts.trust import SettingsError, TrustSettings

    for name, value in patch.items():
        if value is None:
            raise ApiError("invalid", f"trust.{name}: may not be null")
    merged = {**(brand.trust_settings or {}), **patch}
    merged["weights"] = {**(brand.trust_settings or {}).get("weights", {}), **patch.get("weights", {})}
    if not merged["weights"]:
        merged.pop("weights")
    try:
        TrustSettings.from_dict(merged)
    except (SettingsError, TypeError, ValueError) as exc:
        raise ApiError("invalid", f"trust: {exc}") from None
    return merged
