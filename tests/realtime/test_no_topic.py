"""Questions that fit none of the brand's topics: generalists, else staff; a "no topic" bucket."""
from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import fresh_database
from tests.servers import Peer, Server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for this module, given time to start on a busy machine."""
    folder = tmp_path_factory.mktemp("server")
    with fresh_database(folder) as url:
        live = Server(url, folder / "instance").start(timeout=180)
        yield live
        live.stop()

# Enough examples per topic (>= 5) for the cold-start model to calibrate and set a threshold.
TOPICS = {
    "cards": ["where is my card", "my card has not arrived", "card delivery is late",
              "when will my new card come", "I still have not received my card",
              "track my card delivery", "card not delivered yet", "my debit card was lost in the post"],
    "loans": ["loan interest rate", "can I borrow money", "how do I apply for a loan",
              "what is the rate on a personal loan", "loan repayment schedule",
              "can I repay my loan early", "am I eligible for a loan", "borrow for a car"],
    "refunds": ["I want a refund", "refund my purchase", "how long does a refund take",
                "my refund has not arrived", "cancel and refund my order", "get my money back",
                "refund status", "refund a double charge"],
}
# Nothing in common with any topic's examples (another script): fits none of them.
OFF_TOPIC = "Сколько стоит билет до Москвы?"


def setup_brand(server: Server, **settings: Any) -> tuple[str, str]:
    slug, key = server.brand(**settings)
    for topic, examples in TOPICS.items():
        server.topic(key, topic, examples=examples)
    return slug, key


def online(server: Server, peers: Any, brand: tuple[str, str], topics: list[str]) -> tuple[int, Peer]:
    expert_id, token = server.expert(brand[0], brand[1], topics)
    peer = peers(server.url, "/expert", {"token": token})
    assert peer.call("availability", {"online": True})["ok"]
    return expert_id, peer


def test_off_topic_question_goes_to_generalists_only(server: Server, peers: Any) -> None:
    brand = setup_brand(server, offer_timeout_s=30, offer_fanout=3)
    _, cards = online(server, peers, brand, ["cards"])
    _, two = online(server, peers, brand, ["cards", "loans"])
    generalist_id, generalist = online(server, peers, brand, sorted(TOPICS))
    customer = peers(server.url, "/customer", {"brand": brand[0]})
    ack = customer.call("ask", {"text": OFF_TOPIC, "client_id": "q"})
    assert ack["ok"] and ack["case"]["topic"] is None
    case_id = ack["case"]["id"]
    generalist.wait_for("offer", lambda d: d["case_id"] == case_id)
    time.sleep(0.5)
    assert not [o for p in (cards, two) for o in p.received("offer") if o["case_id"] == case_id]
    # an in-scope question is still routed by its topic
    card_case = customer.call("ask", {"text": "my card has not arrived", "client_id": "c"})["case"]
    assert card_case["topic"] == "cards"
    cards.wait_for("offer", lambda d: d["case_id"] == card_case["id"])
    # the brand sees the case in its "no topic" bucket and can list those cases
    r = server.rest("GET", "/cases", brand[1], params={"no_topic": "true"})
    assert r.ok and [c["id"] for c in r.json()["cases"]] == [case_id]
    assert r.json()["cases"][0]["topic"] is None and r.json()["cases"][0]["topic_confidence"] > 0
    r = server.rest("GET", "/cases", brand[1], params={"no_topic": "false"})
    assert [c["id"] for c in r.json()["cases"]] == [card_case["id"]]
    by_topic = server.rest("GET", "/metrics", brand[1]).json()["by_topic"]
    assert by_topic["_no_topic"]["cases"] == 1 and by_topic["cards"]["cases"] == 1
    offers = server.rest("GET", f"/cases/{case_id}", brand[1]).json()["offers"]
    assert {o["expert_id"] for o in offers} == {generalist_id}


def test_off_topic_question_escalates_when_the_brand_has_no_generalists(server: Server, peers: Any) -> None:
    brand = setup_brand(server, offer_timeout_s=30)
    _, cards = online(server, peers, brand, ["cards", "loans"])
    customer = peers(server.url, "/customer", {"brand": brand[0]})
    case_id = customer.call("ask", {"text": OFF_TOPIC, "client_id": "q"})["case"]["id"]
    done = customer.wait_for("case", lambda d: d["id"] == case_id and d["status"] == "escalated")
    assert done["topic"] is None
    case = server.rest("GET", f"/cases/{case_id}", brand[1]).json()
    assert "no generalists" in case["escalation_reason"] and case["offers"] == []
    assert not [o for o in cards.received("offer") if o["case_id"] == case_id]


def test_bad_no_topic_filter_is_rejected(server: Server) -> None:
    _, key = setup_brand(server)
    r = server.rest("GET", "/cases", key, params={"no_topic": "maybe"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid"
