"""Sending webhooks: the sender that signs, retries and orders deliveries (docs/webhooks.md).

Serving processes send due deliveries after the commit of the change that wrote them (`Sender`):
a delivery is claimed by a conditional UPDATE (a lease) in a unit of work of its own, sent with no
transaction open, and its outcome recorded in a second short unit of work. A case's deliveries to
one endpoint go in order: one waits while an earlier one is pending (being retried), until it
succeeds or is given up.
"""
from __future__ import annotations

import json
import logging
import random
import threading
from datetime import datetime, timedelta

from flask import Flask, current_app
from sqlalchemy import exists, or_, select, update
from sqlmodel import Session
from sqlmodel import select as sm_select

from gigcx import outbound
from gigcx.db import session_scope
from gigcx.models import DeliveryStatus, EndpointStatus, utcnow
from gigcx.models.base import iso
from gigcx.models.notify import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from gigcx.services.webhooks import SIGNATURE_HEADER, USER_AGENT, signature_header
from gigcx.uow import transaction

log = logging.getLogger("gigcx.services.webhooks")
_D = WebhookDelivery.__table__  # type: ignore[attr-defined]
_E = WebhookEndpoint.__table__  # type: ignore[attr-defined]


def _aware(dt: datetime) -> datetime:
    from datetime import UTC

    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


PER_ENDPOINT = 2  # requests in flight to one endpoint per process: a dead one cannot fill every slot


def claim(session: Session, process_id: str, limit: int, lease_s: float, due_by: datetime | None = None,
          busy: dict[int, int] | None = None) -> list[tuple[int, int]]:
    """Lease up to `limit` deliveries due by `due_by` (now) to this process (a conditional UPDATE
    decides, so two processes never send the same one); a case's later delivery waits for its
    earlier ones, and no endpoint gets more than PER_ENDPOINT in flight (`busy`: this process's
    requests in flight per endpoint). Returns (delivery id, endpoint id) pairs."""
    busy = dict(busy or {})
    now = utcnow()
    due_by = due_by or now
    earlier = _D.alias("earlier")
    free = or_(_D.c.claimed_until.is_(None), _D.c.claimed_until < now)
    q = (select(_D.c.id, _D.c.endpoint_id).join(_E, _E.c.id == _D.c.endpoint_id)
         .where(_D.c.status == DeliveryStatus.pending, _D.c.next_attempt_at <= due_by, free, _E.c.status == EndpointStatus.active,
                ~exists().where(earlier.c.endpoint_id == _D.c.endpoint_id, earlier.c.order_key == _D.c.order_key,
                                earlier.c.status == DeliveryStatus.pending, earlier.c.id < _D.c.id))
         .order_by(_D.c.id).limit(limit * 4))
    full = [e for e, n in busy.items() if n >= PER_ENDPOINT]
    if full:
        q = q.where(_D.c.endpoint_id.notin_(full))
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update(of=_D, skip_locked=True)
    chosen: dict[int, int] = {}
    for delivery_id, endpoint_id in session.connection().execute(q).all():
        if len(chosen) < limit and busy.get(endpoint_id, 0) < PER_ENDPOINT:
            chosen[delivery_id] = endpoint_id
            busy[endpoint_id] = busy.get(endpoint_id, 0) + 1
    if not chosen:
        return []
    got = list(session.connection().execute(
        update(_D).where(_D.c.id.in_(list(chosen)), _D.c.status == DeliveryStatus.pending, free)
        .values(claimed_until=now + timedelta(seconds=lease_s), claimed_by=process_id)
        .returning(_D.c.id)).scalars())
    return sorted((i, chosen[i]) for i in got)


def prepare(session: Session, delivery_id: int) -> tuple[str, bytes, dict[str, str]] | None:
    """The URL, body and signed headers of one claimed delivery (None if it vanished)."""
    d = session.get(WebhookDelivery, delivery_id)
    ep = session.get(WebhookEndpoint, d.endpoint_id) if d is not None else None
    if d is None or ep is None or d.status != DeliveryStatus.pending:
        return None
    body = json.dumps(d.payload, separators=(",", ":"), ensure_ascii=False).encode()
    now = utcnow()
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
               SIGNATURE_HEADER: signature_header(ep, int(now.timestamp()), body, now),
               "GigCX-Event-Id": d.event_id, "GigCX-Event-Type": d.event_type,
               "GigCX-Delivery-Id": str(d.id)}
    return ep.url, body, headers


def backoff_s(attempts: int, base: float, cap: float) -> float:
    """Seconds before try `attempts + 1`: base, 2x, 4x ... up to `cap`, with 10% jitter."""
    delay = min(cap, base * 2 ** max(attempts - 1, 0))
    return delay * random.uniform(0.9, 1.1)  # noqa: S311 - jitter spreads retries, it guards nothing


