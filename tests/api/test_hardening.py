"""Hardening of the HTTP surface: bounded JSON depth, strict REST types, chunked and long-polling
body limits, header and body deadlines, CSP without the Host header, /metrics behind a token,
unknown and foreign ids alike, per-address limits on new customers."""
from __future__ import annotations

import json
import socket
import time
from typing import Any

import pytest
import requests
import socketio

from gigcx import create_app
from gigcx.config import Settings
from tests.conftest import ADMIN_TOKEN, Api, assert_error
from tests.servers import Server

DEEP = '{"a":' * 1000 + "1" + "}" * 1000


@pytest.mark.parametrize("body", [DEEP, "[" * 40 + "]" * 40, '{"email": ' + "[" * 5000 + "]" * 5000 + "}"])
def test_deeply_nested_json_is_invalid_everywhere(api: Api, body: str) -> None:
    key = api.brand()
    _, token = api.expert()
    for method, path, who in [("POST", "/experts", None), ("POST", "/auth/token", None),
                              ("POST", "/staff/token", None), ("POST", "/brands", ADMIN_TOKEN),
                              ("PATCH", "/brand", key), ("PUT", "/topics/cards", key),
                              ("POST", "/experts/me/programs", token)]:
        r = api.call(method, path, who, data=body, content_type="application/json")
        assert_error(r, 422, "invalid")


def test_rest_types_are_strict(api: Api) -> None:
    key = api.brand()
    assert_error(api.put("/topics/cards", key, json={"name": "Cards", "reward_cents": "250"}), 422, "invalid")
    assert_error(api.patch("/brand", key, json={"max_offers": "3"}), 422, "invalid")
    assert_error(api.patch("/brand", key, json={"max_offers": True}), 422, "invalid")
    assert_error(api.patch("/brand", key, json={"max_offers": 3.0}), 422, "invalid")
    assert_error(api.post("/experts", json={"email": "a@b.example", "password": 12345678, "display_name": "A"}),
                 422, "invalid")
    assert api.put("/topics/cards", key, json={"name": "Cards", "reward_cents": 250}).json["reward_cents"] == 250
    assert api.patch("/brand", key, json={"min_topic_confidence": 1}).status_code == 200  # a JSON number
    assert api.get("/cases", key, query_string={"limit": "5"}).status_code == 200  # query text is converted


def test_csp_never_reflects_the_host_header(settings: Settings) -> None:
    app = create_app({"GIGCX": settings, "TESTING": True})
    for path in ("/brand/", "/expert/"):
        csp = app.test_client().get(path, headers={"Host": "evil.example"}).headers["Content-Security-Policy"]
        assert "evil.example" not in csp and "connect-src 'self';" in csp
    settings.public_url = "https://support.example.com"
    csp = app.test_client().get("/brand/", headers={"Host": "evil.example"}).headers["Content-Security-Policy"]
    assert "connect-src 'self' wss://support.example.com;" in csp and "evil" not in csp
    app.extensions["gigcx_engine"].dispose()


def test_metrics_need_a_token(settings: Settings) -> None:
    settings.metrics_token = "scraper-token"
    app = create_app({"GIGCX": settings, "TESTING": True})
    client = app.test_client()
    assert_error(client.get("/metrics"), 401, "unauthorized")
    assert_error(client.get("/metrics", headers={"Authorization": "Bearer wrong"}), 401, "unauthorized")
    for token in (ADMIN_TOKEN, "scraper-token"):
        r = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200 and b"gigcx_event_seconds" in r.data
    app.extensions["gigcx_engine"].dispose()


def test_unknown_and_foreign_ids_answer_alike(api: Api) -> None:
    key_a = api.brand("acme", "Acme")
    key_b = api.brand("other", "Other")
    api.topic(key_a, "cards")
    expert_id, token = api.expert()
    assert api.post("/experts/me/programs", token, json={"brand": "acme", "topics": ["cards"]}).status_code == 201
    stranger, _ = api.expert("stranger@example.com")  # never applied anywhere
    for path, body in [("/experts/{}/approve", {"topics": ["cards"]}), ("/experts/{}/suspend", None),
                       ("/experts/{}/reject", None)]:
        answers = {(r.status_code, json.dumps(r.json, sort_keys=True)) for r in (
            api.post(path.format(expert_id), key_b, json=body),  # another brand's applicant
            api.post(path.format(stranger), key_a, json=body),  # an expert who never applied here
            api.post(path.format(2**31 - 2), key_a, json=body))}  # no such expert at all
        assert len(answers) == 1 and next(iter(answers))[0] == 404, answers


