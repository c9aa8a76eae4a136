"""`POST /webhooks/stripe`: verified with any STRIPE_WEBHOOK_SECRET(S), idempotent by event id.

Outside `/api/v1` (Stripe signs the body instead of sending a bearer token). Answers 400 to a
bad signature, 2xx to every verified event (handled, ignored or a duplicate), and 503 when the
event cannot be applied yet (a `transfer.reversed` that overtook our own commit), so that
Stripe delivers it again later.
"""
from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, jsonify, request

from gigcx import db
from gigcx.auth import public
from gigcx.errors import ApiError
from gigcx.services import connect
from gigcx.services import payouts as svc
from gigcx.stripe_gateway import WebhookVerificationError
from gigcx.uow import transactional

bp = Blueprint("webhooks", __name__)


@bp.post("/webhooks/stripe")
@public  # checks Stripe's signature itself
@transactional
def stripe_webhook() -> Any:
    """Receive one Stripe event."""
    if svc.gateway().mode != "stripe":
        raise ApiError("not_found", "Stripe is not configured")
    gw = svc.stripe()
    payload = request.get_data()
    try:
        event = gw.parse_webhook(payload, request.headers.get("Stripe-Signature"))
    except WebhookVerificationError as exc:
        raise ApiError("bad_request", exc.message, status=400) from None
    raw = json.loads(payload)
    session = db.request_session()
    try:
        outcome = connect.handle_webhook(session, gw, event, raw if isinstance(raw, dict) else {})
    except connect.RetryLater as exc:  # raising rolls the request's unit of work back
        raise ApiError("unavailable", str(exc), status=503) from None
    return jsonify({"received": True, "id": event.event_id, "outcome": outcome})
