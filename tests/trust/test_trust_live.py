"""Known customers and self-dealing over real Socket.IO connections to a real server process
(behind one trusted proxy, so each client's X-Forwarded-For is its address)."""
from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import socketio

from tests.servers import Peer, Server

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"
SAFARI = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) Version/18.0 Mobile/15E148 Safari/604.1"
ANSWER = "Open the app, go to Cards, tap Replace card and confirm the delivery address shown."


class From(Peer):
    """A Peer connecting from a given address (X-Forwarded-For) and user agent."""

    def __init__(self, url: str, namespace: str, auth: dict[str, Any], ip: str, ua: str):
        self.namespace = namespace
        self.events: list[tuple[str, Any]] = []
        self.cond = threading.Condition()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("*", self._record, namespace=namespace)
        self.sio.connect(url, namespaces=[namespace], auth=auth, transports=["websocket"], wait_timeout=10,
                         headers={"X-Forwarded-For": ip, "User-Agent": ua})


@pytest.fixture
def live(tmp_path: Path, database_url: str) -> Iterator[Server]:
    """A server behind one trusted proxy (generous start-up time: these run on busy CI machines)."""
    server = Server(database_url, tmp_path / "instance", env={"GIGCX_TRUSTED_PROXIES": "1"})
    server.start(timeout=180)
    yield server
    server.stop()


@pytest.fixture
def made() -> Any:
    peers: list[Peer] = []
    yield peers
    for p in peers:
        p.close()


def connect(made: list[Peer], server: Server, namespace: str, auth: dict[str, Any], ip: str, ua: str) -> From:
    peer = From(server.url, namespace, auth, ip, ua)
    made.append(peer)
    return peer


def served(expert: Peer, customer: Peer, text: str, client_id: str, answer: str = ANSWER) -> int:
    """Ask, accept, answer, propose, confirm and rate 5: the whole cycle, as fast as it goes."""
    case_id = customer.call("ask", {"text": text, "client_id": client_id})["case"]["id"]
    expert.wait_for("offer", lambda d: d["case_id"] == case_id)
    assert expert.call("accept", {"case_id": case_id})["ok"]
    assert expert.call("message", {"case_id": case_id, "text": answer, "client_id": "a" + client_id})["ok"]
    assert expert.call("resolve", {"case_id": case_id})["ok"]
    assert customer.call("resolve", {"case_id": case_id, "resolved": True})["case"]["status"] == "resolved"
    assert customer.call("rate", {"case_id": case_id, "csat": 5})["ok"]
    return int(case_id)


def entries(server: Server, token: str) -> dict[int, dict[str, Any]]:
    r = server.rest("GET", "/experts/me/earnings", token)
    assert r.ok, r.text
    return {e["case_id"]: e for e in r.json()["entries"]}


def test_self_dealing_from_the_experts_device_is_held_honest_work_is_paid(live: Server, made: list[Peer]) -> None:
    slug, key = live.brand(review_window_s=2)
    live.topic(key, "cards", examples=["where is my card", "my card has not arrived"])
    expert_id, token = live.expert(slug, key, ["cards"])
    expert = connect(made, live, "/expert", {"token": token}, "203.0.113.7", FIREFOX)
    assert expert.call("availability", {"online": True})["ok"]
    sock = connect(made, live, "/customer", {"brand": slug}, "203.0.113.7", FIREFOX)
    honest = connect(made, live, "/customer", {"brand": slug}, "198.51.100.20", SAFARI)
    mine = served(expert, sock, "where is my card", "q1")
    theirs = served(expert, honest, "my card has not arrived", "q2")

    got = entries(live, token)
    assert got[mine]["status"] == "held"
    assert any("network address and user agent" in r for r in got[mine]["hold_reasons"])
    deadline = time.monotonic() + 20  # the honest reward is released when its 2 s window ends
    while entries(live, token)[theirs]["status"] != "available":
        assert time.monotonic() < deadline, entries(live, token)
        time.sleep(0.3)
    assert entries(live, token)[mine]["status"] == "held"

    flagged = live.rest("GET", "/trust/flagged", key).json()["cases"]
    assert [f["case_id"] for f in flagged] == [mine]
    codes = {s["code"] for s in flagged[0]["signals"]}
    assert codes == {"same_device", "fast_cycle"}, codes
    r = live.rest("POST", f"/trust/flagged/{mine}/decision", key, json={"action": "reject", "note": "own question"})
    assert r.ok and r.json()["reward_status"] == "reversed", r.text
    assert entries(live, token)[mine]["status"] == "reversed"
    assert live.rest("GET", "/trust/decisions", key).json()["decisions"][0]["note"] == "own question"
    assert live.rest("GET", f"/trust/quality?expert_id={expert_id}", key).json()["scores"][0]["reviews"] == 1


