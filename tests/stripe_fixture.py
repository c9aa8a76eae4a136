"""Pytest fixtures around the localstripe subprocess (tests/stripe_fake.py) and a webhook receiver.

Use from any conftest: put tests/ on sys.path and ``from stripe_fixture import *``
(or list ``"stripe_fixture"`` in a root conftest's ``pytest_plugins``).
"""

from __future__ import annotations

import hashlib
import hmac
import http.server
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any, Optional

import pytest
from stripe_fake import LocalStripe

WEBHOOK_SECRET = "whsec_gigcx_test_secret"

__all__ = ["WEBHOOK_SECRET", "WebhookReceiver", "sign_payload", "localstripe_server",
           "localstripe", "stripe_gateway", "webhook_receiver"]


def sign_payload(payload: bytes, secret: str = WEBHOOK_SECRET, timestamp: Optional[int] = None) -> str:
    """Build a Stripe-Signature header for `payload` the way Stripe signs webhooks."""
    ts = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


class WebhookReceiver:
    """A tiny HTTP server on 127.0.0.1 that records webhook POSTs (body and Stripe-Signature)."""

    def __init__(self) -> None:
        self.received: queue.Queue[tuple[bytes, str]] = queue.Queue()
        received = self.received

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                length = int(self.headers.get("Content-Length", "0"))
                received.put((self.rfile.read(length), self.headers.get("Stripe-Signature", "")))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """Where localstripe should POST events."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/webhooks/stripe"

    def wait_for(self, event_type: str, object_id: Optional[str] = None,
                 timeout: float = 10.0) -> tuple[bytes, str]:
        """Block until an `event_type` event (about `object_id`, if given) arrives; return (payload, signature)."""
        import json

        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no {event_type} webhook within {timeout}s")
            try:
                payload, sig = self.received.get(timeout=remaining)
            except queue.Empty:
                continue
            event = json.loads(payload)
            if event.get("type") != event_type:
                continue  # late events of earlier tests arrive too, in any order
            if object_id is None or event.get("data", {}).get("object", {}).get("id") == object_id:
                return payload, sig

    def close(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture(scope="session")
def localstripe_server() -> Iterator[LocalStripe]:
    """One localstripe subprocess for the whole session."""
    server = LocalStripe().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def localstripe(localstripe_server: LocalStripe) -> LocalStripe:
    """The session's localstripe, emptied (objects, idempotency keys, faults) for this test."""
    localstripe_server.reset()
    return localstripe_server


@pytest.fixture
def stripe_gateway(localstripe: LocalStripe) -> Any:
    """A StripeGateway pointed at localstripe, with no SDK retries and a short timeout."""
    from gigcx.stripe_gateway import StripeGateway

    return StripeGateway(localstripe.api_key, api_base=localstripe.url,
                         webhook_secret=WEBHOOK_SECRET, timeout_seconds=5,
                         max_network_retries=0)


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    """A local endpoint to register with localstripe's /_config/webhooks."""
    receiver = WebhookReceiver()
    try:
        yield receiver
    finally:
        receiver.close()
