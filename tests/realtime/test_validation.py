"""Bad payloads, foreign cases, wrong roles and other brands: an error ack, nothing stored,
and the connection stays up."""
from __future__ import annotations

from typing import Any

import pytest
import socketio

from tests.servers import Peer, Server

BAD_ASKS = [
    None, "text", 5, [], {}, {"text": "hi"}, {"client_id": "x"}, {"text": "", "client_id": "x"},
    {"text": "x" * 4001, "client_id": "x"}, {"text": 5, "client_id": "x"}, {"text": "hi", "client_id": 5},
    {"text": "hi", "client_id": "x", "language": "not a language"}, {"text": "hi", "client_id": "x", "extra": 1},
    {"text": "hi", "client_id": "x" * 101},
]


@pytest.fixture(scope="module")
def world(server: Server) -> dict[str, Any]:
    slug, key = server.brand(offer_timeout_s=60)
    server.topic(key, "cards", examples=["where is my card"])
    server.topic(key, "loans", examples=["loan rates"])
    other_slug, other_key = server.brand()
    server.topic(other_key, "cards", examples=["card"])
    return {"slug": slug, "key": key, "other_slug": other_slug, "other_key": other_key}


def case_count(peer: Peer) -> int:
    return len(peer.call("cases")["cases"])


@pytest.mark.parametrize("payload", BAD_ASKS)
def test_bad_ask_is_refused_and_changes_nothing(server: Server, peers: Any, world: dict[str, Any], payload: Any) -> None:
    customer = peers(server.url, "/customer", {"brand": world["slug"]})
    ack = customer.call("ask", payload)
    assert ack["ok"] is False and ack["error"]["code"] == "invalid", ack
    assert isinstance(ack["error"]["message"], str)
    assert case_count(customer) == 0
    assert customer.sio.connected
    assert customer.call("ask", {"text": "where is my card", "client_id": "ok"})["ok"]


def test_foreign_and_unknown_case_ids(server: Server, peers: Any, world: dict[str, Any]) -> None:
    alice = peers(server.url, "/customer", {"brand": world["slug"]})
    bob = peers(server.url, "/customer", {"brand": world["slug"]})
    case_id = alice.call("ask", {"text": "where is my card", "client_id": "a"})["case"]["id"]
    for event, body in [("message", {"case_id": case_id, "text": "hi", "client_id": "b"}),
                        ("sync", {"case_id": case_id, "after_seq": 0}),
                        ("resolve", {"case_id": case_id, "resolved": True}),
                        ("rate", {"case_id": case_id, "csat": 5}), ("typing", {"case_id": case_id}),
                        ("deflect", {"case_id": case_id}),
                        ("message", {"case_id": 10**9, "text": "hi", "client_id": "c"})]:
        ack = bob.call(event, body)
        assert ack["error"]["code"] == "not_found", (event, ack)
    assert len(alice.call("sync", {"case_id": case_id})["messages"]) == 1


@pytest.mark.parametrize("event,payload", [
    ("message", {"case_id": "1", "text": "hi", "client_id": "x"}),
    ("message", {"case_id": 1, "text": "x" * 4001, "client_id": "x"}),
    ("message", {"case_id": -1, "text": "hi", "client_id": "x"}),
    ("sync", {"case_id": 1, "after_seq": -1}),
    ("resolve", {"case_id": 1, "resolved": "yes"}),
    ("rate", {"case_id": 1, "csat": 6}), ("rate", {"case_id": 1, "csat": 3, "nps": 11}),
    ("rate", {"case_id": 1, "csat": 3, "comment": "x" * 4001}), ("typing", ["x"]),
])
def test_bad_payloads_on_other_events(server: Server, peers: Any, world: dict[str, Any], event: str, payload: Any) -> None:
    customer = peers(server.url, "/customer", {"brand": world["slug"]})
    case_id = customer.call("ask", {"text": "where is my card", "client_id": "a"})["case"]["id"]
    if isinstance(payload, dict) and payload.get("case_id") == 1:
        payload = {**payload, "case_id": case_id}
    ack = customer.call(event, payload)
    assert ack["ok"] is False and ack["error"]["code"] == "invalid", ack
    assert len(customer.call("sync", {"case_id": case_id})["messages"]) == 1
    assert customer.call("ask", {"text": "my card again", "client_id": "b"})["ok"]


def test_connect_refusals(server: Server, world: dict[str, Any]) -> None:
    for namespace, auth in [("/customer", {"brand": "no-such-brand"}), ("/customer", {}),
                            ("/customer", {"brand": 5}), ("/expert", {"token": "gcxe_wrong"}),
                            ("/expert", {}), ("/expert", {"token": world["key"]}),
                            ("/brand", {"api_key": "gcxb_wrong"}), ("/brand", {})]:
        client = socketio.Client(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            client.connect(server.url, namespaces=[namespace], auth=auth, transports=["websocket"], wait_timeout=5)
        client.disconnect()


def test_experts_cannot_act_on_cases_not_offered_to_them(server: Server, peers: Any, world: dict[str, Any]) -> None:
    _, token = server.expert(world["slug"], world["key"], ["loans"])  # wrong topic: never offered
    expert = peers(server.url, "/expert", {"token": token})
    expert.call("availability", {"online": True})
    customer = peers(server.url, "/customer", {"brand": world["slug"]})
    case_id = customer.call("ask", {"text": "where is my card", "client_id": "a"})["case"]["id"]
    for event, body in [("accept", {"case_id": case_id}), ("sync", {"case_id": case_id}),
                        ("message", {"case_id": case_id, "text": "hi", "client_id": "x"}),
                        ("resolve", {"case_id": case_id}), ("typing", {"case_id": case_id}),
                        ("escalate", {"case_id": case_id, "reason": "x"})]:
        ack = expert.call(event, body)
        assert ack["ok"] is False and ack["error"]["code"] in ("not_found", "offer_expired"), (event, ack)
    assert expert.call("decline", {"case_id": case_id})["error"]["code"] == "offer_expired"
    assert expert.call("availability", {"online": "yes"})["error"]["code"] == "invalid"
    assert expert.call("availability", {"online": True, "max_cases": 0})["error"]["code"] == "invalid"


def test_brand_feed_sees_only_its_own_cases(server: Server, peers: Any, world: dict[str, Any]) -> None:
    mine = peers(server.url, "/brand", {"api_key": world["key"]})
    theirs = peers(server.url, "/brand", {"api_key": world["other_key"]})
    customer = peers(server.url, "/customer", {"brand": world["slug"]})
    case_id = customer.call("ask", {"text": "where is my card", "client_id": "feed"})["case"]["id"]
    mine.wait_for("case", lambda d: d["id"] == case_id)
    other_customer = peers(server.url, "/customer", {"brand": world["other_slug"]})
    other_id = other_customer.call("ask", {"text": "card", "client_id": "feed"})["case"]["id"]
    theirs.wait_for("case", lambda d: d["id"] == other_id)
    assert not [c for c in theirs.received("case") if c["id"] == case_id]
    assert not [c for c in mine.received("case") if c["id"] == other_id]
    assert theirs.call("sync", {"case_id": case_id})["error"]["code"] == "not_found"
    assert theirs.call("message", {"case_id": case_id, "text": "x", "client_id": "y"})["error"]["code"] == "not_found"