def sign(secret: str, user_id: str) -> str:
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def test_a_verified_customer_is_one_customer_on_every_device(live: Server, made: list[Peer]) -> None:
    slug, key = live.brand()
    live.topic(key, "cards", examples=["where is my card"])
    secret = live.rest("GET", "/brand/identity-secret", key).json()["identity_secret"]
    auth = {"brand": slug, "user_id": "user-42", "user_hash": sign(secret, "user-42")}
    laptop = connect(made, live, "/customer", auth, "198.51.100.1", FIREFOX)
    first = laptop.wait_for("session")
    assert first["user_id"] == "user-42"
    case_id = laptop.call("ask", {"text": "where is my card", "client_id": "q1"})["case"]["id"]

    phone = connect(made, live, "/customer", auth, "192.0.2.44", SAFARI)
    second = phone.wait_for("session")
    assert second["customer_id"] == first["customer_id"] and second["token"] != first["token"]
    assert [c["id"] for c in phone.call("cases", {})["cases"]] == [case_id]
    # each device's own token resumes the same customer too
    again = connect(made, live, "/customer", {"brand": slug, "token": second["token"]}, "192.0.2.44", SAFARI)
    assert again.wait_for("session")["customer_id"] == first["customer_id"]
    # anonymous visitors stay separate
    anon = connect(made, live, "/customer", {"brand": slug}, "192.0.2.45", SAFARI)
    assert anon.wait_for("session")["customer_id"] != first["customer_id"]

    for bad in ({**auth, "user_hash": sign("wrong", "user-42")}, {**auth, "user_id": "user-43"},
                {"brand": slug, "user_id": "user-42"}, {**auth, "user_id": 42}):
        with pytest.raises(socketio.exceptions.ConnectionError):
            connect(made, live, "/customer", bad, "192.0.2.9", SAFARI)
    assert live.rest("POST", "/brand/identity-secret", key).status_code == 201
    with pytest.raises(socketio.exceptions.ConnectionError):  # signed with the old secret
        connect(made, live, "/customer", auth, "192.0.2.9", SAFARI)


def test_the_experts_own_verified_account_is_held(live: Server, made: list[Peer]) -> None:
    slug, key = live.brand()
    live.topic(key, "cards", examples=["where is my card"])
    expert_id, token = live.expert(slug, key, ["cards"])
    assert live.rest("POST", f"/experts/{expert_id}/approve", key, json={"topics": ["cards"], "user_id": "u-7"}).ok
    expert = connect(made, live, "/expert", {"token": token}, "203.0.113.7", FIREFOX)
    assert expert.call("availability", {"online": True})["ok"]
    secret = live.rest("GET", "/brand/identity-secret", key).json()["identity_secret"]
    own = connect(made, live, "/customer", {"brand": slug, "user_id": "u-7", "user_hash": sign(secret, "u-7")},
                  "192.0.2.80", SAFARI)  # another device, another network: still his own account
    case_id = served(expert, own, "where is my card", "q1")
    assert "expert's own account" in entries(live, token)[case_id]["hold_reasons"][0]
