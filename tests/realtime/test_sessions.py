"""Revoked means gone: a revoked token, a rotated brand key, a removed staff member and a suspended
expert lose their live sockets at once, and nothing they send meanwhile is acted on. One process on
the test database here; two processes on PostgreSQL and Redis in test_sessions_scaled.py."""
from __future__ import annotations

import time
import uuid
from typing import Any

import sqlalchemy as sa

from tests.polling import wait_until
from tests.servers import Peer, Server


def gone(peer: Peer) -> bool:
    """The server disconnected the peer's namespace."""
    return peer.namespace not in peer.sio.namespaces or not peer.sio.connected


def refused(peer: Peer, event: str, payload: dict[str, Any]) -> bool:
    """The event is not acted on: the socket is closed, or the ack is `unauthorized`."""
    if gone(peer):
        return True
    try:
        ack = peer.call(event, payload, timeout=3)
    except Exception:  # noqa: BLE001 - disconnected meanwhile, or no ack: not acted on
        return True
    return ack.get("ok") is False and ack["error"]["code"] in ("unauthorized", "not_found")


def staff_token(server: Server, slug: str, key: str, role: str = "admin") -> tuple[int, str]:
    email = f"s{uuid.uuid4().hex[:8]}@m.example"
    r = server.rest("POST", "/staff", key, json={"email": email, "password": "password-123",
                                                 "display_name": "Sam", "role": role})
    assert r.status_code == 201, r.text
    login = server.rest("POST", "/staff/token", json={"brand": slug, "email": email, "password": "password-123"})
    return r.json()["id"], login.json()["token"]


def test_revoked_expert_token_disconnects_and_refuses(server: Server, peers: Any) -> None:
    slug, key = server.brand(offer_timeout_s=60)
    server.topic(key, "cards", examples=["where is my card"])
    _, token = server.expert(slug, key, ["cards"])
    expert = peers(server.url, "/expert", {"token": token})
    assert expert.call("availability", {"online": True})["ok"]
    assert server.rest("DELETE", "/auth/token", token).status_code == 204
    wait_until(lambda: gone(expert), timeout=5, what="revoked expert disconnected")
    assert any(d["reason"] == "logged_out" for d in expert.received("session_ended"))
    # no offer reaches the revoked session, and the token no longer connects
    customer = peers(server.url, "/customer", {"brand": slug})
    case_id = customer.call("ask", {"text": "where is my card", "client_id": "q"})["case"]["id"]
    time.sleep(0.5)
    assert not [d for d in expert.received("offer") if d["case_id"] == case_id]
    try:
        peers(server.url, "/expert", {"token": token})
        raise AssertionError("a revoked token connected")
    except Exception as exc:  # noqa: BLE001 - connect_error
        assert "connect" in type(exc).__name__.lower() or "refused" in str(exc).lower() or "invalid" in str(exc)


def test_other_tokens_of_the_same_expert_keep_working(server: Server, peers: Any) -> None:
    slug, key = server.brand()
    server.topic(key, "cards", examples=["where is my card"])
    expert_id, token = server.expert(slug, key, ["cards"])
    email = server.rest("GET", "/experts/me", token).json()["email"]
    other = server.rest("POST", "/auth/token", json={"email": email, "password": "password-123"}).json()["token"]
    first = peers(server.url, "/expert", {"token": token})
    second = peers(server.url, "/expert", {"token": other})
    assert server.rest("DELETE", "/auth/token", token).status_code == 204
    wait_until(lambda: gone(first), timeout=5, what="revoked session disconnected")
    time.sleep(0.3)
    assert not gone(second)
    assert second.call("availability", {"online": True})["ok"]


