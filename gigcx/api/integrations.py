"""Outbound webhooks and e-mail preferences: brands' endpoints and delivery log, who is e-mailed
about what (docs/webhooks.md, docs/api.md#webhooks-and-notifications)."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from gigcx import db
from gigcx.api import SECURITY, TAGS, api
from gigcx.api.responses.notify import (
    BrandNotifications,
    DeliveryDetail,
    DeliveryList,
    DeliveryView,
    EndpointList,
    EndpointView,
    ExpertNotifications,
    StaffNotifications,
    WebhookEventTypes,
)
from gigcx.auth import principal, requires
from gigcx.errors import ApiError
from gigcx.schemas import MAX_ID, Email, Strict, StrictQuery
from gigcx.services import mail
from gigcx.services import webhooks as svc

Url = Annotated[str, StringConstraints(strip_whitespace=True, min_length=8, max_length=2000)]
EventName = Literal["case.created", "case.offered", "case.accepted", "case.resolved", "case.escalated",
                    "case.rated", "case.reviewed", "payout.sent", "payout.failed"]
Lang = Literal["en", "fr"]


class EndpointCreate(Strict):
    url: Url
    kind: Literal["webhook", "chat"] = "webhook"
    events: list[EventName] | None = Field(None, max_length=20)
    description: Annotated[str, StringConstraints(max_length=200)] = ""


class EndpointUpdate(Strict):
    url: Url | None = None
    events: list[EventName] | None = Field(None, max_length=20)
    description: Annotated[str, StringConstraints(max_length=200)] | None = None
    status: Literal["active", "disabled"] | None = None


class RotateSecret(Strict):
    overlap_s: int = Field(86400, ge=0, le=7 * 86400)


class EndpointPath(BaseModel):
    id: int = Field(ge=1, le=MAX_ID)


class DeliveryPath(BaseModel):
    id: int = Field(ge=1, le=MAX_ID)


class DeliveryQuery(StrictQuery):
    endpoint_id: int | None = Field(None, ge=1, le=MAX_ID)
    case_id: int | None = Field(None, ge=1, le=MAX_ID)
    status: Literal["pending", "delivered", "failed"] | None = None
    before_id: int | None = Field(None, ge=1, le=MAX_ID)
    limit: int = Field(50, ge=1, le=200)


class ExpertPrefs(Strict):
    offers: bool | None = None
    digest: bool | None = None
    payouts: bool | None = None
    language: Lang | None = None


class StaffPrefs(Strict):
    escalations: bool | None = None
    alerts: bool | None = None
    language: Lang | None = None


class BrandPrefs(Strict):
    contact_email: Email | None = None  # type: ignore[valid-type]
    alerts: bool | None = None
    language: Lang | None = None


def _brand() -> int:
    return principal().brand_id  # type: ignore[return-value]


def _reveal() -> bool:
    return principal().can_write


# ---- endpoints -------------------------------------------------------------------------------------

@api.get("/webhooks/events", tags=[TAGS["webhooks"]], security=SECURITY,
         responses={200: WebhookEventTypes})
@requires("brand")
def webhook_event_types() -> dict[str, Any]:
    """The event types an endpoint may subscribe to."""
    return {"events": list(svc.EVENTS), "signature_header": svc.SIGNATURE_HEADER}


@api.post("/webhooks/endpoints", tags=[TAGS["webhooks"]], security=SECURITY,
          responses={201: EndpointView})
@requires("brand_admin")
def create_webhook_endpoint(body: EndpointCreate) -> tuple[dict[str, Any], int]:
    """Register an endpoint (`webhook`: signed JSON events; `chat`: a team chat's incoming-webhook
    URL, sent `{"text": …}`); the answer holds its signing secret."""
    ep = svc.create_endpoint(db.request_session(), _brand(), url=body.url, kind=body.kind,
                             events=None if body.events is None else [str(e) for e in body.events],
                             description=body.description)
    return svc.endpoint_view(ep, reveal=True), 201


@api.get("/webhooks/endpoints", tags=[TAGS["webhooks"]], security=SECURITY,
         responses={200: EndpointList})
@requires("brand")
def list_webhook_endpoints() -> dict[str, Any]:
    """The brand's endpoints with their state (`active` or `disabled`, and why)."""
    return {"endpoints": [svc.endpoint_view(ep, reveal=_reveal())
                          for ep in svc.list_endpoints(db.request_session(), _brand())]}


@api.get("/webhooks/endpoints/<int:id>", tags=[TAGS["webhooks"]], security=SECURITY,
         responses={200: EndpointView})
@requires("brand")
def get_webhook_endpoint(path: EndpointPath) -> dict[str, Any]:
    """One endpoint."""
    return svc.endpoint_view(svc.get_endpoint(db.request_session(), _brand(), path.id), reveal=_reveal())


@api.patch("/webhooks/endpoints/<int:id>", tags=[TAGS["webhooks"]], security=SECURITY,
           responses={200: EndpointView})
@requires("brand_admin")
def update_webhook_endpoint(path: EndpointPath, body: EndpointUpdate) -> dict[str, Any]:
    """Change the URL, events or description; `status: "active"` enables a disabled endpoint."""
    ep = svc.update_endpoint(db.request_session(), _brand(), path.id, body.model_dump(exclude_unset=True))
    return svc.endpoint_view(ep, reveal=True)


