"""The conversation start in one process: what an ask and an accept leave in the database (offers,
timers, rounds) and how the per-process expert profile cache behaves. These paths were rewritten
with Core statements for speed (docs/benchmarks.md, "Load"); the tests pin their effects."""
from __future__ import annotations

import time
from typing import Any

from sqlmodel import Session, select

from gigcx.extensions import socketio
from gigcx.models import Case, Offer, Timer
from tests.conftest import Api

TOPICS = {"cards": ["where is my card", "my card has not arrived"], "loans": ["loan interest rate", "borrow money"]}


def _brand(api: Api, **settings: Any) -> str:
    key = api.brand()
    for slug, examples in TOPICS.items():
        api.topic(key, slug, examples=examples)
    if settings:
        assert api.patch("/brand", key, json=settings).status_code == 200
    return key


def _expert(app: Any, api: Api, key: str, n: int, languages: list[str] | None = None) -> tuple[int, str, Any]:
    expert_id, token = api.expert(email=f"e{n}@example.com", name=f"Expert {n}", languages=languages)
    assert api.post("/experts/me/programs", token, json={"brand": "acme", "topics": list(TOPICS)}).status_code < 300
    assert api.post(f"/experts/{expert_id}/approve", key, json={"topics": list(TOPICS)}).status_code < 300
    client = socketio.test_client(app, namespace="/expert", auth={"token": token})
    assert client.emit("availability", {"online": True}, namespace="/expert", callback=True)["ok"]
    return expert_id, token, client


def _offered(clients: dict[int, Any], case_id: int) -> list[int]:
    return [eid for eid, c in clients.items()
            if any(e["name"] == "offer" and e["args"][0]["case_id"] == case_id for e in c.get_received("/expert"))]


def _ask(app: Any, text: str = "my card has not arrived", client_id: str = "q1", customer: Any = None) -> tuple[Any, dict[str, Any]]:
    customer = customer or socketio.test_client(app, namespace="/customer", auth={"brand": "acme"})
    ack = customer.emit("ask", {"text": text, "client_id": client_id}, namespace="/customer", callback=True)
    assert ack["ok"], ack
    return customer, ack["case"]


def test_an_accept_closes_every_offer_and_cancels_every_timer_of_the_case(app: Any, api: Api) -> None:
    key = _brand(api, offer_fanout=3)
    clients = {eid: c for eid, _, c in (_expert(app, api, key, n) for n in range(3))}
    customer, case = _ask(app)
    offered = _offered(clients, case["id"])
    assert sorted(offered) == sorted(clients)
    winner = offered[1]
    ack = clients[winner].emit("accept", {"case_id": case["id"]}, namespace="/expert", callback=True)
    assert ack["ok"], ack
    assert ack["case"]["status"] == "active" and ack["case"]["expert"]["display_name"] == f"Expert {winner - 1}"
    assert [(m["seq"], m["sender"]) for m in ack["messages"]] == [(1, "customer"), (2, "system")]
    for eid, client in clients.items():
        names = [e["name"] for e in client.get_received("/expert")]
        assert ("offer_withdrawn" in names) == (eid != winner), (eid, names)

    with Session(app.extensions["gigcx_engine"]) as s:
        offers = {o.expert_id: o for o in s.exec(select(Offer).where(Offer.case_id == case["id"]))}
        assert {e: o.status for e, o in offers.items()} == {e: "accepted" if e == winner else "withdrawn" for e in clients}
        assert all(o.responded_at is not None for o in offers.values())
        pending = s.exec(select(Timer).where(Timer.fired_at.is_(None))).all()  # type: ignore[union-attr]
        assert pending == []  # three offer expiries and the case's escalation: all cancelled
        cancelled = s.exec(select(Timer).where(Timer.claimed_by == "cancelled")).all()
        assert sorted(t.kind for t in cancelled) == ["case_escalate"] + ["offer_expiry"] * 3
        stored = s.get(Case, case["id"])
        assert stored is not None and (stored.status, stored.expert_id, stored.offer_round) == ("active", winner, 1)
        assert stored.routing["round"] == 1 and stored.last_seq == 2

    again = clients[winner].emit("accept", {"case_id": case["id"]}, namespace="/expert", callback=True)
    assert again["ok"] and again["case"]["status"] == "active"  # accepting twice is harmless
    late = clients[offered[0]].emit("accept", {"case_id": case["id"]}, namespace="/expert", callback=True)
    assert late["error"]["code"] == "already_taken"
    customer.disconnect(namespace="/customer")


