"""The authorization matrix: every REST operation of the OpenAPI document and every Socket.IO event,
times every kind of caller, against brand A's data, with the expected outcome written down here by
hand (from docs/api.md, docs/payouts.md, docs/protocol.md), not read from the code.

Callers: anonymous, the operator, brand A's API key, brand A's analyst (read-only staff), expert A
(approved by A, holds case A), customer A (asked case A), and from the other side brand B's key,
brand B's expert and customer, plus a second customer and expert of brand A. A leak shows up as a
2xx (or an event) where 401/403/404 was expected, or as brand A's marker text in someone else's
answer."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import socketio

from tests.servers import ADMIN_TOKEN, Peer, Server

MARKER = "matrix-secret-question-of-brand-a"
BRANDS = {"brand_a", "brand_b"}
ANALYSTS = {"analyst_a"}
EXPERTS = {"expert_a", "expert_b"}
READERS = BRANDS | ANALYSTS  # brand-scoped reads: each sees its own brand
ROLES = ["anon", "operator", "brand_a", "analyst_a", "expert_a", "customer_a", "brand_b", "expert_b"]
EVERYONE = set(ROLES)

# (method, path, body, roles allowed, roles that must get 404 because the data is brand A's)
OPERATIONS: list[tuple[str, str, Any, set[str], set[str]]] = [
    ("POST", "/brands", lambda w: {"slug": "m" + uuid.uuid4().hex[:8], "name": "M"}, {"operator"}, set()),
    ("GET", "/brand", None, READERS, set()),
    ("PATCH", "/brand", {"max_offers": 3}, BRANDS, set()),
    ("POST", "/brand/funding", lambda w: {"amount_cents": 100, "reference": uuid.uuid4().hex}, BRANDS, set()),
    ("GET", "/brand/statement", None, READERS, set()),
    ("PUT", "/brands/{slug_a}/budget-policy", {"credit_limit_cents": 0}, {"operator"}, set()),
    ("DELETE", "/brands/{slug_a}/budget-policy", None, {"operator"}, set()),
    ("GET", "/cases", None, READERS, set()),
    ("GET", "/cases/export.csv", None, READERS, set()),
    ("GET", "/cases/{case_a}", None, {"brand_a", "analyst_a"}, {"brand_b"}),
    ("POST", "/cases/{case_a}/review", {"verdict": "approve"}, {"brand_a"}, {"brand_b"}),
    ("GET", "/answers", None, READERS, set()),
    ("GET", "/answers/{answer_a}", None, {"brand_a", "analyst_a"}, {"brand_b"}),
    ("PATCH", "/answers/{answer_a}", {"status": "approved"}, {"brand_a"}, {"brand_b"}),
    ("POST", "/answers/{answer_a}/approve", None, {"brand_a"}, {"brand_b"}),
    ("POST", "/answers/{answer_a}/reject", None, {"brand_a"}, {"brand_b"}),
    ("GET", "/customers/{customer_a}/export", None, {"brand_a", "analyst_a"}, {"brand_b"}),
    # erasing is idempotent; a customer of A's with nothing else to lose is the victim
    ("DELETE", "/customers/{customer_victim}", None, {"brand_a"}, {"brand_b"}),
    ("POST", "/experts", lambda w: {"email": f"{uuid.uuid4().hex[:8]}@m.example", "password": "password-123",
                                    "display_name": "M"}, EVERYONE, set()),
    ("POST", "/auth/token", lambda w: {"email": w["expert_a_email"], "password": "password-123"}, EVERYONE, set()),
    ("GET", "/experts/me", None, EXPERTS, set()),
    ("GET", "/experts/me/earnings", None, EXPERTS, set()),
    ("GET", "/experts/me/payout-account", None, EXPERTS, set()),
    ("POST", "/experts/me/payout-account", {}, EXPERTS, set()),
    ("POST", "/experts/me/programs", lambda w: {"brand": w["slug_a"], "topics": ["cards"]}, EXPERTS, set()),
    ("POST", "/experts/{victim}/approve", {"topics": ["cards"]}, {"brand_a"}, {"brand_b"}),
    ("POST", "/experts/{victim}/suspend", None, {"brand_a"}, {"brand_b"}),
    ("POST", "/experts/{victim}/reject", None, {"brand_a"}, {"brand_b"}),
    ("GET", "/metrics", None, READERS, set()),
    ("GET", "/metrics/export.csv", None, READERS, set()),
    ("GET", "/brands/{slug_a}/program", None, EVERYONE, set()),  # public: name and topics only
    ("GET", "/staff/me", None, READERS, set()),
    ("POST", "/payouts/run", None, {"operator"}, set()),
    ("POST", "/payouts/retry", None, {"operator"}, set()),
    ("GET", "/payouts", None, {"operator"}, set()),
    ("POST", "/payouts/{payout_a}/settle", {}, {"operator"}, set()),  # no evidence given: 422 for the operator
    ("POST", "/payouts/batches/{batch_a}/mark-paid", {}, {"operator"}, set()),
    ("GET", "/payouts/reversals", None, {"operator"}, set()),
    ("POST", "/payouts/reversals/{reversal_none}/decision", {"decision": "repay"}, {"operator"}, set()),
    ("POST", "/brands/{slug_a}/funding", {"amount_cents": 100, "reference": "matrix-1"}, {"operator"}, set()),
    ("PUT", "/brands/{slug_a}/platform-fee", {"platform_fee_cents": 0}, {"operator"}, set()),
    ("GET", "/payouts/{payout_a}/statement.csv", None, {"operator", "expert_a"}, {"expert_b"}),
    ("GET", "/programs", None, READERS, set()),
    ("GET", "/staff", None, READERS, set()),
    ("DELETE", "/staff/{staff_victim}", None, {"brand_a"}, {"brand_b"}),
    ("POST", "/staff", lambda w: {"email": f"{uuid.uuid4().hex[:8]}@m.example", "password": "password-123",
                                  "display_name": "M", "role": "analyst"}, BRANDS, set()),
    ("POST", "/staff/token", lambda w: {"brand": w["slug_a"], "email": w["analyst_email"],
                                        "password": "password-123"}, EVERYONE, set()),
    ("GET", "/topics", None, READERS, set()),
    ("PUT", "/topics/{topic}", {"name": "M", "reward_cents": 300}, BRANDS, set()),
    ("GET", "/brand/identity-secret", None, BRANDS, set()),
    ("POST", "/brand/identity-secret", None, BRANDS, set()),
    ("GET", "/trust/flagged", None, READERS, set()),
    ("GET", "/trust/flagged/{case_a}", None, {"brand_a", "analyst_a"}, {"brand_b"}),
    ("POST", "/trust/flagged/{case_a}/decision", {"action": "release"}, {"brand_a"}, {"brand_b"}),
    ("POST", "/trust/qa/{case_a}", {"verdict": "pass"}, {"brand_a"}, {"brand_b"}),
    ("GET", "/trust/decisions", None, READERS, set()),
    ("GET", "/trust/quality", None, READERS, set()),
    ("GET", "/experts/me/quality", None, EXPERTS, set()),
    ("GET", "/webhooks/events", None, READERS, set()),
    ("POST", "/webhooks/endpoints", {"url": "https://example.com/m"}, BRANDS, set()),
    ("GET", "/webhooks/endpoints", None, READERS, set()),
    ("GET", "/webhooks/endpoints/{endpoint_a}", None, {"brand_a", "analyst_a"}, {"brand_b"}),
    ("PATCH", "/webhooks/endpoints/{endpoint_a}", {"description": "m"}, {"brand_a"}, {"brand_b"}),
    ("POST", "/webhooks/endpoints/{endpoint_a}/rotate-secret", {}, {"brand_a"}, {"brand_b"}),
    ("DELETE", "/webhooks/endpoints/{endpoint_spare}", None, {"brand_a"}, {"brand_b"}),
    ("GET", "/webhooks/deliveries", None, READERS, set()),
    ("GET", "/webhooks/deliveries/{delivery_a}", None, {"brand_a", "analyst_a"}, {"brand_b"}),
    ("POST", "/webhooks/deliveries/{delivery_a}/replay", None, {"brand_a"}, {"brand_b"}),
    ("GET", "/experts/me/notifications", None, EXPERTS, set()),
    ("PUT", "/experts/me/notifications", {"digest": False}, EXPERTS, set()),
    ("GET", "/staff/me/notifications", None, ANALYSTS, set()),  # people only: a brand key has no inbox
    ("PUT", "/staff/me/notifications", {"escalations": True}, ANALYSTS, set()),
    ("GET", "/brand/notifications", None, READERS, set()),
    ("PUT", "/brand/notifications", {"language": "en"}, BRANDS, set()),
    # Credential-destroying calls: their own test below (they would break the shared callers).
    ("POST", "/brand/api-key", None, BRANDS, set()),
    ("DELETE", "/auth/token", None, EXPERTS | ANALYSTS, set()),
]
# Without Stripe no transfer is ever reversed: the operator's answer for this unknown id is 404, and
# every other role must still be refused before the id is looked at.
UNKNOWN_ID_OK = {"/payouts/reversals/{reversal_none}/decision"}
DESTRUCTIVE = {("POST", "/brand/api-key"), ("DELETE", "/auth/token")}


@pytest.fixture(scope="module")
def world(server: Server) -> Iterator[dict[str, Any]]:
    slug_a, key_a = server.brand(review_window_s=0, escalate_after_s=86400, offer_timeout_s=3600)
    server.topic(key_a, "cards", examples=["where is my card"])
    slug_b, key_b = server.brand(escalate_after_s=86400)
    server.topic(key_b, "cards", examples=["where is my card"])
    ids: dict[str, Any] = {"slug_a": slug_a, "slug_b": slug_b, "topic": "cards"}
    email_a = f"a{uuid.uuid4().hex[:8]}@m.example"
    server.rest("POST", "/experts", json={"email": email_a, "password": "password-123", "display_name": "A"})
    token_a = server.rest("POST", "/auth/token", json={"email": email_a, "password": "password-123"}).json()
    server.rest("POST", "/experts/me/programs", token_a["token"], json={"brand": slug_a, "topics": ["cards"]})
    assert server.rest("POST", f"/experts/{token_a['expert_id']}/approve", key_a, json={"topics": ["cards"]}).ok
    _, token_b = server.expert(slug_b, key_b, ["cards"])
    _, token_a2 = server.expert(slug_a, key_a, ["cards"])  # approved by A, but never offered case A
    victim, _ = server.expert(slug_a, key_a, ["cards"])  # for approve / suspend / reject
    analyst_email = f"s{uuid.uuid4().hex[:8]}@m.example"
    assert server.rest("POST", "/staff", key_a, json={"email": analyst_email, "password": "password-123",
                                                       "display_name": "An", "role": "analyst"}).ok
    analyst = server.rest("POST", "/staff/token", json={"brand": slug_a, "email": analyst_email,
                                                        "password": "password-123"}).json()["token"]
    # Webhook endpoints of brand A (deliveries to them hold case A's text).
    endpoint_a = server.rest("POST", "/webhooks/endpoints", key_a, json={"url": "https://example.com/a"}).json()["id"]
    ids["endpoint_spare"] = server.rest("POST", "/webhooks/endpoints", key_a,
                                        json={"url": "https://example.com/spare"}).json()["id"]
    staff_victim = server.rest("POST", "/staff", key_a, json={
        "email": f"v{uuid.uuid4().hex[:8]}@m.example", "password": "password-123", "display_name": "V"}).json()["id"]
    # Case A: customer A asks, expert A takes it, answers, resolves, the customer confirms; a payout.
    customer_a = Peer(server.url, "/customer", {"brand": slug_a})
    session_a = customer_a.wait_for("session")
    customer_token = session_a["token"]
    customer_victim = Peer(server.url, "/customer", {"brand": slug_a})
    ids["customer_victim"] = customer_victim.wait_for("session")["customer_id"]
    customer_victim.close()
    ids["customer_a"] = session_a["customer_id"]
    expert_a = Peer(server.url, "/expert", {"token": token_a["token"]})
    expert_a.call("availability", {"online": True, "max_cases": 20})
    paid = customer_a.call("ask", {"text": f"where is my card {MARKER}", "client_id": "paid"})["case"]["id"]
    expert_a.wait_for("offer", lambda d: d["case_id"] == paid)
    assert expert_a.call("accept", {"case_id": paid})["ok"]
    expert_a.call("message", {"case_id": paid, "text": f"answer {MARKER}", "client_id": "e1"})
    expert_a.call("resolve", {"case_id": paid})
    assert customer_a.call("resolve", {"case_id": paid, "resolved": True})["ok"]
    payout_a = batch_a = None
    import time

    deadline = time.monotonic() + 15
    while payout_a is None and time.monotonic() < deadline:  # the review window (0 s) is a timer
        run = server.rest("POST", "/payouts/run", ADMIN_TOKEN).json()
        payout_a = next((p.get("id") or p.get("payout_id") for p in run.get("payouts", [])
                         if p["expert_id"] == token_a["expert_id"]), None)
        batch_a = run.get("batch_id")
        time.sleep(0.3)
    assert payout_a, "no payout for expert A"
    ids["answer_a"] = server.rest("GET", "/answers", key_a).json()["answers"][0]["id"]  # from the paid case
    case_a = customer_a.call("ask", {"text": f"my card is lost {MARKER}", "client_id": "open"})["case"]["id"]
    expert_a.wait_for("offer", lambda d: d["case_id"] == case_a)
    assert expert_a.call("accept", {"case_id": case_a})["ok"]
    delivery_a = server.rest("GET", f"/webhooks/deliveries?endpoint_id={endpoint_a}", key_a).json()["deliveries"][0]["id"]
    ids.update(case_a=case_a, payout_a=payout_a, victim=victim, endpoint_a=endpoint_a, delivery_a=delivery_a,
               staff_victim=staff_victim, batch_a=batch_a, reversal_none="trr_none")
    tokens = {"anon": None, "operator": ADMIN_TOKEN, "brand_a": key_a, "analyst_a": analyst,
              "expert_a": token_a["token"], "customer_a": customer_token, "brand_b": key_b, "expert_b": token_b}
    peers = {
        "customer_a": customer_a, "expert_a": expert_a,
        "customer_a2": Peer(server.url, "/customer", {"brand": slug_a}),
        "customer_b": Peer(server.url, "/customer", {"brand": slug_b}),
        "expert_a2": Peer(server.url, "/expert", {"token": token_a2}),
        "expert_b": Peer(server.url, "/expert", {"token": token_b}),
        "brand_a": Peer(server.url, "/brand", {"api_key": key_a}),
        "analyst_a": Peer(server.url, "/brand", {"token": analyst}),
        "brand_b": Peer(server.url, "/brand", {"api_key": key_b}),
    }
    for name in ("expert_a2", "expert_b"):
        peers[name].call("availability", {"online": True, "max_cases": 20})
    yield {**ids, "tokens": tokens, "peers": peers, "expert_a_email": email_a, "analyst_email": analyst_email,
           "key_a": key_a}
    for peer in peers.values():
        peer.close()


def _expected(role: str, allowed: set[str], foreign: set[str]) -> str:
    if role in allowed:
        return "allowed"
    if role in foreign:
        return "404"
    if role in ("anon", "customer_a"):  # a customer token is no REST credential
        return "401"
    return "403"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("method,path,body,allowed,foreign",
                         [op for op in OPERATIONS if (op[0], op[1]) not in DESTRUCTIVE],
                         ids=[f"{op[0]} {op[1]}" for op in OPERATIONS if (op[0], op[1]) not in DESTRUCTIVE])
def test_rest(server: Server, world: dict[str, Any], method: str, path: str, body: Any, allowed: set[str],
              foreign: set[str], role: str) -> None:
    url = path.format(**{k: world[k] for k in ("slug_a", "case_a", "payout_a", "victim", "topic", "endpoint_a",
                                               "endpoint_spare", "delivery_a", "staff_victim", "answer_a",
                                               "customer_a", "customer_victim", "batch_a", "reversal_none")})
    payload = body(world) if callable(body) else body
    r = server.rest(method, url, world["tokens"][role], json=payload)
    expected = _expected(role, allowed, foreign)
    assert r.status_code < 500, r.text
    if expected == "allowed":
        refused = (401, 403) if path in UNKNOWN_ID_OK else (401, 403, 404)
        assert r.status_code not in refused, (role, r.status_code, r.text[:300])
    else:
        assert r.status_code == int(expected), (role, expected, r.status_code, r.text[:300])
        assert r.json()["error"]["code"] == {"401": "unauthorized", "403": "forbidden", "404": "not_found"}[expected]
    if role not in ("brand_a", "analyst_a", "expert_a", "operator"):
        assert MARKER not in r.text, f"{role} saw brand A's data through {method} {path}"


@pytest.mark.parametrize("role", ROLES)
def test_credential_destroying_calls(server: Server, role: str) -> None:
    """Key rotation and token revocation, each with fresh credentials of every kind."""
    slug, key = server.brand()
    expert = _expert_token(server)
    email = f"s{uuid.uuid4().hex[:8]}@m.example"
    server.rest("POST", "/staff", key, json={"email": email, "password": "password-123", "display_name": "S",
                                             "role": "analyst"})
    analyst = server.rest("POST", "/staff/token", json={"brand": slug, "email": email,
                                                        "password": "password-123"}).json()["token"]
    tokens = {"anon": None, "operator": ADMIN_TOKEN, "brand_a": key, "analyst_a": analyst, "expert_a": expert,
              "customer_a": "gcxc_" + uuid.uuid4().hex, "brand_b": server.brand()[1], "expert_b": _expert_token(server)}
    for method, path, _, allowed, foreign in [op for op in OPERATIONS if (op[0], op[1]) in DESTRUCTIVE]:
        r = server.rest(method, path, tokens[role])
        expected = _expected(role, allowed, foreign)
        if expected == "allowed":
            assert r.status_code in (201, 204), (method, path, role, r.text)
            assert server.rest("GET", "/topics" if "brand" in role or "analyst" in role else "/experts/me",
                               tokens[role]).status_code == 401, "the old credential still works"
            tokens[role] = "spent"
        elif tokens[role] != "spent":
            assert r.status_code == int(expected), (method, path, role, r.status_code, r.text)


def _expert_token(server: Server) -> str:
    email = f"e{uuid.uuid4().hex[:8]}@m.example"
    server.rest("POST", "/experts", json={"email": email, "password": "password-123", "display_name": "E"})
    return str(server.rest("POST", "/auth/token", json={"email": email, "password": "password-123"}).json()["token"])


def test_every_operation_is_in_the_matrix(server: Server) -> None:
    doc = requests.get(server.url + "/api/v1/openapi.json", timeout=10).json()
    documented = {(m.upper(), p.removeprefix("/api/v1")) for p, ops in doc["paths"].items() for m in ops}
    covered = {(m, p.replace("{slug_a}", "{slug}").replace("{case_a}", "{id}").replace("{victim}", "{id}")
                .replace("{payout_a}", "{id}").replace("{topic}", "{slug}").replace("{endpoint_a}", "{id}")
                .replace("{endpoint_spare}", "{id}").replace("{delivery_a}", "{id}")
                .replace("{staff_victim}", "{id}").replace("{answer_a}", "{id}")
                .replace("{customer_a}", "{id}").replace("{customer_victim}", "{id}")
                .replace("{batch_a}", "{id}").replace("{reversal_none}", "{id}")) for m, p, *_ in OPERATIONS}
    assert documented == covered, (documented - covered, covered - documented)


# ---------------------------------------------------------------- Socket.IO
CONNECT = [  # namespace, credential, may connect
    ("/customer", lambda w: {"brand": w["slug_a"]}, True),
    ("/customer", lambda w: {"brand": "no-such-brand"}, False),
    ("/expert", lambda w: {"token": w["tokens"]["expert_a"]}, True),
    ("/expert", lambda w: {"token": w["tokens"]["brand_a"]}, False),
    ("/expert", lambda w: {"token": w["tokens"]["analyst_a"]}, False),
    ("/expert", lambda w: {"token": w["tokens"]["operator"]}, False),
    ("/expert", lambda w: {"token": w["tokens"]["customer_a"]}, False),
    ("/brand", lambda w: {"api_key": w["tokens"]["brand_a"]}, True),
    ("/brand", lambda w: {"token": w["tokens"]["analyst_a"]}, True),
    ("/brand", lambda w: {"api_key": w["tokens"]["expert_a"]}, False),
    ("/brand", lambda w: {"api_key": w["tokens"]["operator"]}, False),
    ("/brand", lambda w: {"token": w["tokens"]["customer_a"]}, False),
]


@pytest.mark.parametrize("namespace,auth,ok", CONNECT, ids=[f"{c[0]}-{i}" for i, c in enumerate(CONNECT)])
def test_connect(server: Server, world: dict[str, Any], namespace: str, auth: Any, ok: bool) -> None:
    client = socketio.Client(reconnection=False)
    try:
        client.connect(server.url, namespaces=[namespace], auth=auth(world), transports=["websocket"],
                       wait_timeout=10)
        connected = True
    except socketio.exceptions.ConnectionError:
        connected = False
    finally:
        client.disconnect()
    assert connected is ok


# event, payload; who may (the owner of case A), who is refused with which codes
SOCKET: list[tuple[str, str, dict[str, Any], set[str], dict[str, set[str]]]] = [
    ("/customer", "message", {"text": "hi", "client_id": "mx"}, {"customer_a"}, {}),
    ("/customer", "sync", {"after_seq": 0}, {"customer_a"}, {}),
    ("/customer", "typing", {}, {"customer_a"}, {}),
    ("/customer", "resolve", {"resolved": True}, set(), {}),
    ("/customer", "rate", {"csat": 5}, set(), {}),
    ("/customer", "deflect", {}, set(), {}),
    ("/expert", "accept", {}, set(), {"expert_a2": {"not_found", "offer_expired"},
                                       "expert_b": {"not_found", "offer_expired"}}),
    ("/expert", "decline", {}, set(), {"expert_a2": {"not_found", "offer_expired"},
                                        "expert_b": {"not_found", "offer_expired"}}),
    ("/expert", "message", {"text": "hi", "client_id": "mx"}, {"expert_a"}, {}),
    ("/expert", "resolve", {}, set(), {}),
    ("/expert", "escalate", {"reason": "x"}, set(), {}),
    ("/expert", "sync", {"after_seq": 0}, {"expert_a"}, {}),
    ("/expert", "typing", {}, {"expert_a"}, {}),
    ("/brand", "sync", {"after_seq": 0}, {"brand_a", "analyst_a"}, {}),
    # Staff answer escalated cases only (case A is active): the owner gets `conflict`, an analyst
    # (read-only) `forbidden`, another brand `not_found`.
    ("/brand", "message", {"text": "hi", "client_id": "mx"}, set(), {"brand_a": {"conflict"},
                                                                    "analyst_a": {"forbidden"}}),
    ("/brand", "close", {}, set(), {"brand_a": {"conflict"}, "analyst_a": {"forbidden"}}),
]
CALLERS = {"/customer": ["customer_a", "customer_a2", "customer_b"], "/expert": ["expert_a", "expert_a2", "expert_b"],
           "/brand": ["brand_a", "analyst_a", "brand_b"]}


@pytest.mark.parametrize("namespace,event,body,allowed,codes", SOCKET, ids=[f"{s[0]}-{s[1]}" for s in SOCKET])
def test_socket_event(world: dict[str, Any], namespace: str, event: str, body: dict[str, Any], allowed: set[str],
                      codes: dict[str, set[str]]) -> None:
    before = world["peers"]["customer_a"].call("sync", {"case_id": world["case_a"], "after_seq": 0})
    for caller in CALLERS[namespace]:
        if caller in ("customer_a", "expert_a") and caller not in allowed:
            continue  # the owner's own state changes are the lifecycle tests' business
        ack = world["peers"][caller].call(event, {"case_id": world["case_a"], **body})
        if caller in allowed:
            assert ack["ok"], (caller, event, ack)
            continue
        expected = codes.get(caller, {"not_found"})
        assert ack["ok"] is False and ack["error"]["code"] in expected, (caller, event, ack)
        assert MARKER not in repr(ack)
    after = world["peers"]["customer_a"].call("sync", {"case_id": world["case_a"], "after_seq": 0})
    assert after["case"]["status"] == before["case"]["status"] == "active"
    mine = [m for m in after["messages"] if m["client_id"] != "mx"]
    assert len(mine) == len([m for m in before["messages"] if m["client_id"] != "mx"])


def test_zz_no_event_of_case_a_reached_anybody_else(world: dict[str, Any]) -> None:
    """Runs after the others (file order): nothing about case A was pushed to outsiders."""
    case_a = world["case_a"]
    for name in ("customer_a2", "customer_b", "expert_a2", "expert_b", "brand_b"):
        for event, data in world["peers"][name].events:
            text = repr(data)
            assert MARKER not in text, (name, event, data)
            if isinstance(data, dict):
                assert data.get("case_id") != case_a and not (event == "case" and data.get("id") == case_a), \
                    (name, event, data)


def test_analysts_cannot_answer_or_close_escalated_cases(world: dict[str, Any]) -> None:
    """Found by the matrix: `/brand` let a read-only analyst post staff messages and close cases."""
    customer, expert = world["peers"]["customer_a"], world["peers"]["expert_a"]
    analyst, admin = world["peers"]["analyst_a"], world["peers"]["brand_a"]
    # Only expert A may get this case: routing favours new experts (exploration), like A2.
    world["peers"]["expert_a2"].call("availability", {"online": False})
    case_id = customer.call("ask", {"text": "where is my card now", "client_id": "esc"})["case"]["id"]
    expert.wait_for("offer", lambda d: d["case_id"] == case_id)
    assert expert.call("accept", {"case_id": case_id})["ok"]
    assert expert.call("escalate", {"case_id": case_id, "reason": "needs staff"})["ok"]
    ack = analyst.call("message", {"case_id": case_id, "text": "hi", "client_id": "an"})
    assert ack["error"]["code"] == "forbidden", ack
    assert analyst.call("close", {"case_id": case_id})["error"]["code"] == "forbidden"
    assert analyst.call("sync", {"case_id": case_id, "after_seq": 0})["ok"]  # reading is fine
    assert admin.call("message", {"case_id": case_id, "text": "staff here", "client_id": "ad"})["ok"]
    assert admin.call("close", {"case_id": case_id})["case"]["status"] == "closed"
    assert [m["sender"] for m in customer.call("sync", {"case_id": case_id})["messages"]].count("staff") == 1
