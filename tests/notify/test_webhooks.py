"""Outbound webhooks through the real services, a real local HTTP receiver and the sender's own
code path (`send_due`, what `gigcx serve` runs in the background)."""
from __future__ import annotations

import time
from typing import Any

from gigcx.services import webhooks
from tests.conftest import Api, assert_error
from tests.notify.helpers import ask, escalate, send
from tests.notify.receivers import Receiver


def _endpoint(api: Api, key: str, url: str, **body: Any) -> dict[str, Any]:
    r = api.post("/webhooks/endpoints", key, json={"url": url, **body})
    assert r.status_code == 201, r.json
    return r.json  # type: ignore[no-any-return]


def _until(fn: Any, timeout: float = 10) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        out = fn()
        if out or time.monotonic() > deadline:
            return out
        time.sleep(0.05)


def test_case_events_arrive_signed_and_in_order(app: Any, api: Api, receiver: Receiver) -> None:
    key = api.brand("acme")
    api.topic(key, "cards", examples=["where is my card"])
    ep = _endpoint(api, key, receiver.url)
    assert ep["secret"].startswith("whsec_") and ep["status"] == "active"
    assert set(ep["events"]) == set(webhooks.EVENTS)
    case_id = ask(app, "acme")
    escalate(app, case_id)
    assert send(app) == 2
    got = receiver.wait(2)
    assert [r.json["type"] for r in got] == ["case.created", "case.escalated"]
    for r in got:
        assert r.headers["Content-Type"] == "application/json"
        assert webhooks.verify(r.headers["GigCX-Signature"], r.body, ep["secret"])
        assert not webhooks.verify(r.headers["GigCX-Signature"], r.body + b" ", ep["secret"])
        assert not webhooks.verify(r.headers["GigCX-Signature"], r.body, "whsec_other")
        assert r.headers["GigCX-Event-Id"] == r.json["id"]
    created, escalated = (r.json for r in got)
    assert created["brand"] == "acme" and created["data"]["case"]["id"] == case_id
    assert created["data"]["case"]["question"] == "where is my card"
    assert escalated["data"]["case"]["status"] == "escalated"
    assert escalated["data"]["case"]["escalation_reason"] == "needs a refund"
    assert escalated["data"]["case"]["url"] == f"https://support.example.com/brand/?case={case_id}#cases"
    # the log shows both with the endpoint's answer
    log = api.get("/webhooks/deliveries", key).json["deliveries"]
    assert [(d["event_type"], d["status"], d["response_status"], d["attempts"]) for d in log] == [
        ("case.escalated", "delivered", 200, 1), ("case.created", "delivered", 200, 1)]


def test_a_signature_is_stale_after_five_minutes(receiver: Receiver) -> None:
    body = b'{"id": "evt_1"}'
    now = int(time.time())
    header = f"t={now},v1={webhooks.sign('whsec_x', now, body)}"
    assert webhooks.verify(header, body, "whsec_x")
    assert not webhooks.verify(header, body, "whsec_x", now=now + 301)
    assert not webhooks.verify("v1=" + webhooks.sign("whsec_x", now, body), body, "whsec_x")


def test_only_the_chosen_events_are_sent(app: Any, api: Api, receiver: Receiver) -> None:
    key = api.brand("acme")
    _endpoint(api, key, receiver.url, events=["case.escalated"])
    case_id = ask(app, "acme")
    escalate(app, case_id)
    send(app)
    assert [e["type"] for e in receiver.events()] == ["case.escalated"]


def test_a_failing_delivery_is_retried_with_backoff_and_holds_back_the_cases_later_events(
        app: Any, api: Api, receiver: Receiver) -> None:
    key = api.brand("acme")
    _endpoint(api, key, receiver.url)
    receiver.answer(500)  # the first case's creation
    receiver.answer(200)  # the second's
    receiver.answer(500)  # the first's, again twice
    receiver.answer(503)
    case_id = ask(app, "acme")
    other = ask(app, "acme", "how do I close my account")
    escalate(app, case_id)
    send(app)  # created(case) fails; created(other) goes through; escalated(case) waits
    assert [(e["type"], e["data"]["case"]["id"]) for e in receiver.events()] == [
        ("case.created", case_id), ("case.created", other)]
    for _ in range(40):
        send(app)
        if len(receiver.received) >= 6:
            break
        time.sleep(0.05)
    kinds = [(e["type"], e["data"]["case"]["id"]) for e in receiver.events()]
    assert kinds == [("case.created", case_id), ("case.created", other)] + [("case.created", case_id)] * 3 + [
        ("case.escalated", case_id)], kinds
    gaps = [b.at - a.at for a, b in zip(receiver.received[2:4], receiver.received[3:5])]
    assert all(g >= 0.04 for g in gaps), gaps  # waited (base 0.05 s, doubling) between tries
    first = api.get(f"/webhooks/deliveries?case_id={case_id}", key).json["deliveries"][-1]
    detail = api.get(f"/webhooks/deliveries/{first['id']}", key).json
    assert [a["response_status"] for a in detail["attempt_log"]] == [500, 500, 503, 200]
    assert detail["status"] == "delivered" and detail["payload"]["type"] == "case.created"


