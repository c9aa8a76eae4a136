"""Brands: creation with an API key, settings, topics."""
from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from gigcx import schemas, security
from gigcx.errors import ApiError
from gigcx.models import Brand, BrandApiKey, Topic, utcnow


def create_brand(*, session: Session, data: schemas.BrandCreate) -> tuple[Brand, str]:
    """Create a brand and its first API key; the key is returned once, only its hash is kept."""
    brand = Brand(slug=data.slug, name=data.name)
    session.add(brand)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise ApiError("conflict", f"brand {data.slug!r} already exists") from None
    key = _add_key(session, brand)
    session.commit()
    return brand, key


def _add_key(session: Session, brand: Brand) -> str:
    key = security.new_token(security.BRAND_KEY)
    session.add(BrandApiKey(brand_id=brand.id, key_hash=security.token_hash(key), prefix=key[:12]))
    return key


def rotate_key(*, session: Session, brand_id: int) -> str:
    """Revoke every current key of the brand and issue a new one."""
    brand = session.get(Brand, brand_id)
    assert brand is not None
    for old in session.exec(select(BrandApiKey).where(
            BrandApiKey.brand_id == brand_id, BrandApiKey.revoked_at.is_(None))):  # type: ignore[union-attr]
        old.revoked_at = utcnow()
        session.add(old)
    key = _add_key(session, brand)
    session.commit()
    return key


def get_brand(session: Session, brand_id: int) -> Brand:
    """The brand or not_found."""
    brand = session.get(Brand, brand_id)
    if brand is None:
        raise ApiError("not_found", "no such brand")
    return brand


def brand_by_slug(session: Session, slug: str) -> Brand | None:
    """Look a brand up by its slug."""
    return session.exec(select(Brand).where(Brand.slug == slug)).first()


def settings_view(brand: Brand) -> dict[str, Any]:
    """The brand's settings as the API shows them."""
    return schemas.BrandSettings.model_validate(brand, from_attributes=True).model_dump()


def update_settings(*, session: Session, brand_id: int, data: schemas.BrandUpdate) -> Brand:
    """Apply the fields present in a PATCH."""
    brand = get_brand(session, brand_id)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("currency"):
        from gigcx.services.budget import check_currency_change

        check_currency_change(session, brand, changes["currency"])
    for name, value in changes.items():
        if value is None:
            raise ApiError("invalid", f"{name}: may not be null")
        setattr(brand, name, value)
    session.add(brand)
    session.commit()
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
    session.commit()
    return topic


def list_topics(session: Session, brand_id: int, active_only: bool = False) -> list[Topic]:
    """The brand's topics, by slug."""
    q = select(Topic).where(Topic.brand_id == brand_id)
    if active_only:
        q = q.where(Topic.active.is_(True))  # type: ignore[attr-defined]
    return list(session.exec(q.order_by(Topic.slug)))  # type: ignore[arg-type]


def topic_view(topic: Topic) -> dict[str, Any]:
    """A topic as the API shows it."""
    return schemas.TopicPublic.model_validate(topic, from_attributes=True).model_dump()
