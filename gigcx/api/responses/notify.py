"""Answers about outbound webhooks and e-mail preferences."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from gigcx.api.responses.common import Time


class WebhookEventTypes(BaseModel):
    events: list[str]
    signature_header: str


class EndpointView(BaseModel):
    id: int
    kind: str = Field(description="webhook or chat")
    url: str
    description: str
    events: list[str]
    status: str = Field(description="active or disabled")
    disabled_at: Time
    disabled_reason: str | None
    failing_since: Time
    last_success_at: Time
    created_at: Time
    previous_secret_expires_at: Time
    secret: str | None = Field(None, description="only to those who may change the endpoint")


class EndpointList(BaseModel):
    endpoints: list[EndpointView]


class DeliveryView(BaseModel):
    id: int
    endpoint_id: int
    event_id: str
    event_type: str
    case_id: int | None
    status: str = Field(description="pending, delivered or failed")
    attempts: int
    response_status: int | None
    error: str | None
    created_at: Time
    next_attempt_at: Time
    delivered_at: Time
    replay_of: int | None


class Attempt(BaseModel):
    at: Time
    response_status: int | None
    error: str | None
    duration_ms: int


class DeliveryDetail(DeliveryView):
    payload: dict[str, Any]
    attempt_log: list[Attempt]


class DeliveryList(BaseModel):
    deliveries: list[DeliveryView]
    next_before_id: int | None


class ExpertNotifications(BaseModel):
    offers: bool
    digest: bool
    payouts: bool
    language: str
    smtp_configured: bool


class StaffNotifications(BaseModel):
    escalations: bool
    alerts: bool
    language: str
    smtp_configured: bool


class BrandNotifications(BaseModel):
    alerts: bool
    language: str
    contact_email: str | None
    smtp_configured: bool