def test_rotated_brand_key_disconnects_its_feed(server: Server, peers: Any) -> None:
    slug, key = server.brand()
    server.topic(key, "cards", examples=["where is my card"])
    feed = peers(server.url, "/brand", {"api_key": key})
    _, staff = staff_token(server, slug, key)
    console = peers(server.url, "/brand", {"token": staff})
    r = server.rest("POST", "/brand/api-key", key)
    assert r.status_code == 201
    new_key = r.json()["api_key"]
    wait_until(lambda: gone(feed), timeout=5, what="old key's feed disconnected")
    fresh = peers(server.url, "/brand", {"api_key": new_key})
    customer = peers(server.url, "/customer", {"brand": slug})
    case_id = customer.call("ask", {"text": "where is my card", "client_id": "q"})["case"]["id"]
    fresh.wait_for("case", lambda d: d["id"] == case_id)
    console.wait_for("case", lambda d: d["id"] == case_id)  # staff sessions are not the key's
    assert not [d for d in feed.received("case") if d["id"] == case_id]


def test_removed_staff_member_is_disconnected(server: Server, peers: Any) -> None:
    slug, key = server.brand()
    staff_id, staff = staff_token(server, slug, key)
    _, colleague = staff_token(server, slug, key)
    console = peers(server.url, "/brand", {"token": staff})
    other = peers(server.url, "/brand", {"token": colleague})
    assert server.rest("DELETE", f"/staff/{staff_id}", key).status_code == 204
    wait_until(lambda: gone(console), timeout=5, what="removed staff disconnected")
    assert server.rest("GET", "/staff/me", staff).status_code == 401
    assert not gone(other)
    assert server.rest("GET", "/staff/me", colleague).status_code == 200
    # unknown and foreign staff ids answer alike
    _, key_b = server.brand()
    unknown = server.rest("DELETE", f"/staff/{2**31 - 2}", key)
    foreign = server.rest("DELETE", f"/staff/{staff_id + 1}", key_b)
    assert (unknown.status_code, unknown.json()) == (foreign.status_code, foreign.json()) == (
        404, {"error": {"code": "not_found", "message": "no such staff user"}})


def test_suspended_expert_is_disconnected_and_earns_nothing_more(server: Server, peers: Any) -> None:
    slug, key = server.brand(offer_timeout_s=60, review_window_s=0)
    server.topic(key, "cards", reward=500, examples=["where is my card"])
    first_id, first_token = server.expert(slug, key, ["cards"], name="First")
    first = peers(server.url, "/expert", {"token": first_token})
    first.call("availability", {"online": True, "max_cases": 5})
    customer = peers(server.url, "/customer", {"brand": slug})
    case_id = customer.call("ask", {"text": "where is my card", "client_id": "q"})["case"]["id"]
    first.wait_for("offer", lambda d: d["case_id"] == case_id)
    assert first.call("accept", {"case_id": case_id})["ok"]
    first.call("message", {"case_id": case_id, "text": "let me look", "client_id": "e1"})
    assert first.call("resolve", {"case_id": case_id})["ok"]  # pending the customer's confirmation
    # a second case on offer to the same expert
    other = customer.call("ask", {"text": "where is my card", "client_id": "q2"})["case"]["id"]
    first.wait_for("offer", lambda d: d["case_id"] == other)

    r = server.rest("POST", f"/experts/{first_id}/suspend", key)
    assert r.status_code == 200 and r.json()["status"] == "suspended"
    wait_until(lambda: gone(first), timeout=5, what="suspended expert disconnected")
    customer.wait_for("case", lambda d: d["id"] == case_id and d["status"] == "matching")
    # reconnected, the suspended expert can neither see nor act on the brand's cases
    again = peers(server.url, "/expert", {"token": first_token})
    assert again.call("sync", {"case_id": case_id})["error"]["code"] == "not_found"
    assert again.call("message", {"case_id": case_id, "text": "still here", "client_id": "e2"})["error"]["code"] == "not_found"
    assert again.call("accept", {"case_id": other})["ok"] is False
    assert customer.call("resolve", {"case_id": case_id, "resolved": True})["error"]["code"] == "conflict"

    second_id, second_token = server.expert(slug, key, ["cards"], name="Second")
    second = peers(server.url, "/expert", {"token": second_token})
    second.call("availability", {"online": True, "max_cases": 5})
    second.wait_for("offer", lambda d: d["case_id"] == case_id)
    accepted = second.call("accept", {"case_id": case_id})
    assert accepted["ok"] and [m["text"] for m in accepted["messages"]][:2] == ["where is my card", "First is here to help."]
    second.call("resolve", {"case_id": case_id})
    assert customer.call("resolve", {"case_id": case_id, "resolved": True})["ok"]
    wait_until(lambda: server.rest("GET", "/experts/me/earnings", second_token).json()["entries"] != [],
               what="second expert credited")
    assert server.rest("GET", "/experts/me/earnings", first_token).json()["entries"] == []
    case = server.rest("GET", f"/cases/{case_id}", key).json()
    assert case["expert"]["id"] == second_id and case["status"] == "resolved"


