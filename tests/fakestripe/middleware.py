"""Fault injection and Stripe's Idempotency-Key rule, around every /v1/ route."""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any, Optional

from aiohttp import web
from localstripe.errors import UserError
from localstripe.resources import store

from .state import faults, request_counts, stripe_error


def take_fault(request: web.Request, transport: bool = False) -> Optional[dict[str, Any]]:
    """The next fault for this request: transport faults (dropped answers) or API ones."""
    for fault in faults:
        if (fault["mode"] == "drop_after_commit") != transport:
            continue
        if fault["method"] == request.method and fault["path"] == request.path:
            if fault["skip"] > 0:  # let this many matching requests through first
                fault["skip"] -= 1
                return None
            fault["count"] -= 1
            if fault["count"] <= 0:
                faults.remove(fault)
            return fault
    return None

@web.middleware
async def fault_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    fault = take_fault(request) if request.path.startswith("/v1/") else None
    if fault is None:
        return await handler(request)
    if fault["mode"] == "status":
        status = fault["status"]
        kind = "authentication_error" if status in (401, 403) else \
            "api_error" if status >= 500 else "invalid_request_error"
        extra = {"code": fault["code"]} if fault["code"] else {}
        return stripe_error(status, f"Injected fault: HTTP {status}", kind, **extra)
    if fault["mode"] == "error_500":
        return stripe_error(500, "Injected fault: internal error", "api_error")
    if fault["mode"] == "timeout":
        await asyncio.sleep(fault["delay"])
        return stripe_error(500, "Injected fault: timed out", "api_error")
    if fault["mode"] == "card_declined":  # as Stripe: the object exists, the answer is a 402
        created = json.loads((await handler(request)).body)
        return stripe_error(402, "Your card was declined.", "card_error", code="card_declined",
                            decline_code="generic_decline",
                            payment_intent={"id": created.get("id"), "object": "payment_intent",
                                            "status": "requires_payment_method"})
    return await handler(request)

idempotency: dict[tuple[str, str], tuple[str, int, bytes]] = {}
# Answers given before an API endpoint runs: Stripe keeps no outcome under the key for them.
EDGE_STATUSES = (401, 403, 409, 429, 502, 503, 504)
in_flight: set[tuple[str, str]] = set()

@web.middleware
async def idempotency_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Stripe's rule: the first outcome of a key (success or error) is replayed for 24 hours.

    Authentication failures happen before the key is looked at and are not kept; a second
    request while the first is still running gets 409.
    """
    if not request.path.startswith("/_"):
        request_counts[f"{request.method} {request.path}"] += 1
    drop = take_fault(request, transport=True) if request.path.startswith("/v1/") else None
    response = await idempotent(request, handler)
    if drop is not None and request.transport is not None:
        # drop_after_commit: the request took effect (or was replayed); the answer is lost.
        request.transport.abort()
    return response  # written to an aborted transport: the client sees a reset

async def idempotent(request: web.Request, handler: Any) -> web.StreamResponse:
    key = request.headers.get("Idempotency-Key")
    if request.method != "POST" or not key or not request.path.startswith("/v1/"):
        return await handler(request)
    scope = (request.headers.get("Authorization", ""), key)
    body = await request.read()
    fingerprint = hashlib.sha256(request.path.encode() + b"\0" + body).hexdigest()
    cached = idempotency.get(scope)
    if cached is not None:
        if cached[0] != fingerprint:
            return stripe_error(
                400, "Keys for idempotent requests can only be used with the same "
                     "parameters they were first used with.", "idempotency_error")
        resp = web.Response(body=cached[2], status=cached[1],
                            content_type="application/json")
        resp.headers["Idempotent-Replayed"] = "true"
        return resp
    if scope in in_flight:
        return stripe_error(409, "There is currently another in-progress request using this "
                                 "Idempotent Key.", "idempotency_error", code="idempotency_key_in_use")
    in_flight.add(scope)
    try:
        try:
            response = await handler(request)
        except UserError as exc:
            response = exc.to_response()
    finally:
        in_flight.discard(scope)
    if isinstance(response, web.Response) and response.status not in EDGE_STATUSES \
            and isinstance(response.body, bytes):
        idempotency[scope] = (fingerprint, response.status, response.body)
    return response

def clear_keys_with_the_store() -> None:
    """localstripe's DELETE /_config/data empties its store: the idempotency keys go with it."""
    original_flush = store.clear

    def clear_all() -> None:
        original_flush()
        idempotency.clear()

    store.clear = clear_all  # type: ignore[method-assign]