def record(session: Session, delivery_id: int, result: outbound.Result) -> None:
    """Store an attempt's outcome: delivered, retry later, or given up after the retry window;
    an endpoint failing for `webhook_disable_after_s` is disabled and the brand told (in the
    caller's unit of work)."""
    settings = current_app.config["GIGCX"]
    q = sm_select(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update()
    d = session.exec(q).first()
    if d is None or d.status != DeliveryStatus.pending:  # nothing written
        return
    now = utcnow()
    d.attempts += 1
    d.last_status_code, d.last_error = result.status, result.error
    d.claimed_until, d.claimed_by = None, None
    session.add(WebhookAttempt(delivery_id=d.id, at=now, status_code=result.status, error=result.error,  # type: ignore[arg-type]
                               duration_ms=result.duration_ms))
    ep = session.get(WebhookEndpoint, d.endpoint_id)
    assert ep is not None
    if result.ok:
        d.status, d.delivered_at = DeliveryStatus.delivered, now
        ep.failing_since, ep.last_success_at = None, now
    else:
        ep.failing_since = ep.failing_since or now
        window_end = _aware(d.created_at) + timedelta(seconds=settings.webhook_retry_window_s)
        if now >= window_end:
            d.status = DeliveryStatus.failed
            log.warning("webhook delivery %s given up after %s attempts: %s", d.id, d.attempts, result.error)
        else:
            wait = backoff_s(d.attempts, settings.webhook_retry_base_s, settings.webhook_retry_max_s)
            d.next_attempt_at = min(now + timedelta(seconds=wait), window_end)
        failing_for = (now - _aware(ep.failing_since)).total_seconds()
        if ep.status == EndpointStatus.active and failing_for >= settings.webhook_disable_after_s:
            ep.status, ep.disabled_at = "disabled", now
            ep.disabled_reason = f"failing since {iso(ep.failing_since)}: {result.error or 'no answer'}"[:500]
            log.warning("webhook endpoint %s disabled: %s", ep.id, ep.disabled_reason)
            from gigcx.services import mail

            mail.endpoint_disabled(session, ep)
    session.add(d)
    session.add(ep)


class Sender:
    """The background sender of one serving process: up to `webhook_concurrency` deliveries in
    flight (each in its own greenlet), so a slow endpoint holds only its own slot."""

    def __init__(self, app: Flask):
        self.app = app
        self.settings = app.config["GIGCX"]
        self.busy = 0
        self.per_endpoint: dict[int, int] = {}
        self.lock = threading.Lock()

    def step(self, _app: Flask | None = None) -> int:
        """Claim what fits in the free slots and start sending it; returns how many started."""
        from gigcx.concurrency import spawn

        free = self.settings.webhook_concurrency - self.busy
        if free <= 0:
            return 0
        with transaction() as session:
            with self.lock:
                busy = dict(self.per_endpoint)
            claimed = claim(session, self.settings.process_id, free, self.settings.webhook_timeout_s * 3 + 30,
                            busy=busy)
        for delivery_id, endpoint_id in claimed:
            with self.lock:
                self.busy += 1
                self.per_endpoint[endpoint_id] = self.per_endpoint.get(endpoint_id, 0) + 1
            spawn(self._one, delivery_id, endpoint_id)
        return len(claimed)

    def _one(self, delivery_id: int, endpoint_id: int) -> None:
        try:
            with self.app.app_context():
                send_one(delivery_id)
        except Exception:  # the lease expires and another pass retries it
            log.exception("webhook delivery %s failed to send", delivery_id)
        finally:
            with self.lock:
                self.busy -= 1
                left = self.per_endpoint.get(endpoint_id, 1) - 1
                if left > 0:
                    self.per_endpoint[endpoint_id] = left
                else:
                    self.per_endpoint.pop(endpoint_id, None)


def send_one(delivery_id: int) -> outbound.Result | None:
    """Prepare (a short read), POST (no transaction open), record (a unit of work of its own)."""
    settings = current_app.config["GIGCX"]
    with session_scope() as session:
        prepared = prepare(session, delivery_id)
    if prepared is None:
        return None
    url, body, headers = prepared
    result = outbound.post(url, body, headers, timeout=settings.webhook_timeout_s,
                           allow_private=settings.webhook_allow_private)
    with transaction() as session:
        record(session, delivery_id, result)
    return result


def send_due(limit: int = 100) -> int:
    """Send every delivery due now, one after another, in this thread (CLI and tests); retries
    that fall due meanwhile wait for the next call."""
    settings = current_app.config["GIGCX"]
    sent, start = 0, utcnow()
    while sent < limit:
        with transaction() as session:
            claimed = claim(session, settings.process_id, min(10, limit - sent), settings.webhook_timeout_s * 3 + 30,
                            due_by=start)
        if not claimed:
            return sent
        for delivery_id, _ in claimed:
            send_one(delivery_id)
            sent += 1
    return sent
