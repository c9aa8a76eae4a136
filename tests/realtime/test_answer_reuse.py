"""Suggestions reuse answers, never people: PII given in one case appears nowhere in another
customer's or expert's events; only confirmed, unrejected answers are reused; `answer_reuse`
chooses auto, curated or off."""
from __future__ import annotations

import json
import time
from typing import Any

from tests.servers import Server

QUESTION = ("Hi, I'm Maria Lopez. My new card has not arrived yet. You can email me at "
            "maria.lopez@example.com or call +44 7700 900123. The old card was 4111 1111 1111 1111 and my "
            "account is GB82 WEST 1234 5698 7654 32.")
FOLLOW_UP = "I live at 221B Baker Street, London NW1 6XE. Thanks, Maria Lopez"
ANSWER = ("Hi Maria, new cards arrive within 5 working days; you can track yours in the app under "
          "Card > Delivery. I can see the old card ending 1111 is blocked, and I noted your number "
          "07700 900123 and maria.lopez@example.com. Have a good day, Maria!")
PII = ["Maria", "maria", "Lopez", "7700", "900123", "4111", "1111", "GB82", "WEST", "5698", "7654",
       "example.com", "Baker", "NW1", "221B"]


def leaks(payload: Any) -> list[str]:
    text = json.dumps(payload, ensure_ascii=False)
    return [p for p in PII if p in text]


def resolve_one(server: Server, peers: Any, slug: str, expert: Any, question: str, answer: str,
                follow_up: str | None = None, confirm: bool = True) -> int:
    customer = peers(server.url, "/customer", {"brand": slug})
    case_id = customer.call("ask", {"text": question, "client_id": "q"})["case"]["id"]
    expert.wait_for("offer", lambda d: d["case_id"] == case_id)
    assert expert.call("accept", {"case_id": case_id})["ok"]
    if follow_up:
        assert customer.call("message", {"case_id": case_id, "text": follow_up, "client_id": "f"})["ok"]
    assert expert.call("message", {"case_id": case_id, "text": answer, "client_id": "a"})["ok"]
    assert expert.call("resolve", {"case_id": case_id})["ok"]
    if confirm:
        assert customer.call("resolve", {"case_id": case_id, "resolved": True})["ok"]
    return int(case_id)


def online_expert(server: Server, peers: Any, slug: str, key: str, name: str) -> Any:
    _, token = server.expert(slug, key, ["cards"], name=name)
    expert = peers(server.url, "/expert", {"token": token})
    assert expert.call("availability", {"online": True})["ok"]
    return expert


def test_pii_of_one_case_reaches_no_other_customer_or_expert(server: Server, peers: Any) -> None:
    slug, key = server.brand()
    server.topic(key, "cards", examples=["where is my card", "card not arrived"])
    first = online_expert(server, peers, slug, key, "Ana")
    source = resolve_one(server, peers, slug, first, QUESTION, ANSWER, FOLLOW_UP)
    assert first.call("availability", {"online": False})["ok"]

    listed = server.rest("GET", "/answers", key).json()
    assert listed["mode"] == "auto" and len(listed["answers"]) == 1
    stored = listed["answers"][0]
    assert stored["case_id"] == source and stored["status"] == "pending"
    assert leaks(stored["answer"]) == [] and leaks(stored["question"]) == [], stored
    assert "5 working days" in stored["answer"] and "Card > Delivery" in stored["answer"]

    second = online_expert(server, peers, slug, key, "Ben")
    other = peers(server.url, "/customer", {"brand": slug})
    acks: list[Any] = []
    ask = other.call("ask", {"text": "my new card has not arrived yet", "client_id": "q2"})
    acks.append(ask)
    suggestions = ask["case"]["suggestions"]
    assert suggestions and suggestions[0]["answer"] == stored["answer"], suggestions
    assert set(suggestions[0]) == {"id", "answer", "topic", "score"}  # no question, no case id
    case_id = ask["case"]["id"]

    offer = second.wait_for("offer", lambda d: d["case_id"] == case_id)
    assert offer["hints"] and offer["hints"][0]["answer"] == stored["answer"]
    acks.append(second.call("accept", {"case_id": case_id}))
    assert acks[-1]["ok"] and acks[-1]["case"]["suggestions"][0]["answer"] == stored["answer"]
    acks.append(second.call("sync", {"case_id": case_id, "after_seq": 0}))
    acks.append(second.call("cases", {}))
    acks.append(other.call("sync", {"case_id": case_id, "after_seq": 0}))
    acks.append(other.call("cases", {}))
    assert second.call("message", {"case_id": case_id, "text": "Let me check that for you.", "client_id": "m"})["ok"]
    other.wait_for("message", lambda d: d["case_id"] == case_id and d["sender"] == "expert")
    # the source case is not theirs: not_found, no content
    acks.append(other.call("sync", {"case_id": source, "after_seq": 0}))
    acks.append(second.call("sync", {"case_id": source, "after_seq": 0}))
    assert acks[-1]["ok"] is False and acks[-2]["ok"] is False
    time.sleep(0.3)  # any straggling event
    for peer in (other, second):
        assert leaks(peer.events) == [], (peer.namespace, leaks(peer.events))
    assert leaks(acks) == [], leaks(acks)