def test_a_delivery_is_given_up_after_the_retry_window_and_the_next_one_goes(
        app: Any, api: Api, receiver: Receiver) -> None:
    app.config["GIGCX"].webhook_retry_window_s = 1.0
    key = api.brand("acme")
    _endpoint(api, key, receiver.url)
    receiver.answer(500, times=1000)
    case_id = ask(app, "acme")
    escalate(app, case_id)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        send(app)
        log = api.get("/webhooks/deliveries", key).json["deliveries"]
        if log[-1]["status"] == "failed":
            break
        time.sleep(0.05)
    assert log[-1]["status"] == "failed" and log[-1]["attempts"] >= 1
    # the escalation waited until the creation was given up, then had its own turn
    _until(lambda: send(app) or any(e["type"] == "case.escalated" for e in receiver.events()))
    kinds = [e["type"] for e in receiver.events()]
    assert kinds.index("case.escalated") == log[-1]["attempts"], kinds
    assert set(kinds[:log[-1]["attempts"]]) == {"case.created"}


def test_rotating_the_secret_signs_with_both_during_the_overlap(app: Any, api: Api, receiver: Receiver) -> None:
    key = api.brand("acme")
    ep = _endpoint(api, key, receiver.url)
    r = api.post(f"/webhooks/endpoints/{ep['id']}/rotate-secret", key, json={"overlap_s": 3600})
    assert r.status_code == 200, r.json
    new = r.json["secret"]
    assert new != ep["secret"] and r.json["previous_secret_expires_at"]
    ask(app, "acme")
    send(app)
    got = receiver.wait(1)[0]
    header = got.headers["GigCX-Signature"]
    assert header.count("v1=") == 2
    assert webhooks.verify(header, got.body, new) and webhooks.verify(header, got.body, ep["secret"])
    r = api.post(f"/webhooks/endpoints/{ep['id']}/rotate-secret", key, json={"overlap_s": 0})
    ask(app, "acme")
    send(app)
    got = receiver.wait(2)[1]
    assert got.headers["GigCX-Signature"].count("v1=") == 1
    assert webhooks.verify(got.headers["GigCX-Signature"], got.body, r.json["secret"])
    assert not webhooks.verify(got.headers["GigCX-Signature"], got.body, new)


def test_replay_sends_the_same_event_again(app: Any, api: Api, receiver: Receiver) -> None:
    key = api.brand("acme")
    _endpoint(api, key, receiver.url)
    ask(app, "acme")
    send(app)
    first = api.get("/webhooks/deliveries", key).json["deliveries"][0]
    r = api.post(f"/webhooks/deliveries/{first['id']}/replay", key)
    assert r.status_code == 201, r.json
    assert r.json["replay_of"] == first["id"] and r.json["status"] == "pending"
    send(app)
    a, b = receiver.wait(2)
    assert a.json == b.json and a.headers["GigCX-Delivery-Id"] != b.headers["GigCX-Delivery-Id"]
    assert_error(api.post("/webhooks/deliveries/999999/replay", key), 404, "not_found")


def test_bad_endpoints_fail_cleanly(app: Any, api: Api, receivers: Any) -> None:
    """Timeouts, 5xx, TLS errors and redirects are failed attempts with a reason; a redirect is
    never followed (the private address it points to hears nothing)."""
    app.config["GIGCX"].webhook_timeout_s = 0.3
    key = api.brand("acme")
    slow, moved, inside, plain = receivers(), receivers(), receivers(), receivers()
    slow.default = (200, 1.0, None)
    moved.default = (302, 0.0, inside.url)
    _endpoint(api, key, slow.url)
    _endpoint(api, key, moved.url)
    _endpoint(api, key, plain.url.replace("http://", "https://"))
    ask(app, "acme")
    send(app)
    errors = sorted(d["error"] for d in api.get("/webhooks/deliveries", key).json["deliveries"])
    assert errors[0].startswith("TLS error"), errors
    assert errors[1] == f"redirect to {inside.url} not followed", errors
    assert errors[2] == "timed out after 0.3 s", errors
    assert inside.received == []


