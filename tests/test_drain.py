"""Graceful stop: on SIGTERM or SIGINT a serving process stops accepting, finishes what it is
handling (for at most GIGCX_DRAIN_S), then exits 0; meanwhile it refuses new work retryably."""
from __future__ import annotations

import json
import signal
import socket
import time
from typing import Any

import pytest
import requests

from gigcx.drain import DRAIN
from gigcx.extensions import socketio
from tests.conftest import ADMIN_TOKEN, Api


def test_a_draining_process_refuses_new_work_and_reports_unhealthy(app: Any) -> None:
    client = app.test_client()
    assert Api(client).post("/brands", ADMIN_TOKEN, json={"slug": "acme", "name": "Acme"}).status_code == 201
    customer = socketio.test_client(app, namespace="/customer", auth={"brand": "acme"})
    case = customer.emit("ask", {"text": "where is my card", "client_id": "q1"}, namespace="/customer",
                         callback=True)["case"]
    DRAIN.begin()
    try:
        assert client.get("/healthz").status_code == 503
        assert client.get("/healthz").get_json() == {"status": "draining"}
        refused = customer.emit("ask", {"text": "and my pin?", "client_id": "q2"}, namespace="/customer",
                                callback=True)
        assert refused["ok"] is False and refused["error"]["code"] == "overloaded"
        assert refused["error"]["retry_after_ms"] > 0
        msg = customer.emit("message", {"case_id": case["id"], "text": "hello?", "client_id": "m1"},
                            namespace="/customer", callback=True)
        assert msg["error"]["code"] == "overloaded"
        # what finishes a conversation already under way is still served
        synced = customer.emit("sync", {"case_id": case["id"], "after_seq": 0}, namespace="/customer",
                               callback=True)
        assert synced["ok"] and [m["text"] for m in synced["messages"]] == ["where is my card"]
    finally:
        DRAIN.draining = False
    assert client.get("/healthz").status_code == 200
    cases = customer.emit("cases", {}, namespace="/customer", callback=True)["cases"]
    assert [c["id"] for c in cases] == [case["id"]]  # nothing was stored for the refused ask
    customer.disconnect(namespace="/customer")


def _post_brand_partly(server: Any, body: bytes, length: int) -> socket.socket:
    """Start `POST /brands` declaring `length` body bytes and send only `body`: the view then
    waits for the rest, a request in progress for as long as the test likes."""
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    raw.sendall(b"POST /api/v1/brands HTTP/1.1\r\nHost: gigcx\r\nAuthorization: Bearer " + ADMIN_TOKEN.encode()
                + b"\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: "
                + str(length).encode() + b"\r\n\r\n" + body)
    return raw


def test_sigterm_finishes_a_request_in_flight_then_exits(servers: Any) -> None:
    """The brand being created when SIGTERM arrives is created and answered; the listener is
    closed at once; then the process exits 0."""
    server = servers(env={"GIGCX_DRAIN_S": "60"})
    body = json.dumps({"slug": "drained", "name": "Drained"}).encode()
    raw = _post_brand_partly(server, body[:5], len(body))
    time.sleep(1.0)  # the view is now waiting for the rest of its body
    server.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the listener closes at once
        try:
            requests.get(server.url + "/healthz", timeout=1)
        except requests.ConnectionError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the stopping server still accepts connections")
    time.sleep(0.5)
    assert server.proc.poll() is None, "the server exited with a request in flight"
    raw.sendall(body[5:])
    response = b""
    while chunk := raw.recv(65536):
        response += chunk
    raw.close()
    assert response.startswith(b"HTTP/1.1 201"), response[:300]
    assert server.proc.wait(30) == 0
    assert "GigCX stopped\n" in server.log() and "SIGTERM" in server.log()
    server.start()
    again = server.rest("POST", "/brands", ADMIN_TOKEN, json={"slug": "drained", "name": "Drained"})
    assert again.status_code == 409, again.text  # the brand made while stopping was committed


def test_a_stop_does_not_wait_longer_than_the_drain_limit(servers: Any) -> None:
    server = servers(env={"GIGCX_DRAIN_S": "1"})
    raw = _post_brand_partly(server, b"{", 100)
    time.sleep(1.0)
    started = time.monotonic()
    server.proc.send_signal(signal.SIGINT)
    assert server.proc.wait(30) == 0
    assert time.monotonic() - started < 15
    assert "still in progress" in server.log()
    raw.close()


def test_a_second_signal_stops_the_wait(servers: Any) -> None:
    """Ctrl-C pressed again (or a second SIGTERM) does not wait out GIGCX_DRAIN_S."""
    server = servers(env={"GIGCX_DRAIN_S": "120"})
    raw = _post_brand_partly(server, b"{", 100)
    time.sleep(1.0)
    server.proc.send_signal(signal.SIGTERM)
    time.sleep(1.5)
    assert server.proc.poll() is None, "the first signal must wait for the request in progress"
    started = time.monotonic()
    server.proc.send_signal(signal.SIGINT)
    assert server.proc.wait(30) == 0
    assert time.monotonic() - started < 15
    assert "still in progress" in server.log()
    raw.close()
