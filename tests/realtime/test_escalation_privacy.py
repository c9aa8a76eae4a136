"""Escalation ends the expert's part: the expert who escalates leaves the conversation, the
internal reason stays with staff, the customer gets a message meant for them; staff messages are
masked for experts like customers' are."""
from __future__ import annotations

import json
import time
from typing import Any

from gigcx.events import message_payload
from gigcx.models import Message
from tests.servers import Server

REASON = "INTERNAL-customer-is-rude-and-wants-a-refund"


def test_the_escalating_expert_leaves_and_the_reason_stays_internal(server: Server, peers: Any) -> None:
    slug, key = server.brand(offer_timeout_s=60)
    server.topic(key, "cards", examples=["where is my card"])
    _, token = server.expert(slug, key, ["cards"], name="Ana")
    expert = peers(server.url, "/expert", {"token": token})
    expert.call("availability", {"online": True})
    feed = peers(server.url, "/brand", {"api_key": key})
    customer = peers(server.url, "/customer", {"brand": slug})
    case_id = customer.call("ask", {"text": "where is my card", "client_id": "q"})["case"]["id"]
    expert.wait_for("offer", lambda d: d["case_id"] == case_id)
    assert expert.call("accept", {"case_id": case_id})["ok"]

    ack = expert.call("escalate", {"case_id": case_id, "reason": REASON,
                                   "message": "A colleague from the bank will take it from here."})
    assert ack["ok"] and ack["case"]["status"] == "escalated"
    assert expert.call("escalate", {"case_id": case_id, "reason": REASON})["ok"]  # a resend is answered
    customer.wait_for("message", lambda d: d["text"] == "A colleague from the bank will take it from here.")
    customer.wait_for("case", lambda d: d["id"] == case_id and d["status"] == "escalated")
    feed.wait_for("case", lambda d: d["id"] == case_id and d.get("escalation_reason") == REASON)
    seen = len(expert.events)

    # staff answer; the customer writes and types: none of it reaches the expert who left
    assert feed.call("message", {"case_id": case_id, "text": "Hello, Sam from the bank. Mail sam@bank.example",
                                 "client_id": "s1"})["ok"]
    customer.call("message", {"case_id": case_id, "text": "my card is 4111 1111 1111 1111", "client_id": "c2"})
    customer.call("typing", {"case_id": case_id})
    customer.wait_for("message", lambda d: d["sender"] == "staff")
    feed.call("close", {"case_id": case_id})
    customer.wait_for("case", lambda d: d["id"] == case_id and d["status"] == "closed")
    time.sleep(0.5)
    assert expert.events[seen:] == [], expert.events[seen:]
    for event in ("sync", "message", "typing", "resolve"):
        payload: dict[str, Any] = {"case_id": case_id}
        if event == "message":
            payload.update(text="still there?", client_id="e9")
        assert expert.call(event, payload)["error"]["code"] == "not_found", event
    assert case_id not in [c["id"] for c in expert.call("cases", {})["cases"]]

    # the customer never reads the internal reason; staff do
    synced = customer.call("sync", {"case_id": case_id})
    listed = customer.call("cases", {})
    assert REASON not in json.dumps([customer.events, synced, listed])
    assert "escalation_reason" not in synced["case"]
    assert feed.call("sync", {"case_id": case_id})["case"]["escalation_reason"] == REASON
    assert server.rest("GET", f"/cases/{case_id}", key).json()["escalation_reason"] == REASON
    texts = [m["text"] for m in synced["messages"]]
    assert texts[-4:-2] == ["A colleague from the bank will take it from here.",
                            "This question was handed to the brand's support team. They will answer here."]


def test_staff_messages_are_masked_for_experts() -> None:
    msg = Message(id=1, case_id=1, seq=3, sender="staff", sender_id=2,
                  text="Sam here: call +44 20 7946 0958 or sam.smith@bank.example", client_id="s")
    masked = message_payload(msg, masked=True)["text"]
    assert "7946" not in masked and "sam.smith@bank.example" not in masked
    assert message_payload(msg)["text"] == msg.text  # customers and staff read the original


def test_two_staff_members_may_use_the_same_client_id(server: Server, peers: Any) -> None:
    """A staff `client_id` is scoped to its sender: one staff member's reply never swallows another's."""
    slug, key = server.brand(escalate_after_s=1)
    server.topic(key, "cards", examples=["where is my card"])
    customer = peers(server.url, "/customer", {"brand": slug})
    case_id = customer.call("ask", {"text": "where is my card", "client_id": "q"})["case"]["id"]
    customer.wait_for("case", lambda d: d["id"] == case_id and d["status"] == "escalated")
    consoles = []
    for name in ("one", "two"):
        email = f"{name}-{slug}@m.example"
        server.rest("POST", "/staff", key, json={"email": email, "password": "password-123", "display_name": name})
        token = server.rest("POST", "/staff/token", json={"brand": slug, "email": email,
                                                          "password": "password-123"}).json()["token"]
        consoles.append(peers(server.url, "/brand", {"token": token}))
    first = consoles[0].call("message", {"case_id": case_id, "text": "from one", "client_id": "reply-1"})["message"]
    second = consoles[1].call("message", {"case_id": case_id, "text": "from two", "client_id": "reply-1"})["message"]
    again = consoles[0].call("message", {"case_id": case_id, "text": "from one", "client_id": "reply-1"})["message"]
    assert first["id"] != second["id"] and second["text"] == "from two"
    assert again["id"] == first["id"]  # each sender's resend is still recognised
    texts = [m["text"] for m in customer.call("sync", {"case_id": case_id})["messages"]]
    assert texts.count("from one") == 1 and texts.count("from two") == 1
