"""End to end: a real `gigcx serve` with Stripe pointed at localstripe, real Socket.IO clients,
localstripe's own signed webhooks delivered to the server, review, then a payout run."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from stripe_fixture import WEBHOOK_SECRET

from tests.polling import wait_until
from tests.servers import ADMIN_TOKEN

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_case_to_transfer_over_real_processes(servers: Any, peers: Any, localstripe: Any) -> None:
    server = servers(env={"STRIPE_API_KEY": localstripe.api_key, "STRIPE_API_BASE": localstripe.url,
                          "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET, "PYTHONPATH": str(ROOT)})
    localstripe.register_webhook("e2e", server.url + "/webhooks/stripe", WEBHOOK_SECRET)
    slug, key = server.brand(offer_timeout_s=30, review_window_s=3,
                             bonus_rules={"five_star_cents": 100, "fast_response_cents": 0})
    server.topic(key, "cards", reward=300, examples=["where is my card", "my card has not arrived"])
    expert_id, token = server.expert(slug, key, ["cards"], name="Ana")

    # Onboarding: account link, then localstripe's signed account.updated reaches the server.
    link = server.rest("POST", "/experts/me/payout-account", token, json={})
    assert link.status_code == 200, link.text
    localstripe.complete_onboarding(link.json()["account_id"])
    wait_until(lambda: server.rest("GET", "/experts/me/payout-account", token).json()["payouts_enabled"],
               timeout=15, interval=0.1)

    expert = peers(server.url, "/expert", {"token": token})
    assert expert.call("availability", {"online": True})["ok"]
    customer = peers(server.url, "/customer", {"brand": slug})

    def solve(client_id: str, csat: int | None) -> int:
        case_id = customer.call("ask", {"text": "my card has not arrived", "client_id": client_id})["case"]["id"]
        expert.wait_for("offer", lambda d: d["case_id"] == case_id)
        assert expert.call("accept", {"case_id": case_id})["ok"]
        assert expert.call("message", {"case_id": case_id, "text": "On its way.", "client_id": f"m{case_id}"})["ok"]
        expert.call("resolve", {"case_id": case_id})
        assert customer.call("resolve", {"case_id": case_id, "resolved": True})["case"]["status"] == "resolved"
        if csat is not None:
            assert customer.call("rate", {"case_id": case_id, "csat": csat})["ok"]
        return case_id

    kept = solve("q1", 5)
    rejected = solve("q2", None)
    r = server.rest("POST", f"/cases/{rejected}/review", key, json={"verdict": "reject", "note": "wrong"})
    assert r.status_code == 200 and r.json()["clawback"] is True, r.text
    early = server.rest("GET", "/experts/me/earnings", token).json()
    assert early["pending_cents"] == 400
    assert {e["case_id"]: e["status"] for e in early["entries"]} == {kept: "pending", rejected: "reversed"}

    # The review window (3 s) ends; the server's timer loop releases the reward.
    wait_until(lambda: server.rest("GET", "/experts/me/earnings", token).json()["available_cents"] == 400,
               timeout=15, interval=0.1)
    run = server.rest("POST", "/payouts/run", ADMIN_TOKEN)
    assert run.status_code == 200, run.text
    [p] = run.json()["payouts"]
    assert (p["expert_id"], p["amount_cents"], p["status"]) == (expert_id, 400, "paid")
    assert localstripe.request_count("POST", "/v1/transfers") == 1
    final = server.rest("GET", "/experts/me/earnings", token).json()
    assert (final["pending_cents"], final["available_cents"], final["paid_cents"]) == (0, 0, 400)
    statement = server.rest("GET", "/brand/statement", key).json()
    assert statement["spent_cents"] == 400 and statement["reversed_cents"] == 300