def test_only_answers_confirmed_by_the_customer_are_reused(server: Server, peers: Any) -> None:
    slug, key = server.brand(confirm_window_s=1)
    server.topic(key, "cards", examples=["where is my card"])
    expert = online_expert(server, peers, slug, key, "Cy")
    case_id = resolve_one(server, peers, slug, expert, "My new card has not arrived",
                          "Cards arrive within 5 working days; track it in the app.", confirm=False)
    deadline = time.monotonic() + 20
    while server.rest("GET", f"/cases/{case_id}", key).json()["status"] != "resolved":
        assert time.monotonic() < deadline, "the confirm window did not resolve the case"
        time.sleep(0.2)
    assert server.rest("GET", "/answers", key).json()["answers"] == []
    customer = peers(server.url, "/customer", {"brand": slug})
    assert customer.call("ask", {"text": "my new card has not arrived", "client_id": "x"})["case"]["suggestions"] == []


def test_curated_answers_wait_for_approval_and_edits(server: Server, peers: Any) -> None:
    slug, key = server.brand(answer_reuse="curated")
    assert server.rest("GET", "/brand", key).json()["answer_reuse"] == "curated"
    server.topic(key, "cards", examples=["where is my card"])
    expert = online_expert(server, peers, slug, key, "Di")
    resolve_one(server, peers, slug, expert, "My new card has not arrived, I'm Tomás Ruiz",
                "Hi Tomás, cards arrive within 5 working days; track it in the app.")
    customer = peers(server.url, "/customer", {"brand": slug})

    def suggested(n: int) -> list[Any]:
        return customer.call("ask", {"text": "my new card has not arrived", "client_id": f"s{n}"})["case"]["suggestions"]  # type: ignore[no-any-return]

    pending = server.rest("GET", "/answers?status=pending", key).json()["answers"]
    assert len(pending) == 1 and "Tomás" not in pending[0]["answer"]
    assert suggested(1) == []  # curated: not before approval
    answer_id = pending[0]["id"]
    edited = "New cards arrive within 5 working days. Call me on +33 6 12 34 56 78 to track it."
    r = server.rest("PATCH", f"/answers/{answer_id}", key, json={"status": "approved", "answer": edited})
    assert r.ok, r.text
    assert r.json()["status"] == "approved" and r.json()["edited"] is True
    assert "+33" not in r.json()["answer"] and "[phone]" in r.json()["answer"]  # edits are scrubbed too
    assert [s["answer"] for s in suggested(2)] == [r.json()["answer"]]

    assert server.rest("PATCH", "/brand", key, json={"answer_reuse": "off"}).ok
    assert suggested(3) == []
    assert server.rest("PATCH", "/brand", key, json={"answer_reuse": "auto"}).ok
    assert len(suggested(4)) == 1
    assert server.rest("POST", f"/answers/{answer_id}/reject", key).json()["status"] == "rejected"
    assert suggested(5) == []
    assert server.rest("POST", f"/answers/{answer_id}/approve", key).json()["status"] == "approved"
    assert len(suggested(6)) == 1

    bad = server.rest("PATCH", f"/answers/{answer_id}", key, json={"status": "published"})
    assert bad.status_code == 422
    assert server.rest("PATCH", "/brand", key, json={"answer_reuse": "sometimes"}).status_code == 422
    other_slug, other_key = server.brand()
    assert server.rest("GET", f"/answers/{answer_id}", other_key).status_code == 404
    assert server.rest("POST", f"/answers/{answer_id}/approve", other_key).status_code == 404


def test_a_brand_reject_of_the_case_stops_its_reuse(server: Server, peers: Any) -> None:
    slug, key = server.brand()
    server.topic(key, "cards", examples=["where is my card"])
    expert = online_expert(server, peers, slug, key, "Ed")
    case_id = resolve_one(server, peers, slug, expert, "My new card has not arrived",
                          "Cards arrive within 5 working days; track it in the app.")
    customer = peers(server.url, "/customer", {"brand": slug})
    assert customer.call("ask", {"text": "my new card has not arrived", "client_id": "a"})["case"]["suggestions"]
    assert server.rest("POST", f"/cases/{case_id}/review", key, json={"verdict": "reject"}).ok
    assert customer.call("ask", {"text": "my new card has not arrived", "client_id": "b"})["case"]["suggestions"] == []
    assert server.rest("GET", "/answers", key).json()["answers"][0]["status"] == "rejected"
