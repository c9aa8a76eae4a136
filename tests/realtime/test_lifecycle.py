"""The whole case lifecycle over real Socket.IO connections to a real server process."""
from __future__ import annotations

from typing import Any

import pytest

from tests.servers import Peer, Server


@pytest.fixture
def brand(server: Server) -> tuple[str, str]:
    slug, key = server.brand(offer_timeout_s=30)
    server.topic(key, "cards", examples=["where is my card", "my card has not arrived"])
    server.topic(key, "loans", examples=["loan interest rate", "can I borrow money"])
    return slug, key


def online_expert(server: Server, peers: Any, brand: tuple[str, str], topics: list[str], **kw: Any) -> tuple[int, Peer]:
    expert_id, token = server.expert(brand[0], brand[1], topics, **kw)
    peer = peers(server.url, "/expert", {"token": token})
    assert peer.call("availability", {"online": True}) == {"ok": True, "online": True, "max_cases": 3}
    return expert_id, peer


def test_full_conversation(server: Server, peers: Any, brand: tuple[str, str]) -> None:
    slug, key = brand
    _, expert = online_expert(server, peers, brand, ["cards"], name="Ana")
    feed = peers(server.url, "/brand", {"api_key": key})
    customer = peers(server.url, "/customer", {"brand": slug})
    session = customer.wait_for("session")
    assert session["customer_id"] >= 1 and session["token"].startswith("gcxc_")

    ack = customer.call("ask", {"text": "My card has not arrived. Mail me at jo@example.com", "client_id": "q1"})
    assert ack["ok"] and ack["case"]["status"] == "matching" and ack["case"]["topic"] == "cards"
    assert isinstance(ack["case"]["suggestions"], list)
    case_id = ack["case"]["id"]

    offer = expert.wait_for("offer", lambda d: d["case_id"] == case_id)
    assert offer["brand"] == slug and offer["topic"] == "cards" and offer["reward_cents"] == 300
    assert "jo@example.com" not in offer["question"] and "[email]" in offer["question"]
    assert offer["expires_at"].endswith("Z")

    accepted = expert.call("accept", {"case_id": case_id})
    assert accepted["ok"] and accepted["case"]["status"] == "active"
    assert accepted["case"]["brand"] == slug  # the expert console names the brand from it
    assert expert.call("sync", {"case_id": case_id, "after_seq": 0})["case"]["brand"] == slug
    assert [m["seq"] for m in accepted["messages"]] == [1, 2]
    assert "jo@example.com" not in accepted["messages"][0]["text"]
    case_event = customer.wait_for("case", lambda d: d["status"] == "active")
    assert case_event["expert"]["display_name"] == "Ana"

    assert expert.call("typing", {"case_id": case_id}) == {"ok": True}
    assert customer.wait_for("typing")["sender"] == "expert"

    sent = expert.call("message", {"case_id": case_id, "text": "Hello! Checking now.", "client_id": "e1"})
    assert sent["ok"] and sent["message"]["seq"] == 3 and sent["message"]["sender"] == "expert"
    got = customer.wait_for("message", lambda d: d["seq"] == 3)
    assert got["text"] == "Hello! Checking now." and got["sent_at"].endswith("Z")
    customer.call("message", {"case_id": case_id, "text": "Call me on +44 20 7946 0958", "client_id": "c1"})
    masked = expert.wait_for("message", lambda d: d["seq"] == 4)
    assert "7946" not in masked["text"]
    original = feed.wait_for("message", lambda d: d["seq"] == 4)
    assert "+44 20 7946 0958" in original["text"]

    assert expert.call("resolve", {"case_id": case_id})["case"]["status"] == "pending_confirmation"
    customer.wait_for("case", lambda d: d["status"] == "pending_confirmation")
    done = customer.call("resolve", {"case_id": case_id, "resolved": True})
    assert done["ok"] and done["case"]["status"] == "resolved"
    expert.wait_for("case", lambda d: d["status"] == "resolved")
    rated = customer.call("rate", {"case_id": case_id, "csat": 5, "nps": 10, "comment": "great"})
    assert rated["ok"]
    assert customer.call("rate", {"case_id": case_id, "csat": 4})["error"]["code"] == "conflict"

    statuses = [d["status"] for d in feed.received("case") if d["id"] == case_id]
    assert statuses[0] == "matching" and "active" in statuses and statuses[-1] == "resolved"
    assert customer.call("message", {"case_id": case_id, "text": "x", "client_id": "late"})["error"]["code"] == "case_closed"

    history = customer.call("sync", {"case_id": case_id, "after_seq": 0})
    assert [m["seq"] for m in history["messages"]] == list(range(1, len(history["messages"]) + 1))
    assert history["case"]["status"] == "resolved"

    # Every announced change has the next revision, and acks carry the revision of their snapshot:
    # clients keep the highest, whatever order acks and events arrive in.
    last = done["case"]["rev"] + 1  # the rating's event (the expert's rating changed)
    for peer in (feed, customer):
        peer.wait_for("case", lambda d: d["id"] == case_id and d["rev"] == last)
    revs = [d["rev"] for d in feed.received("case") if d["id"] == case_id]
    assert revs == list(range(1, last + 1))
    assert [d["rev"] for d in customer.received("case") if d["id"] == case_id] == revs
    assert ack["case"]["rev"] == 1 and accepted["case"]["rev"] == 2 and history["case"]["rev"] == last