@api.delete("/webhooks/endpoints/<int:id>", tags=[TAGS["webhooks"]], security=SECURITY,
            responses={204: None})
@requires("brand_admin")
def delete_webhook_endpoint(path: EndpointPath) -> tuple[str, int]:
    """Remove an endpoint and its delivery log."""
    svc.delete_endpoint(db.request_session(), _brand(), path.id)
    return "", 204


@api.post("/webhooks/endpoints/<int:id>/rotate-secret", tags=[TAGS["webhooks"]], security=SECURITY,
          responses={200: EndpointView})
@requires("brand_admin")
def rotate_webhook_secret(path: EndpointPath, body: RotateSecret) -> dict[str, Any]:
    """A new signing secret; deliveries carry signatures with both for `overlap_s` (default a day)."""
    return svc.endpoint_view(svc.rotate_secret(db.request_session(), _brand(), path.id, body.overlap_s),
                             reveal=True)


# ---- the delivery log ------------------------------------------------------------------------------

@api.get("/webhooks/deliveries", tags=[TAGS["webhooks"]], security=SECURITY,
         responses={200: DeliveryList})
@requires("brand")
def list_webhook_deliveries(query: DeliveryQuery) -> dict[str, Any]:
    """Deliveries, newest first, with their last response code; page with `before_id`."""
    rows = svc.list_deliveries(db.request_session(), _brand(), endpoint_id=query.endpoint_id,
                               status=query.status, case_id=query.case_id, before_id=query.before_id,
                               limit=query.limit + 1)
    page = rows[: query.limit]
    return {"deliveries": [svc.delivery_view(d) for d in page],
            "next_before_id": page[-1].id if len(rows) > query.limit and page else None}


@api.get("/webhooks/deliveries/<int:id>", tags=[TAGS["webhooks"]], security=SECURITY,
         responses={200: DeliveryDetail})
@requires("brand")
def get_webhook_delivery(path: DeliveryPath) -> dict[str, Any]:
    """One delivery with its payload and every attempt (response code, error, duration)."""
    d, attempts = svc.get_delivery(db.request_session(), _brand(), path.id)
    return svc.delivery_view(d, full=True, attempts=attempts)


@api.post("/webhooks/deliveries/<int:id>/replay", tags=[TAGS["webhooks"]], security=SECURITY,
          responses={201: DeliveryView})
@requires("brand_admin")
def replay_webhook_delivery(path: DeliveryPath) -> tuple[dict[str, Any], int]:
    """Send the delivery's event again, now, as a new delivery (same event id)."""
    return svc.delivery_view(svc.replay(db.request_session(), _brand(), path.id)), 201


# ---- e-mail preferences ----------------------------------------------------------------------------

def _prefs(owner: str, changes: dict[str, Any] | None) -> dict[str, Any]:
    session = db.request_session()
    row = mail.prefs(session, owner) if changes is None else mail.update_prefs(session, owner, changes)
    return mail.prefs_view(row)


@api.get("/experts/me/notifications", tags=[TAGS["notifications"]], security=SECURITY,
         responses={200: ExpertNotifications})
@requires("expert")
def get_expert_notifications() -> dict[str, Any]:
    """Which e-mails the expert gets: waiting offers, a daily earnings digest, payout notices."""
    return _prefs(f"expert:{principal().expert_id}", None)


@api.put("/experts/me/notifications", tags=[TAGS["notifications"]], security=SECURITY,
         responses={200: ExpertNotifications})
@requires("expert")
def put_expert_notifications(body: ExpertPrefs) -> dict[str, Any]:
    """Opt in or out (fields left out keep their value)."""
    return _prefs(f"expert:{principal().expert_id}", body.model_dump(exclude_unset=True))


def _staff_owner() -> str:
    me = principal()
    if me.staff_id is None:
        raise ApiError("forbidden", "only staff users have e-mail preferences; see /brand/notifications")
    return f"staff:{me.staff_id}"


@api.get("/staff/me/notifications", tags=[TAGS["notifications"]], security=SECURITY,
         responses={200: StaffNotifications})
@requires("brand")
def get_staff_notifications() -> dict[str, Any]:
    """Whether this staff user is e-mailed about escalations (on by default) and alerts."""
    return _prefs(_staff_owner(), None)


@api.put("/staff/me/notifications", tags=[TAGS["notifications"]], security=SECURITY,
         responses={200: StaffNotifications})
@requires("brand")
def put_staff_notifications(body: StaffPrefs) -> dict[str, Any]:
    """Change this staff user's e-mails (analysts too: it is their own inbox)."""
    return _prefs(_staff_owner(), body.model_dump(exclude_unset=True))


@api.get("/brand/notifications", tags=[TAGS["notifications"]], security=SECURITY,
         responses={200: BrandNotifications})
@requires("brand")
def get_brand_notifications() -> dict[str, Any]:
    """The brand's contact address for alerts (a disabled endpoint)."""
    return _prefs(f"brand:{_brand()}", None)


@api.put("/brand/notifications", tags=[TAGS["notifications"]], security=SECURITY,
         responses={200: BrandNotifications})
@requires("brand_admin")
def put_brand_notifications(body: BrandPrefs) -> dict[str, Any]:
    """Set the contact address (null: alerts go to the brand's admins) and its language."""
    changes = body.model_dump(exclude_unset=True)
    if "contact_email" in changes:
        changes["email"] = changes.pop("contact_email")
    return _prefs(f"brand:{_brand()}", changes)
