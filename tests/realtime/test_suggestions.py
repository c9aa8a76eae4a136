"""Suggested answers from similar resolved cases: shown at once, deflect closes without reward,
and experts see them as hints."""
from __future__ import annotations

from typing import Any

from tests.servers import Server


def resolve_one(server: Server, peers: Any, slug: str, expert: Any, question: str, answer: str) -> None:
    customer = peers(server.url, "/customer", {"brand": slug})
    case_id = customer.call("ask", {"text": question, "client_id": "q"})["case"]["id"]
    expert.wait_for("offer", lambda d: d["case_id"] == case_id)
    expert.call("accept", {"case_id": case_id})
    expert.call("message", {"case_id": case_id, "text": answer, "client_id": "a"})
    expert.call("resolve", {"case_id": case_id})
    assert customer.call("resolve", {"case_id": case_id, "resolved": True})["ok"]


def test_suggestions_deflection_and_hints(server: Server, peers: Any) -> None:
    slug, key = server.brand()
    server.topic(key, "cards", examples=["where is my card"])
    server.topic(key, "loans", examples=["loan interest"])
    _, token = server.expert(slug, key, ["cards", "loans"])
    expert = peers(server.url, "/expert", {"token": token})
    expert.call("availability", {"online": True})
    answer = "Cards arrive within 5 working days; you can track it in the app under Card > Delivery."
    resolve_one(server, peers, slug, expert, "My new card has not arrived yet", answer)

    customer = peers(server.url, "/customer", {"brand": slug})
    ack = customer.call("ask", {"text": "my new card still has not arrived", "client_id": "q2"})
    suggestions = ack["case"]["suggestions"]
    assert suggestions and suggestions[0]["answer"] == answer and 0 < suggestions[0]["score"] <= 1
    case_id = ack["case"]["id"]
    offer = expert.wait_for("offer", lambda d: d["case_id"] == case_id)
    assert offer["hints"][0]["answer"] == answer
    deflected = customer.call("deflect", {"case_id": case_id})
    assert deflected["ok"] and deflected["case"]["status"] == "closed"
    expert.wait_for("offer_withdrawn", lambda d: d["case_id"] == case_id)
    assert expert.call("accept", {"case_id": case_id})["error"]["code"] == "already_taken"
    assert customer.call("deflect", {"case_id": case_id})["error"]["code"] == "conflict"
    full = server.rest("GET", f"/cases/{case_id}", key).json()
    assert full["deflected"] is True and full["reward_cents"] == 0

    unrelated = customer.call("ask", {"text": "how do I change my loan interest", "client_id": "q3"})
    assert unrelated["case"]["suggestions"] == []