def test_customer_denies_resolution_and_chat_goes_on(server: Server, peers: Any, brand: tuple[str, str]) -> None:
    _, expert = online_expert(server, peers, brand, ["cards", "loans"])
    customer = peers(server.url, "/customer", {"brand": brand[0]})
    case_id = customer.call("ask", {"text": "where is my card", "client_id": "q"})["case"]["id"]
    expert.wait_for("offer")
    expert.call("accept", {"case_id": case_id})
    expert.call("resolve", {"case_id": case_id})
    denied = customer.call("resolve", {"case_id": case_id, "resolved": False})
    assert denied["case"]["status"] == "active"
    assert expert.call("message", {"case_id": case_id, "text": "More help", "client_id": "x"})["ok"]
    assert customer.call("resolve", {"case_id": case_id, "resolved": True})["error"]["code"] == "conflict"


def test_expert_escalates_to_staff_who_answer_in_the_same_conversation(
        server: Server, peers: Any, brand: tuple[str, str]) -> None:
    _, expert = online_expert(server, peers, brand, ["cards"])
    feed = peers(server.url, "/brand", {"api_key": brand[1]})
    customer = peers(server.url, "/customer", {"brand": brand[0]})
    case_id = customer.call("ask", {"text": "my card has not arrived", "client_id": "q"})["case"]["id"]
    expert.wait_for("offer")
    expert.call("accept", {"case_id": case_id})
    assert expert.call("escalate", {"case_id": case_id, "reason": ""})["error"]["code"] == "invalid"
    out = expert.call("escalate", {"case_id": case_id, "reason": "needs account access"})
    assert out["case"]["status"] == "escalated"
    customer.wait_for("case", lambda d: d["status"] == "escalated")
    assert feed.wait_for("case", lambda d: d["status"] == "escalated")["escalation_reason"] == "needs account access"
    staff = feed.call("message", {"case_id": case_id, "text": "Staff here, fixed.", "client_id": "s1"})
    assert staff["ok"] and staff["message"]["sender"] == "staff"
    assert customer.wait_for("message", lambda d: d["sender"] == "staff")["text"] == "Staff here, fixed."
    assert feed.call("close", {"case_id": case_id})["case"]["status"] == "closed"
    assert customer.call("rate", {"case_id": case_id, "csat": 4})["ok"]


def test_idempotent_client_ids_and_gap_free_seq(server: Server, peers: Any, brand: tuple[str, str]) -> None:
    _, expert = online_expert(server, peers, brand, ["cards", "loans"])
    customer = peers(server.url, "/customer", {"brand": brand[0]})
    first = customer.call("ask", {"text": "where is my card", "client_id": "same"})
    again = customer.call("ask", {"text": "where is my card", "client_id": "same"})
    assert first["case"]["id"] == again["case"]["id"]
    case_id = first["case"]["id"]
    expert.wait_for("offer")
    expert.call("accept", {"case_id": case_id})
    m1 = customer.call("message", {"case_id": case_id, "text": "one", "client_id": "m1"})
    m1b = customer.call("message", {"case_id": case_id, "text": "one", "client_id": "m1"})
    assert m1["message"] == m1b["message"]
    # Both sides write at once from several threads: every seq is used exactly once.
    import concurrent.futures as cf

    with cf.ThreadPoolExecutor(8) as pool:
        futs = [pool.submit(customer.call, "message", {"case_id": case_id, "text": f"c{i}", "client_id": f"c{i}"})
                for i in range(15)]
        futs += [pool.submit(expert.call, "message", {"case_id": case_id, "text": f"e{i}", "client_id": f"e{i}"})
                 for i in range(15)]
        acks = [f.result() for f in futs]
    assert all(a["ok"] for a in acks)
    seqs = sorted(m["seq"] for m in (a["message"] for a in acks))
    assert len(set(seqs)) == 30
    history = customer.call("sync", {"case_id": case_id, "after_seq": 0})["messages"]
    assert [m["seq"] for m in history] == list(range(1, len(history) + 1))
    assert len(history) == 2 + 1 + 30  # question, system notice, m1, then 30
    after = customer.call("sync", {"case_id": case_id, "after_seq": 20})["messages"]
    assert [m["seq"] for m in after] == list(range(21, len(history) + 1))


def test_customer_resumes_with_token_and_syncs_missed_messages(
        server: Server, peers: Any, brand: tuple[str, str]) -> None:
    _, expert = online_expert(server, peers, brand, ["cards", "loans"])
    customer = peers(server.url, "/customer", {"brand": brand[0]})
    token = customer.wait_for("session")["token"]
    case_id = customer.call("ask", {"text": "where is my card", "client_id": "q"})["case"]["id"]
    expert.wait_for("offer")
    expert.call("accept", {"case_id": case_id})
    customer.close()
    expert.call("message", {"case_id": case_id, "text": "sent while you were away", "client_id": "e"})
    back = peers(server.url, "/customer", {"brand": brand[0], "token": token})
    assert back.wait_for("session")["customer_id"] == customer.wait_for("session")["customer_id"]
    mine = back.call("cases")
    assert [c["id"] for c in mine["cases"]] == [case_id]
    missed = back.call("sync", {"case_id": case_id, "after_seq": 2})["messages"]
    assert [m["text"] for m in missed] == ["sent while you were away"]
    # A token of another brand does not resume: a new customer is made.
    other_slug, _ = server.brand()
    stranger = peers(server.url, "/customer", {"brand": other_slug, "token": token})
    assert stranger.wait_for("session")["customer_id"] != customer.wait_for("session")["customer_id"]