def test_private_addresses_are_refused_unless_allowed(app: Any, api: Api, receiver: Receiver) -> None:
    key = api.brand("acme")
    ep = _endpoint(api, key, receiver.url)  # allowed by the tests' setting
    app.config["GIGCX"].webhook_allow_private = False
    for url in ("https://127.0.0.1/x", "https://10.1.2.3/x", "https://localhost/x", "https://[::1]/x",
                "https://169.254.169.254/latest", "http://example.com/x", "ftp://example.com/x",
                "https://user:pw@example.com/x"):
        assert_error(api.post("/webhooks/endpoints", key, json={"url": url}), 422, "invalid")
    ask(app, "acme")
    send(app)  # the stored endpoint is checked again at delivery time
    d = api.get("/webhooks/deliveries", key).json["deliveries"][0]
    assert d["status"] == "pending" and d["error"].startswith("refused:"), d
    assert receiver.received == [] and ep["id"]


def test_endpoint_api_validates_and_keeps_brands_apart(app: Any, api: Api, receiver: Receiver) -> None:
    key = api.brand("acme")
    other = api.brand("other")
    assert_error(api.post("/webhooks/endpoints", key, json={"url": receiver.url, "events": ["case.exploded"]}),
                 422, "invalid")
    assert_error(api.post("/webhooks/endpoints", key, json={"url": receiver.url, "events": []}), 422, "invalid")
    assert_error(api.post("/webhooks/endpoints", key, json={"url": receiver.url, "bogus": 1}), 422, "invalid")
    assert_error(api.post("/webhooks/endpoints", json={"url": receiver.url}), 401, "unauthorized")
    ep = _endpoint(api, key, receiver.url, description="CRM")
    assert_error(api.get(f"/webhooks/endpoints/{ep['id']}", other), 404, "not_found")
    assert_error(api.patch(f"/webhooks/endpoints/{ep['id']}", other, json={"status": "disabled"}), 404, "not_found")
    assert api.get("/webhooks/endpoints", other).json == {"endpoints": []}
    r = api.patch(f"/webhooks/endpoints/{ep['id']}", key, json={"events": ["case.resolved", "case.created"]})
    assert r.json["events"] == ["case.created", "case.resolved"]
    assert api.delete(f"/webhooks/endpoints/{ep['id']}", key).status_code == 204
    assert api.get("/webhooks/endpoints", key).json == {"endpoints": []}


def test_chat_endpoints_get_escalations_as_slack_text(app: Any, api: Api, receiver: Receiver) -> None:
    key = api.brand("acme")
    ep = _endpoint(api, key, receiver.url, kind="chat")
    assert ep["events"] == ["case.escalated"]
    case_id = ask(app, "acme", "my card <was> stolen @channel")
    escalate(app, case_id, reason="fraud")
    send(app)
    [got] = receiver.wait(1)
    body = got.json
    assert set(body) == {"text"}
    assert f"Case #{case_id}" in body["text"] and "escalated" in body["text"] and "Reason: fraud" in body["text"]
    assert "&lt;was&gt;" in body["text"]  # customers' text cannot inject chat markup
    assert f"<https://support.example.com/brand/?case={case_id}#cases|" in body["text"]


def test_the_documented_verification_snippet_accepts_real_deliveries(app: Any, api: Api, receiver: Receiver) -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "webhooks.md").read_text()
    block = next(b for b in doc.split("```python\n")[1:] if "def verify_gigcx_signature" in b).split("```")[0]
    scope: dict[str, Any] = {}
    exec(compile(block, "docs/webhooks.md", "exec"), scope)  # noqa: S102 - our own documentation
    verify = scope["verify_gigcx_signature"]
    key = api.brand("acme")
    ep = _endpoint(api, key, receiver.url)
    rotated = api.post(f"/webhooks/endpoints/{ep['id']}/rotate-secret", key, json={}).json
    ask(app, "acme")
    send(app)
    [got] = receiver.wait(1)
    header = got.headers["GigCX-Signature"]
    assert verify(got.body, header, rotated["secret"]) and verify(got.body, header, ep["secret"])
    assert not verify(got.body.replace(b"acme", b"acmf"), header, rotated["secret"])
    assert not verify(got.body, header, "whsec_wrong")