def test_a_repeated_ask_returns_the_first_case_and_stores_nothing_more(app: Any, api: Api) -> None:
    key = _brand(api)
    clients = {eid: c for eid, _, c in (_expert(app, api, key, n) for n in range(2))}
    customer, first = _ask(app)
    _, second = _ask(app, text="a different text, same client_id", customer=customer)
    assert second["id"] == first["id"] and second["question"] == "my card has not arrived"
    assert len(_offered(clients, first["id"])) == 1
    with Session(app.extensions["gigcx_engine"]) as s:
        assert len(s.exec(select(Case)).all()) == 1
        assert len(s.exec(select(Offer)).all()) == 1
        assert sorted(t.kind for t in s.exec(select(Timer))) == ["case_escalate", "offer_expiry"]
    customer.disconnect(namespace="/customer")


def test_presence_is_fresh_even_while_profiles_are_cached(app: Any, api: Api) -> None:
    app.config["GIGCX"].roster_cache_s = 60.0
    key = _brand(api)
    eid1, _, c1 = _expert(app, api, key, 1)
    customer, case = _ask(app, client_id="q1")
    assert _offered({eid1: c1}, case["id"]) == [eid1]  # profiles now cached for a minute

    eid2, _, c2 = _expert(app, api, key, 2)  # approved after the cache was filled: read at once
    assert c1.emit("availability", {"online": False}, namespace="/expert", callback=True)["ok"]
    _, case2 = _ask(app, client_id="q2", customer=customer)
    assert _offered({eid1: c1, eid2: c2}, case2["id"]) == [eid2]  # the offline expert is not offered

    c2.disconnect(namespace="/expert")  # no live connection: not offered, cache or not
    _, case3 = _ask(app, client_id="q3", customer=customer)
    assert _offered({eid1: c1}, case3["id"]) == []
    customer.disconnect(namespace="/customer")


def test_profile_changes_apply_once_the_cache_is_older_than_its_limit(app: Any, api: Api) -> None:
    app.config["GIGCX"].roster_cache_s = 0.3
    key = _brand(api)
    eid, _, client = _expert(app, api, key, 1)
    customer, case = _ask(app, client_id="q1")
    assert _offered({eid: client}, case["id"]) == [eid]
    r = api.post(f"/experts/{eid}/approve", key, json={"topics": ["loans"]})  # no longer for cards
    assert r.status_code < 300, r.json
    time.sleep(0.35)
    _, case2 = _ask(app, client_id="q2", customer=customer)
    assert case2["topic"] == "cards"
    assert _offered({eid: client}, case2["id"]) == []
    customer.disconnect(namespace="/customer")


def test_the_ranker_learns_from_finished_cases_with_their_times(app: Any, api: Api) -> None:
    """Every finished case reaches the ranker with when it finished (its `t_*` time features)."""
    from gigcx.db import session_scope
    from gigcx.models import Brand
    from gigcx.services import ranking

    key = _brand(api)
    clients = {eid: c for eid, _, c in (_expert(app, api, key, n) for n in range(2))}
    customer = None
    for i in range(3):
        customer, case = _ask(app, text=f"my card has not arrived {i}", client_id=f"q{i}", customer=customer)
        expert = clients[_offered(clients, case["id"])[0]]
        assert expert.emit("accept", {"case_id": case["id"]}, namespace="/expert", callback=True)["ok"]
        assert expert.emit("resolve", {"case_id": case["id"]}, namespace="/expert", callback=True)["ok"]
        assert customer.emit("resolve", {"case_id": case["id"], "resolved": True}, namespace="/customer",
                             callback=True)["ok"]
    with app.app_context(), session_scope() as session:
        history = ranking.history(session, 1)
        stored = {c.id: c for c in session.exec(select(Case).order_by(Case.id))}  # type: ignore[arg-type]
        assert [c.at for c in history] == [ranking._epoch(c.resolved_at) for c in stored.values()]  # type: ignore[arg-type]
        assert [c.at for c in history] == sorted(c.at for c in history)  # type: ignore[type-var]
        brand = session.get(Brand, 1)
        assert brand is not None and ranking.ranker_for(session, brand.id).has_times_  # type: ignore[arg-type]
    customer.disconnect(namespace="/customer")
