"""Reaching people outside the consoles: brands' webhook endpoints and their deliveries,
per-person e-mail preferences, and the e-mail outbox."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Optional

from sqlalchemy import JSON, Text
from sqlmodel import Column, Field, Index, SQLModel

from gigcx.models.base import json_field, utcnow


class EndpointKind(StrEnum):
    """A brand's own URL (signed events) or a team chat's incoming webhook (text)."""

    webhook = "webhook"
    chat = "chat"


class EndpointStatus(StrEnum):
    active = "active"
    disabled = "disabled"


class DeliveryStatus(StrEnum):
    """A webhook delivery's state."""

    pending = "pending"
    delivered = "delivered"
    failed = "failed"


class EmailStatus(StrEnum):
    pending = "pending"
    sent = "sent"
    failed = "failed"


class WebhookEndpoint(SQLModel, table=True):
    """A URL of a brand's that receives signed events (`webhook`), or a team chat's incoming
    webhook that receives them as Slack-compatible text (`chat`)."""

    __tablename__ = "webhook_endpoint"
    id: Optional[int] = Field(default=None, primary_key=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    kind: str = Field(default=EndpointKind.webhook, max_length=16)
    url: str = Field(max_length=2000)
    description: str = Field(default="", max_length=200)
    events: list[str] = json_field(list)
    secret: str = Field(max_length=100)
    # the secret before the last rotation; deliveries are signed with both until it expires
    previous_secret: Optional[str] = Field(default=None, max_length=100)
    previous_secret_expires_at: Optional[datetime] = None
    status: str = Field(default=EndpointStatus.active, max_length=16)
    disabled_at: Optional[datetime] = None
    disabled_reason: Optional[str] = Field(default=None, max_length=500)
    # first failure since the last success; failing for webhook_disable_after_s disables it
    failing_since: Optional[datetime] = None
    last_success_at: Optional[datetime] = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class WebhookDelivery(SQLModel, table=True):
    """One event for one endpoint, written in the transaction of the change it announces and
    sent after the commit; `order_key` (the case) keeps a case's deliveries in order."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        Index("ix_webhook_delivery_due", "status", "next_attempt_at"),
        Index("ix_webhook_delivery_order", "endpoint_id", "order_key", "status"),
    )
    id: Optional[int] = Field(default=None, primary_key=True)
    endpoint_id: int = Field(foreign_key="webhook_endpoint.id")
    brand_id: int = Field(index=True)
    event_id: str = Field(max_length=40, index=True)
    event_type: str = Field(max_length=40)
    order_key: str = Field(max_length=64)
    case_id: Optional[int] = None
    payload: dict[str, Any] = json_field(dict)
    status: str = Field(default=DeliveryStatus.pending, max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow)
    claimed_until: Optional[datetime] = None
    claimed_by: Optional[str] = Field(default=None, max_length=64)
    last_status_code: Optional[int] = None
    last_error: Optional[str] = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow)
    delivered_at: Optional[datetime] = None
    replay_of: Optional[int] = None


class WebhookAttempt(SQLModel, table=True):
    """One try of a delivery: the endpoint's status code or what went wrong, and how long it took."""

    __tablename__ = "webhook_attempt"
    id: Optional[int] = Field(default=None, primary_key=True)
    delivery_id: int = Field(foreign_key="webhook_delivery.id", index=True)
    at: datetime = Field(default_factory=utcnow)
    status_code: Optional[int] = None
    error: Optional[str] = Field(default=None, max_length=500)
    duration_ms: int = 0


class NotificationSettings(SQLModel, table=True):
    """What one person (`expert:ID`, `staff:ID`) or a brand's contact (`brand:ID`) is e-mailed
    about, and in which language. No row means the defaults (experts: nothing; staff: escalations and alerts)."""

    __tablename__ = "notification_settings"
    id: Optional[int] = Field(default=None, primary_key=True)
    owner: str = Field(max_length=40, unique=True, index=True)
    email: Optional[str] = Field(default=None, max_length=254)  # brands' contact address
    language: str = Field(default="en", max_length=8)
    offers: bool = False
    digest: bool = False
    payouts: bool = False
    escalations: bool = False
    alerts: bool = False
    digest_sent_on: Optional[str] = Field(default=None, max_length=10)
    updated_at: datetime = Field(default_factory=utcnow)


class OutboundEmail(SQLModel, table=True):
    """A rendered e-mail waiting for (or past) the SMTP server; `dedupe_key` sends it once."""

    __tablename__ = "outbound_email"
    __table_args__ = (Index("ix_outbound_email_due", "status", "next_attempt_at"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    dedupe_key: Optional[str] = Field(default=None, max_length=120, unique=True)
    owner: str = Field(max_length=40, index=True)
    list: str = Field(max_length=20)
    to_addr: str = Field(max_length=254)
    subject: str = Field(max_length=300)
    text: str = Field(sa_column=Column(Text, nullable=False))
    html: str = Field(sa_column=Column(Text, nullable=False))
    headers: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default=EmailStatus.pending, max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow)
    claimed_until: Optional[datetime] = None
    last_error: Optional[str] = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: Optional[datetime] = None
