"""Revoked means gone across processes: the credential is ended on process A, the sockets live on
process B (PostgreSQL and Redis shared, as when scaled out)."""
from __future__ import annotations

import time
from typing import Any

from tests.realtime.test_sessions import gone, refused, staff_token, wait_until
from tests.servers import Server


def test_revocation_on_one_process_disconnects_sockets_on_the_other(cluster: tuple[Server, Server],
                                                                    peers: Any) -> None:
    a, b = cluster
    slug, key = a.brand(offer_timeout_s=60)
    a.topic(key, "cards", examples=["where is my card"])
    _, token = a.expert(slug, key, ["cards"])
    expert = peers(b.url, "/expert", {"token": token})
    assert expert.call("availability", {"online": True})["ok"]
    feed = peers(b.url, "/brand", {"api_key": key})
    staff_id, staff = staff_token(a, slug, key)
    console = peers(b.url, "/brand", {"token": staff})

    assert a.rest("DELETE", "/auth/token", token).status_code == 204
    start = time.monotonic()
    wait_until(lambda: gone(expert), timeout=5, what="expert on B disconnected")
    assert time.monotonic() - start < 1.5, "the disconnect should arrive within about a second"
    assert refused(expert, "availability", {"online": True})

    new_key = a.rest("POST", "/brand/api-key", key).json()["api_key"]
    wait_until(lambda: gone(feed), timeout=5, what="old key's feed on B disconnected")
    assert not gone(console)

    assert a.rest("DELETE", f"/staff/{staff_id}", new_key).status_code == 204
    wait_until(lambda: gone(console), timeout=5, what="removed staff on B disconnected")

    # nothing of the brand reaches the ended sessions any more
    customer = peers(a.url, "/customer", {"brand": slug})
    case_id = customer.call("ask", {"text": "where is my card", "client_id": "q"})["case"]["id"]
    fresh = peers(b.url, "/brand", {"api_key": new_key})
    customer.call("message", {"case_id": case_id, "text": "anyone?", "client_id": "m"})
    fresh.wait_for("message", lambda d: d["case_id"] == case_id and d["text"] == "anyone?")
    assert not [d for d in feed.received("case") + console.received("case") if d["id"] == case_id]
    assert not [d for d in expert.received("offer") if d["case_id"] == case_id]


def test_suspension_on_one_process_releases_the_case_held_on_the_other(cluster: tuple[Server, Server],
                                                                       peers: Any) -> None:
    a, b = cluster
    slug, key = a.brand(offer_timeout_s=60)
    a.topic(key, "cards", examples=["where is my card"])
    first_id, first_token = a.expert(slug, key, ["cards"], name="First")
    first = peers(b.url, "/expert", {"token": first_token})
    first.call("availability", {"online": True})
    customer = peers(b.url, "/customer", {"brand": slug})
    case_id = customer.call("ask", {"text": "where is my card", "client_id": "q"})["case"]["id"]
    first.wait_for("offer", lambda d: d["case_id"] == case_id)
    assert first.call("accept", {"case_id": case_id})["ok"]
    _, second_token = a.expert(slug, key, ["cards"], name="Second")
    second = peers(a.url, "/expert", {"token": second_token})
    second.call("availability", {"online": True})

    assert a.rest("POST", f"/experts/{first_id}/suspend", key).ok
    wait_until(lambda: gone(first), timeout=5, what="suspended expert on B disconnected")
    second.wait_for("offer", lambda d: d["case_id"] == case_id)
    assert second.call("accept", {"case_id": case_id})["ok"]
    customer.wait_for("message", lambda d: d["text"] == "Second is here to help.")