def test_header_body_and_polling_limits_of_a_live_server(servers: Any) -> None:
    server: Server = servers(env={"GIGCX_HEADER_TIMEOUT_S": "1", "GIGCX_BODY_TIMEOUT_S": "1"})
    # a chunked body over 1 MiB: 413, not a silently truncated body
    chunks = (b"x" * (256 * 1024) for _ in range(6))
    r = requests.post(server.url + "/api/v1/experts", data=chunks, headers={"Content-Type": "application/json"},
                      timeout=30)
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
    # a small chunked body is read whole
    small = (part for part in [b'{"email": "chunk@example.com", ', b'"password": "password-123", "display_name": "C"}'])
    assert requests.post(server.url + "/api/v1/experts", data=small, headers={"Content-Type": "application/json"},
                         timeout=30).status_code == 201
    # a client that never finishes its headers, or its body, is cut off at the deadline
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        start = time.monotonic()
        s.recv(1000)  # an error answer or the close: either way, not held for ever
        assert time.monotonic() - start < 15
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as s:
        s.sendall(b"POST /api/v1/experts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 100\r\n\r\n{")
        assert s.recv(1000).startswith(b"HTTP/1.1 408")
    # Engine.IO long-polling POSTs over a frame's size: 413 at once, declared or chunked
    for body in (b"4" + b"x" * (200 * 1024), (b"x" * (32 * 1024) for _ in range(4))):
        sid = json.loads(requests.get(server.url + "/socket.io/?EIO=4&transport=polling", timeout=10).text[1:])["sid"]
        r = requests.post(server.url + f"/socket.io/?EIO=4&transport=polling&sid={sid}", data=body, timeout=30)
        assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
    # deep JSON in a Socket.IO event: an `invalid` ack, the connection stays up
    slug, _ = server.brand()
    client = socketio.Client(reconnection=False)
    client.connect(server.url, namespaces=["/customer"], auth={"brand": slug}, transports=["websocket"])
    try:
        ack = client.call("ask", json.loads('{"text": "hi", "client_id": "q", "x": ' + "[" * 30 + "]" * 30 + "}"),
                          namespace="/customer", timeout=10)
        assert ack["ok"] is False and ack["error"]["code"] == "invalid"
        client.eio.send('2/customer,7["ask",' + '{"a":' * 2000 + "1" + "}" * 2000 + "]")  # a raw EVENT packet
        client.eio.send('2/customer,8["ask", {nope')
        time.sleep(0.5)
        assert client.call("sync", {"case_id": 1}, namespace="/customer", timeout=10)["error"]["code"] == "not_found"
    finally:
        client.disconnect()
    assert "Traceback" not in server.log_path.read_text(errors="replace")


def test_metrics_on_a_separate_address_need_no_token(servers: Any) -> None:
    from tests.servers import free_port

    port = free_port()
    server: Server = servers(env={"GIGCX_METRICS_ADDRESS": f"127.0.0.1:{port}"})
    assert requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).status_code == 200
    assert requests.get(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=10).status_code == 404
    assert requests.get(server.url + "/metrics", timeout=10).status_code == 401


def test_new_customers_are_rate_limited_per_address(servers: Any) -> None:
    server: Server = servers(env={"GIGCX_RATE_LIMIT_CUSTOMERS_PER_MIN": "2"})
    slug, _ = server.brand()
    tokens = []
    for _ in range(2):
        client = socketio.Client(reconnection=False)
        got: list[Any] = []
        client.on("session", got.append, namespace="/customer")
        client.connect(server.url, namespaces=["/customer"], auth={"brand": slug}, transports=["websocket"])
        deadline = time.monotonic() + 10
        while not got and time.monotonic() < deadline:
            time.sleep(0.05)
        tokens.append(got[0]["token"])
        client.disconnect()
    refused = socketio.Client(reconnection=False)
    errors: list[Any] = []
    refused.on("connect_error", errors.append, namespace="/customer")
    with pytest.raises(socketio.exceptions.ConnectionError):
        refused.connect(server.url, namespaces=["/customer"], auth={"brand": slug}, transports=["websocket"])
    assert "rate_limited" in json.dumps(errors), errors
    resumed = socketio.Client(reconnection=False)  # a known customer resumes whatever the limit
    resumed.connect(server.url, namespaces=["/customer"], auth={"brand": slug, "token": tokens[0]},
                    transports=["websocket"])
    resumed.disconnect()