def test_a_lost_signal_still_ends_the_session(servers: Any, peers: Any) -> None:
    """The token is revoked behind the service's back (no signal): the next event is refused once
    the credential cache expires, and the sweep disconnects the socket."""
    server = servers(env={"GIGCX_CREDENTIAL_CACHE_S": "0.2", "GIGCX_SESSION_SWEEP_S": "0.5"})
    slug, key = server.brand()
    server.topic(key, "cards", examples=["where is my card"])
    _, token = server.expert(slug, key, ["cards"])
    expert = peers(server.url, "/expert", {"token": token})
    assert expert.call("availability", {"online": True})["ok"]
    engine = sa.create_engine(server.env["GIGCX_DATABASE_URL"], poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE authtoken SET revoked_at = CURRENT_TIMESTAMP"))
    engine.dispose()
    time.sleep(0.3)
    assert refused(expert, "availability", {"online": True})
    wait_until(lambda: gone(expert), timeout=5, what="sweep disconnected the revoked session")


def test_client_sent_connect_and_disconnect_events_are_refused(server: Server, peers: Any) -> None:
    slug, key = server.brand()
    server.topic(key, "cards")
    _, token = server.expert(slug, key, ["cards"])
    before = server.log_path.read_text(errors="replace").count("Traceback")
    expert = peers(server.url, "/expert", {"token": token})
    customer = peers(server.url, "/customer", {"brand": slug})
    for peer, auth in ((expert, {"token": token}), (customer, {"brand": slug})):
        for event in ("connect", "disconnect"):
            ack = peer.call(event, auth)
            assert ack["ok"] is False and ack["error"]["code"] == "invalid", ack
        assert peer.call("sync", {"case_id": 1})["error"]["code"] == "not_found"  # still connected and working
    assert server.log_path.read_text(errors="replace").count("Traceback") == before


def test_an_accept_racing_a_suspension_cannot_win(server: Server, peers: Any) -> None:
    """The accept itself requires an approved program: an offer still open when the suspension
    commits (its withdrawal not yet seen) cannot be taken."""
    slug, key = server.brand(offer_timeout_s=60)
    server.topic(key, "cards", examples=["where is my card"])
    expert_id, token = server.expert(slug, key, ["cards"])
    expert = peers(server.url, "/expert", {"token": token})
    expert.call("availability", {"online": True})
    customer = peers(server.url, "/customer", {"brand": slug})
    case_id = customer.call("ask", {"text": "where is my card", "client_id": "q"})["case"]["id"]
    expert.wait_for("offer", lambda d: d["case_id"] == case_id)
    engine = sa.create_engine(server.env["GIGCX_DATABASE_URL"], poolclass=sa.pool.NullPool)
    with engine.begin() as conn:  # the suspension as the accept sees it: program changed, offer still open
        conn.execute(sa.text("UPDATE expertprogram SET status = 'suspended' WHERE expert_id = :e"), {"e": expert_id})
    engine.dispose()
    ack = expert.call("accept", {"case_id": case_id})
    assert ack["ok"] is False and ack["error"]["code"] == "already_taken", ack
    assert customer.call("sync", {"case_id": case_id})["case"]["status"] == "matching"
