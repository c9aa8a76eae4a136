"""Outbound webhooks: brands' endpoints, deliveries written with the change they announce, and
the sender that signs, retries and orders them (docs/webhooks.md).

A delivery row is inserted in the transaction of the change (`emit`), so an event exists if and
only if its change committed. Serving processes send due deliveries after the commit
(`gigcx.services.webhook_sender`).
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import bindparam, event, insert, select
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col
from sqlmodel import select as sm_select

from gigcx import outbound
from gigcx.errors import ApiError
from gigcx.events import expert_summary
from gigcx.models import (
    Brand,
    Case,
    DeliveryStatus,
    EndpointKind,
    EndpointStatus,
    PayoutStatus,
    ProgramStatus,
    Rating,
    utcnow,
)
from gigcx.models.base import iso, table_of
from gigcx.models.notify import WebhookAttempt, WebhookDelivery, WebhookEndpoint

log = logging.getLogger(__name__)

CASE_EVENTS = ("case.created", "case.offered", "case.accepted", "case.resolved", "case.escalated",
               "case.rated", "case.reviewed")
PAYOUT_EVENTS = ("payout.sent", "payout.failed")
EVENTS = CASE_EVENTS + PAYOUT_EVENTS
SIGNATURE_HEADER = "GigCX-Signature"
USER_AGENT = "GigCX-Webhooks/1"  # the version of the payload format
_D = table_of(WebhookDelivery)
_E = table_of(WebhookEndpoint)
_A = table_of(WebhookAttempt)


# ---- signatures ----------------------------------------------------------------------------------

def new_secret() -> str:
    """A fresh signing secret (256 random bits)."""
    return "whsec_" + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """HMAC-SHA256 of `"{timestamp}.{body}"` in hex (Stripe's scheme)."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(endpoint: WebhookEndpoint, timestamp: int, body: bytes, now: datetime) -> str:
    """`t=…,v1=…` signed with the current secret, plus the previous one during a rotation."""
    parts = [f"t={timestamp}", f"v1={sign(endpoint.secret, timestamp, body)}"]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and _aware(expires) > now:
        parts.append(f"v1={sign(endpoint.previous_secret, timestamp, body)}")
    return ",".join(parts)


def verify(header: str, body: bytes, secret: str, tolerance_s: int = 300, now: float | None = None) -> bool:
    """Whether the header carries a valid, recent signature of `body` made with `secret`."""
    items = [p.split("=", 1) for p in header.split(",") if "=" in p]
    stamps = [v for k, v in items if k.strip() == "t"]
    if len(stamps) != 1 or not stamps[0].isdigit():
        return False
    t = int(stamps[0])
    if abs((time.time() if now is None else now) - t) > tolerance_s:
        return False
    want = sign(secret, t, body)
    return any(hmac.compare_digest(want, v.strip()) for k, v in items if k.strip() == "v1")


def _aware(dt: datetime) -> datetime:
    from datetime import UTC

    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


# ---- endpoints -----------------------------------------------------------------------------------

def _check_events(kind: str, events: list[str]) -> list[str]:
    unknown = sorted(set(events) - set(EVENTS))
    if unknown:
        raise ApiError("invalid", f"unknown event(s): {', '.join(unknown)}; known: {', '.join(EVENTS)}")
    if not events:
        raise ApiError("invalid", "events: pick at least one")
    return [e for e in EVENTS if e in events]


def _check_url(url: str) -> None:
    try:
        outbound.check_url(url, current_app.config["GIGCX"].webhook_allow_private)
    except outbound.Refused as exc:
        raise ApiError("invalid", f"url: {exc}", fields=[{"field": "url", "problem": str(exc)}]) from None


def create_endpoint(session: Session, brand_id: int, *, url: str, kind: str, events: list[str] | None,
                    description: str) -> WebhookEndpoint:
    """Register an endpoint; chat endpoints default to escalations."""
    _check_url(url)
    chosen = _check_events(kind, list(events) if events is not None else (
        ["case.escalated"] if kind == EndpointKind.chat else list(EVENTS)))
    ep = WebhookEndpoint(brand_id=brand_id, kind=kind, url=url, events=chosen, description=description,
                         secret=new_secret())
    session.add(ep)
    session.flush()
    return ep


def get_endpoint(session: Session, brand_id: int, endpoint_id: int) -> WebhookEndpoint:
    """The brand's endpoint or not_found."""
    ep = session.get(WebhookEndpoint, endpoint_id)
    if ep is None or ep.brand_id != brand_id:
        raise ApiError("not_found", "no such endpoint")
    return ep


def list_endpoints(session: Session, brand_id: int) -> list[WebhookEndpoint]:
    return list(session.exec(sm_select(WebhookEndpoint).where(WebhookEndpoint.brand_id == brand_id)
                             .order_by(col(WebhookEndpoint.id))))


def update_endpoint(session: Session, brand_id: int, endpoint_id: int, changes: dict[str, Any]) -> WebhookEndpoint:
    """Change the URL, events, description, or enable/disable."""
    ep = get_endpoint(session, brand_id, endpoint_id)
    for name, value in changes.items():
        if value is None:
            raise ApiError("invalid", f"{name}: may not be null")
    if "url" in changes:
        _check_url(changes["url"])
        ep.url = changes["url"]
    if "events" in changes:
        ep.events = _check_events(ep.kind, changes["events"])
    if "description" in changes:
        ep.description = changes["description"]
    if "status" in changes and changes["status"] != ep.status:
        ep.status = changes["status"]
        if ep.status == EndpointStatus.active:  # a fresh start: failures before the re-enable do not count
            ep.disabled_at, ep.disabled_reason, ep.failing_since = None, None, None
        else:
            ep.disabled_at, ep.disabled_reason = utcnow(), "disabled by the brand"
    ep.updated_at = utcnow()
    session.add(ep)
    session.flush()
    return ep


def rotate_secret(session: Session, brand_id: int, endpoint_id: int, overlap_s: int) -> WebhookEndpoint:
    """A new secret; the old one keeps signing (alongside) for `overlap_s`."""
    ep = get_endpoint(session, brand_id, endpoint_id)
    now = utcnow()
    ep.previous_secret = ep.secret if overlap_s > 0 else None
    ep.previous_secret_expires_at = now + timedelta(seconds=overlap_s) if overlap_s > 0 else None
    ep.secret, ep.updated_at = new_secret(), now
    session.add(ep)
    session.flush()
    return ep


def delete_endpoint(session: Session, brand_id: int, endpoint_id: int) -> None:
    """Remove an endpoint with its delivery log."""
    from sqlalchemy import delete

    ep = get_endpoint(session, brand_id, endpoint_id)
    ids = select(_D.c.id).where(_D.c.endpoint_id == ep.id)
    session.execute(delete(WebhookAttempt).where(col(WebhookAttempt.delivery_id).in_(ids)))
    assert ep.id is not None  # a stored row
    session.execute(delete(WebhookDelivery).where(col(WebhookDelivery.endpoint_id) == ep.id))
    session.delete(ep)
    session.flush()


def endpoint_view(ep: WebhookEndpoint, *, reveal: bool) -> dict[str, Any]:
    """An endpoint as the API shows it; secrets only to those who may change it."""
    now = utcnow()
    overlap = ep.previous_secret_expires_at is not None and _aware(ep.previous_secret_expires_at) > now
    out: dict[str, Any] = {
        "id": ep.id, "kind": ep.kind, "url": ep.url, "description": ep.description, "events": ep.events,
        "status": ep.status, "disabled_at": iso(ep.disabled_at), "disabled_reason": ep.disabled_reason,
        "failing_since": iso(ep.failing_since), "last_success_at": iso(ep.last_success_at),
        "created_at": iso(ep.created_at),
        "previous_secret_expires_at": iso(ep.previous_secret_expires_at) if overlap else None}
    if reveal:
        out["secret"] = ep.secret
    return out


# ---- events (in the transaction of the change) ---------------------------------------------------

_ACTIVE_ENDPOINTS = select(_E.c.id, _E.c.kind, _E.c.events).where(  # built once: every case event reads it
    _E.c.brand_id == bindparam("b_brand"), _E.c.status == EndpointStatus.active)


def _subscribers(session: Session, brand_id: int) -> list[tuple[int, str, list[str]]]:
    """The brand's active endpoints (id, kind, events), read once per transaction."""
    memo: dict[int, list[tuple[int, str, list[str]]]] = session.info.setdefault("gigcx_endpoints", {})
    if brand_id not in memo:
        rows = session.connection().execute(_ACTIVE_ENDPOINTS, {"b_brand": brand_id}).all()
        memo[brand_id] = [(r[0], r[1], list(r[2] or [])) for r in rows]
    return memo[brand_id]


@event.listens_for(OrmSession, "after_commit")
@event.listens_for(OrmSession, "after_rollback")
def _forget_subscribers(session: OrmSession) -> None:
    """The next transaction reads the endpoints again (one may have been added meanwhile)."""
    session.info.pop("gigcx_endpoints", None)


def _console_base() -> str:
    from gigcx.services.mail import public_url

    return public_url()


def emit(session: Session, brand: Brand, event_type: str, data: dict[str, Any], order_key: str,
         case_id: int | None = None) -> int:
    """Queue `event_type` for every endpoint of the brand that wants it; returns how many."""
    assert brand.id is not None  # a stored row
    wanted = [(eid, kind) for eid, kind, events in _subscribers(session, brand.id) if event_type in events]
    if not wanted:
        return 0
    now = utcnow()
    envelope = {"id": "evt_" + uuid.uuid4().hex, "type": event_type, "created_at": iso(now),
                "brand": brand.slug, "data": data}
    rows = []
    for endpoint_id, kind in wanted:
        payload = {"text": chat_text(envelope)} if kind == EndpointKind.chat else envelope
        rows.append({"endpoint_id": endpoint_id, "brand_id": brand.id, "event_id": envelope["id"],
                     "event_type": event_type, "order_key": order_key, "case_id": case_id,
                     "payload": payload, "status": DeliveryStatus.pending, "attempts": 0, "next_attempt_at": now,
                     "created_at": now})
    session.connection().execute(insert(_D), rows)
    return len(rows)


def case_data(session: Session, case: Case) -> dict[str, Any]:
    """The case as a brand sees it (original text), with a link to the brand console."""
    expert = None
    if case.expert_id is not None:
        summary = expert_summary(session, case.expert_id) or {}
        expert = {"id": case.expert_id, "display_name": summary.get("display_name")}
    return {"id": case.id, "rev": case.rev, "status": case.status, "topic": case.topic,
            "topic_confidence": case.topic_confidence, "language": case.language, "question": case.question,
            "deflected": case.deflected, "expert": expert, "escalation_reason": case.escalation_reason,
            "reward_cents": case.reward_cents, "created_at": iso(case.created_at),
            "assigned_at": iso(case.assigned_at), "first_response_at": iso(case.first_response_at),
            "resolved_at": iso(case.resolved_at), "escalated_at": iso(case.escalated_at),
            "closed_at": iso(case.closed_at), "url": f"{_console_base()}/brand/?case={case.id}#cases"}


def case_event(session: Session, event_type: str, case: Case, **extra: Any) -> None:
    """Announce a change of a case to the brand's endpoints (and e-mail staff of escalations).
    Most brands have no endpoint: then this is one indexed SELECT per transaction, nothing more."""
    if event_type == "case.escalated":
        from gigcx.services import mail

        brand = session.get(Brand, case.brand_id)
        if brand is not None:
            mail.escalated(session, brand, case)
    if not any(event_type in events for _, _, events in _subscribers(session, case.brand_id)):
        return
    brand = session.get(Brand, case.brand_id)
    if brand is None:
        return
    data: dict[str, Any] = {"case": case_data(session, case)}
    if event_type == "case.rated":
        rating = session.exec(sm_select(Rating).where(Rating.case_id == case.id)).first()
        if rating is not None:
            data["rating"] = {"csat": rating.csat, "nps": rating.nps, "comment": rating.comment}
    if event_type == "case.reviewed":
        data["review"] = {"verdict": case.review_verdict, "note": case.review_note,
                          "reviewed_at": iso(case.reviewed_at)}
    data.update(extra)
    emit(session, brand, event_type, data, f"case:{case.id}", case.id)


def payout_event(session: Session, payout: Any) -> None:
    """Announce a payout's outcome (`paid` -> payout.sent, `failed`) to the brands the expert works
    for, and e-mail the expert if they asked for payout notices."""
    from gigcx.models import ExpertProgram
    from gigcx.services import mail

    if payout.status not in (PayoutStatus.paid, PayoutStatus.failed):
        return
    event_type = "payout.sent" if payout.status == PayoutStatus.paid else "payout.failed"
    data = {"payout": {"id": payout.id, "expert_id": payout.expert_id, "amount_cents": payout.amount_cents,
                       "currency": payout.currency, "status": payout.status, "transfer_id": payout.transfer_id,
                       "error": payout.error, "updated_at": iso(payout.updated_at)}}
    brand_ids = session.exec(sm_select(ExpertProgram.brand_id).where(
        ExpertProgram.expert_id == payout.expert_id,
        col(ExpertProgram.status).in_((ProgramStatus.approved, ProgramStatus.suspended)))).all()
    for brand_id in sorted(set(brand_ids)):
        brand = session.get(Brand, brand_id)
        if brand is not None:
            emit(session, brand, event_type, data, f"payout:{payout.id}")
    mail.payout_notice(session, payout)


def chat_text(envelope: dict[str, Any]) -> str:
    """One line a team chat shows (Slack `mrkdwn`, which Mattermost and others read too)."""
    data, kind = envelope["data"], envelope["type"]
    if "case" in data:
        c = data["case"]
        head = f"Case #{c['id']}" + (f" ({c['topic']})" if c.get("topic") else "")
        what = {"case.created": "was opened", "case.offered": "was offered to experts",
                "case.accepted": "was accepted by an expert", "case.resolved": "was resolved",
                "case.escalated": "was escalated to your team", "case.rated": "was rated",
                "case.reviewed": "was reviewed"}.get(kind, kind)
        text = f"*{head} {what}*"
        if kind == "case.escalated" and c.get("escalation_reason"):
            text += f"\nReason: {_plain(c['escalation_reason'])}"
        text += f"\n> {_plain(c.get('question') or '')[:300]}"
        if kind == "case.rated" and data.get("rating"):
            text += f"\nCSAT {data['rating']['csat']}/5"
        return text + f"\n<{c['url']}|Open in the brand console>"
    p = data.get("payout", {})
    return (f"*Payout {p.get('id')} {'sent' if kind == 'payout.sent' else 'failed'}*: "
            f"{p.get('amount_cents', 0) / 100:.2f} {str(p.get('currency', '')).upper()}")


def _plain(text: str) -> str:
    """Neutralise Slack's control characters in user text (links, mentions)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ---- deliveries: the log and replays ------------------------------------------------------------

def delivery_view(d: WebhookDelivery, *, full: bool = False, attempts: list[WebhookAttempt] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": d.id, "endpoint_id": d.endpoint_id, "event_id": d.event_id, "event_type": d.event_type,
        "case_id": d.case_id, "status": d.status, "attempts": d.attempts,
        "response_status": d.last_status_code, "error": d.last_error, "created_at": iso(d.created_at),
        "next_attempt_at": iso(d.next_attempt_at) if d.status == DeliveryStatus.pending else None,
        "delivered_at": iso(d.delivered_at), "replay_of": d.replay_of}
    if full:
        out["payload"] = d.payload
        out["attempt_log"] = [{"at": iso(a.at), "response_status": a.status_code, "error": a.error,
                               "duration_ms": a.duration_ms} for a in attempts or []]
    return out


def list_deliveries(session: Session, brand_id: int, *, endpoint_id: int | None, status: str | None,
                    case_id: int | None, before_id: int | None, limit: int) -> list[WebhookDelivery]:
    q = sm_select(WebhookDelivery).where(WebhookDelivery.brand_id == brand_id)
    for column, value in ((WebhookDelivery.endpoint_id, endpoint_id), (WebhookDelivery.status, status),
                          (WebhookDelivery.case_id, case_id)):
        if value is not None:
            q = q.where(column == value)
    if before_id is not None:
        q = q.where(col(WebhookDelivery.id) < before_id)
    return list(session.exec(q.order_by(col(WebhookDelivery.id).desc()).limit(limit)))


def get_delivery(session: Session, brand_id: int, delivery_id: int) -> tuple[WebhookDelivery, list[WebhookAttempt]]:
    d = session.get(WebhookDelivery, delivery_id)
    if d is None or d.brand_id != brand_id:
        raise ApiError("not_found", "no such delivery")
    attempts = list(session.exec(sm_select(WebhookAttempt).where(WebhookAttempt.delivery_id == d.id)
                                 .order_by(col(WebhookAttempt.id))))
    return d, attempts


def replay(session: Session, brand_id: int, delivery_id: int) -> WebhookDelivery:
    """Send a delivery's event again (same event id: receivers may deduplicate)."""
    d, _ = get_delivery(session, brand_id, delivery_id)
    ep = session.get(WebhookEndpoint, d.endpoint_id)
    if ep is None or ep.status != EndpointStatus.active:
        raise ApiError("conflict", "the endpoint is disabled: enable it before replaying")
    again = WebhookDelivery(endpoint_id=d.endpoint_id, brand_id=d.brand_id, event_id=d.event_id,
                            event_type=d.event_type, order_key="replay", case_id=d.case_id,
                            payload=d.payload, replay_of=d.id)
    session.add(again)
    session.flush()
    again.order_key = f"replay:{again.id}"  # a replay waits for nothing
    session.add(again)
    session.flush()
    return again
