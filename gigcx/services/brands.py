"""Brands: creation with an API key, settings, topics."""
from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

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
            BrandApiKey.brand_id == brand_id, BrandApiKey.revoked_at.is_(None))):  # type: ignore[union-attr]
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
        q = q.where(Topic.active.is_(True))  # type: ignore[attr-defined]
    return list(session.exec(q.order_by(Topic.slug)))  # type: ignore[arg-type]


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
