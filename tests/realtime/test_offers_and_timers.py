"""Offers: exclusivity, decline and expiry cascade, queueing, escalation, confirmation by silence."""
from __future__ import annotations

import concurrent.futures as cf
import time
from typing import Any

from tests.servers import Peer, Server


def setup_brand(server: Server, **settings: Any) -> tuple[str, str]:
    slug, key = server.brand(**settings)
    server.topic(key, "cards", examples=["where is my card", "my card has not arrived"])
    server.topic(key, "loans", examples=["loan interest rate", "can I borrow money"])
    return slug, key


def expert_online(server: Server, peers: Any, brand: tuple[str, str], topics: list[str], **kw: Any) -> tuple[int, Peer]:
    expert_id, token = server.expert(brand[0], brand[1], topics, **kw)
    peer = peers(server.url, "/expert", {"token": token})
    assert peer.call("availability", {"online": True})["ok"]
    return expert_id, peer


def test_first_accept_wins_under_concurrency(server: Server, peers: Any) -> None:
    brand = setup_brand(server, offer_fanout=4)
    experts = [expert_online(server, peers, brand, ["cards"])[1] for _ in range(4)]
    customer = peers(server.url, "/customer", {"brand": brand[0]})
    case_id = customer.call("ask", {"text": "my card has not arrived", "client_id": "q"})["case"]["id"]
    for e in experts:
        e.wait_for("offer", lambda d: d["case_id"] == case_id)
    with cf.ThreadPoolExecutor(4) as pool:
        acks = list(pool.map(lambda e: e.call("accept", {"case_id": case_id}), experts))
    winners = [a for a in acks if a["ok"]]
    losers = [a for a in acks if not a["ok"]]
    assert len(winners) == 1 and len(losers) == 3
    assert {a["error"]["code"] for a in losers} <= {"already_taken"}
    for e, a in zip(experts, acks):
        if not a["ok"]:
            e.wait_for("offer_withdrawn", lambda d: d["case_id"] == case_id)
            # The loser cannot read or write the case.
            assert e.call("sync", {"case_id": case_id})["error"]["code"] == "not_found"
            assert e.call("message", {"case_id": case_id, "text": "hi", "client_id": "x"})["error"]["code"] == "not_found"


def test_decline_moves_on_at_once_and_expiry_cascades(server: Server, peers: Any) -> None:
    brand = setup_brand(server, offer_timeout_s=2, max_offers=3)
    e1, p1 = expert_online(server, peers, brand, ["cards"])
    e2, p2 = expert_online(server, peers, brand, ["cards"])
    e3, p3 = expert_online(server, peers, brand, ["cards"])
    customer = peers(server.url, "/customer", {"brand": brand[0]})
    case_id = customer.call("ask", {"text": "where is my card", "client_id": "q"})["case"]["id"]
    holders = {e: p for e, p in ((e1, p1), (e2, p2), (e3, p3))}
    first = next(p for p in holders.values() if _has_offer(p, case_id, 5))
    t0 = time.monotonic()
    assert first.call("decline", {"case_id": case_id}) == {"ok": True}
    second = next(p for p in holders.values() if p is not first and _has_offer(p, case_id, 3))
    assert time.monotonic() - t0 < 2, "a decline must move on without waiting for the timeout"
    # The second offer is left to expire; the third expert is offered it next.
    second.wait_for("offer_withdrawn", lambda d: d["case_id"] == case_id, timeout=6)
    third = next(p for p in holders.values() if p not in (first, second))
    third.wait_for("offer", lambda d: d["case_id"] == case_id, timeout=6)
    assert second.call("accept", {"case_id": case_id})["error"]["code"] == "offer_expired"
    assert third.call("accept", {"case_id": case_id})["ok"]


def _has_offer(peer: Peer, case_id: int, timeout: float) -> bool:
    try:
        peer.wait_for("offer", lambda d: d["case_id"] == case_id, timeout=timeout)
        return True
    except AssertionError:
        return False


