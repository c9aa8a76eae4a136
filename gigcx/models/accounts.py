"""Who uses GigCX: brands and their staff, topics, experts, program memberships, tokens."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Optional

from sqlalchemy import JSON, LargeBinary
from sqlmodel import Column, Field, SQLModel, UniqueConstraint

from gigcx.models.base import json_field, utcnow


class StaffRole(StrEnum):
    """What a brand's staff member may do in the brand console."""

    admin = "admin"
    analyst = "analyst"


class ProgramStatus(StrEnum):
    """An expert's membership of a brand's program."""

    pending = "pending"
    approved = "approved"
    suspended = "suspended"
    rejected = "rejected"


class TokenKind(StrEnum):
    """Whose bearer token it is (a verified customer's other devices hold `customer` ones)."""

    customer = "customer"
    expert = "expert"
    staff = "staff"


class Brand(SQLModel, table=True):
    """A company whose customers are helped; holds its timers and reward settings."""

    id: Optional[int] = Field(default=None, primary_key=True)
    slug: str = Field(index=True, unique=True, max_length=64)
    name: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    offer_timeout_s: int = 60
    max_offers: int = 3
    escalate_after_s: int = 900
    confirm_window_s: int = 86400
    review_window_s: int = 259200
    currency: str = Field(default="usd", max_length=3)
    platform_fee_cents: int = 0  # the platform's fee per rewarded case, on top of the reward
    offer_fanout: int = 1
    min_topic_confidence: float = 0.35
    bonus_rules: dict[str, Any] = json_field(dict)
    allowed_origins: list[str] = json_field(list)
    # payouts.BudgetPolicy.to_dict(), set by the operator; None = postpaid, routing never held.
    budget_policy: Optional[dict[str, Any]] = Field(default=None, sa_column=Column(JSON, nullable=True))
    # signs customers' identities (HMAC-SHA256 of the brand's user id); made on first request
    identity_secret: Optional[str] = Field(default=None, max_length=64)
    # payouts.trust.TrustSettings overrides (docs/trust.md); {} = the defaults
    trust_settings: dict[str, Any] = json_field(dict)
    # how resolved cases' answers are reused as suggestions: "auto", "curated" or "off"
    answer_reuse: str = Field(default="auto", max_length=16, sa_column_kwargs={"server_default": "auto"})
    # conversations older than this lose their text and customers are anonymised; None = kept
    retention_days: Optional[int] = None


class BrandApiKey(SQLModel, table=True):
    """A brand API key; only its SHA-256 is stored, rotation revokes the old one."""

    id: Optional[int] = Field(default=None, primary_key=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    key_hash: str = Field(unique=True, index=True, max_length=64)
    prefix: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: Optional[datetime] = None


class StaffUser(SQLModel, table=True):
    """A brand's staff member (role `admin` or `analyst`) for the brand console."""

    __table_args__ = (UniqueConstraint("brand_id", "email"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    email: str = Field(max_length=254)
    display_name: str = Field(default="", max_length=100)
    password_hash: str
    role: str = Field(default=StaffRole.admin, max_length=16)
    created_at: datetime = Field(default_factory=utcnow)


class Topic(SQLModel, table=True):
    """A question topic of one brand with its reward and example questions."""

    __table_args__ = (UniqueConstraint("brand_id", "slug"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    slug: str = Field(max_length=64)
    name: str = Field(max_length=200)
    description: str = Field(default="", max_length=4000)
    reward_cents: int = 0
    examples: list[str] = json_field(list)
    active: bool = True
    updated_at: datetime = Field(default_factory=utcnow)


class Expert(SQLModel, table=True):
    """An experienced product user who answers questions for pay."""

    id: Optional[int] = Field(default=None, primary_key=True)
    email: str = Field(unique=True, index=True, max_length=254)
    password_hash: str
    display_name: str = Field(max_length=100)
    languages: list[str] = json_field(list)
    max_cases: int = 3
    created_at: datetime = Field(default_factory=utcnow)
    stripe_account_id: Optional[str] = Field(default=None, max_length=64)
    payouts_enabled: bool = False
    account_updated_at: Optional[int] = None
    # id of the last applied account.updated event (ties on `account_updated_at` need it).
    account_event_id: Optional[str] = Field(default=None, max_length=100)


class ExpertProgram(SQLModel, table=True):
    """An expert's membership of a brand's program: applied, approved for topics, or suspended."""

    __table_args__ = (UniqueConstraint("expert_id", "brand_id"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    expert_id: int = Field(foreign_key="expert.id", index=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    status: str = Field(default=ProgramStatus.pending, max_length=16)
    requested_topics: list[str] = json_field(list)
    topics: list[str] = json_field(list)
    created_at: datetime = Field(default_factory=utcnow)
    decided_at: Optional[datetime] = None
    # the expert's own user id on the brand's site (set at approval): their own questions are theirs
    external_user_id: Optional[str] = Field(default=None, max_length=200)


class AuthToken(SQLModel, table=True):
    """A bearer token of an expert or staff user; hashed at rest and revocable."""

    id: Optional[int] = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, index=True, max_length=64)
    kind: str = Field(max_length=16)
    subject_id: int = Field(index=True)
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: Optional[datetime] = None


class TopicModel(SQLModel, table=True):
    """A trained topic classifier of a brand; the newest version is the one served."""

    __table_args__ = (UniqueConstraint("brand_id", "version"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    version: int
    created_at: datetime = Field(default_factory=utcnow)
    n_examples: int
    classes: list[str] = json_field(list)
    embeddings: bool = False
    cv_accuracy: Optional[float] = None
    blob: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
