"""Retention and erasure on a live `gigcx serve`: the background job redacts old conversations,
and an erased customer's token no longer resumes while the expert hears the case close."""
from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from gigcx.models import utcnow
from tests.polling import wait_until


def test_the_serving_process_applies_retention(servers: Any, peers: Any, database_url: str) -> None:
    server = servers(env={"GIGCX_RETENTION_CHECK_S": "0.5"})
    slug, key = server.brand(retention_days=1)
    server.topic(key, "cards", examples=["where is my card"])
    _, token = server.expert(slug, key, ["cards"])
    expert = peers(server.url, "/expert", {"token": token})
    expert.call("availability", {"online": True})
    customer = peers(server.url, "/customer", {"brand": slug})
    case_id = customer.call("ask", {"text": "I'm Maria Lopez, where is my card?", "client_id": "q"})["case"]["id"]
    expert.wait_for("offer", lambda d: d["case_id"] == case_id)
    expert.call("accept", {"case_id": case_id})
    expert.call("message", {"case_id": case_id, "text": "Hi Maria, it is on its way.", "client_id": "a"})
    expert.call("resolve", {"case_id": case_id})
    assert customer.call("resolve", {"case_id": case_id, "resolved": True})["ok"]
    time.sleep(1.5)
    assert "Maria" in server.rest("GET", f"/cases/{case_id}", key).json()["question"]  # not old yet

    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:  # two days pass
            past = utcnow() - timedelta(days=2)
            conn.execute(sa.text("UPDATE support_case SET created_at = :t, resolved_at = :t WHERE id = :id"),
                         {"t": past, "id": case_id})
            conn.execute(sa.text("UPDATE customer SET created_at = :t"), {"t": past})
    finally:
        engine.dispose()
    view = wait_until(lambda: (v := server.rest("GET", f"/cases/{case_id}", key).json())["redacted_at"] and v,
                      timeout=20, what="the retention job", interval=0.3)
    assert "Maria" not in str(view["messages"]) and view["question"] == "[redacted]"
    assert view["status"] == "resolved" and view["reward_cents"] == 300
    assert "Maria" not in server.log()  # nor in the server's log


def test_an_erased_customer_cannot_resume_and_the_expert_hears_the_case_close(server: Any, peers: Any) -> None:
    slug, key = server.brand()
    server.topic(key, "cards", examples=["where is my card"])
    _, token = server.expert(slug, key, ["cards"])
    expert = peers(server.url, "/expert", {"token": token})
    expert.call("availability", {"online": True})
    customer = peers(server.url, "/customer", {"brand": slug})
    session = customer.wait_for("session")
    case_id = customer.call("ask", {"text": "My name is Hana Sato, card missing", "client_id": "q"})["case"]["id"]
    expert.wait_for("offer", lambda d: d["case_id"] == case_id)
    expert.call("accept", {"case_id": case_id})

    r = server.rest("DELETE", f"/customers/{session['customer_id']}", key)
    assert r.status_code == 200, r.text
    assert r.json()["removed"]["open_cases_closed"] == 1 and "Hana" in r.json()["export"]["cases"][0]["question"]
    expert.wait_for("case", lambda d: d["id"] == case_id and d["status"] == "closed")
    synced = expert.call("sync", {"case_id": case_id, "after_seq": 0})
    assert "Hana" not in str(synced)
    back = peers(server.url, "/customer", {"brand": slug, "token": session["token"]})
    assert back.wait_for("session")["customer_id"] != session["customer_id"]  # a new, empty customer


@pytest.mark.parametrize("path", ["/customers/1/export"])
def test_export_needs_a_brand(server: Any, path: str) -> None:
    assert server.rest("GET", path).status_code == 401