def test_max_offers_then_escalation(server: Server, peers: Any) -> None:
    brand = setup_brand(server, offer_timeout_s=1, max_offers=2)
    _, p1 = expert_online(server, peers, brand, ["cards"])
    _, p2 = expert_online(server, peers, brand, ["cards"])
    feed = peers(server.url, "/brand", {"api_key": brand[1]})
    customer = peers(server.url, "/customer", {"brand": brand[0]})
    case_id = customer.call("ask", {"text": "where is my card", "client_id": "q"})["case"]["id"]
    escalated = customer.wait_for("case", lambda d: d["id"] == case_id and d["status"] == "escalated", timeout=10)
    assert escalated["status"] == "escalated"
    assert "2 offer rounds" in feed.wait_for("case", lambda d: d["status"] == "escalated")["escalation_reason"]
    assert len(p1.received("offer")) + len(p2.received("offer")) == 2


def test_topic_language_and_cap_filter_experts(server: Server, peers: Any) -> None:
    brand = setup_brand(server, offer_timeout_s=30)
    _, loans = expert_online(server, peers, brand, ["loans"])
    _, french = expert_online(server, peers, brand, ["cards"], languages=["fr"])
    _, capped_token = server.expert(brand[0], brand[1], ["cards"])
    capped = peers(server.url, "/expert", {"token": capped_token})
    assert capped.call("availability", {"online": True, "max_cases": 1})["ok"]
    customer = peers(server.url, "/customer", {"brand": brand[0]})
    first = customer.call("ask", {"text": "where is my card", "client_id": "a"})["case"]["id"]
    capped.wait_for("offer", lambda d: d["case_id"] == first)
    assert capped.call("accept", {"case_id": first})["ok"]
    # Capped expert is full, loans expert has the wrong topic, the other speaks only French.
    second = customer.call("ask", {"text": "my card has not arrived yet", "client_id": "b"})["case"]["id"]
    time.sleep(1.0)
    assert not [o for p in (loans, french, capped) for o in p.received("offer") if o["case_id"] == second]
    fr_customer = peers(server.url, "/customer", {"brand": brand[0]})
    third = fr_customer.call("ask", {"text": "where is my card", "client_id": "c", "language": "fr"})["case"]["id"]
    french.wait_for("offer", lambda d: d["case_id"] == third)


def test_case_waits_until_an_expert_comes_online(server: Server, peers: Any) -> None:
    brand = setup_brand(server, offer_timeout_s=30)
    customer = peers(server.url, "/customer", {"brand": brand[0]})
    case_id = customer.call("ask", {"text": "where is my card", "client_id": "q"})["case"]["id"]
    time.sleep(0.5)
    _, token = server.expert(brand[0], brand[1], ["cards"])
    expert = peers(server.url, "/expert", {"token": token})
    expert.call("availability", {"online": True})
    expert.wait_for("offer", lambda d: d["case_id"] == case_id, timeout=5)
    # Going offline stops new offers.
    expert.call("availability", {"online": False})
    other = customer.call("ask", {"text": "card still not here", "client_id": "q2"})["case"]["id"]
    time.sleep(1)
    assert not [o for o in expert.received("offer") if o["case_id"] == other]


def test_unanswered_case_escalates_after_escalate_after_s(server: Server, peers: Any) -> None:
    brand = setup_brand(server, escalate_after_s=2)
    customer = peers(server.url, "/customer", {"brand": brand[0]})
    case_id = customer.call("ask", {"text": "where is my card", "client_id": "q"})["case"]["id"]
    customer.wait_for("case", lambda d: d["id"] == case_id and d["status"] == "escalated", timeout=8)
    notice = customer.wait_for("message", lambda d: d["sender"] == "system")
    assert "support team" in notice["text"]


def test_silence_confirms_resolution_after_confirm_window(server: Server, peers: Any) -> None:
    brand = setup_brand(server, confirm_window_s=2)
    _, expert = expert_online(server, peers, brand, ["cards", "loans"])
    customer = peers(server.url, "/customer", {"brand": brand[0]})
    case_id = customer.call("ask", {"text": "where is my card", "client_id": "q"})["case"]["id"]
    expert.wait_for("offer")
    expert.call("accept", {"case_id": case_id})
    expert.call("resolve", {"case_id": case_id})
    expert.wait_for("case", lambda d: d["status"] == "resolved", timeout=8)
