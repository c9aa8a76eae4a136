"""Stripe mode in the app: brands fund their budget with PaymentIntents; Stripe outages and declines."""
from __future__ import annotations

from typing import Any

import pytest
from money_helpers import expert, setup_brand
from stripe_app import card, deliver, event, with_stripe

from tests.conftest import assert_error


@pytest.fixture
def settings(settings: Any, localstripe: Any) -> Any:
    """The test instance, with Stripe configured to point at localstripe (no SDK retries)."""
    return with_stripe(settings, localstripe)


def test_payment_intent_funding_and_webhook_post_once(app: Any, api: Any, localstripe: Any) -> None:
    key, brand_id = setup_brand(api, reward=300)
    r = api.post("/brand/funding", key, json={"amount_cents": 2500, "reference": "topup-1",
                                                "payment_method": card(app, "4242424242424242")})
    assert r.status_code == 201, r.json
    assert r.json["status"] == "succeeded" and r.json["budget_cents"] == 2500
    pi = r.json["payment_intent_id"]
    succeeded = event("payment_intent.succeeded", {"id": pi, "object": "payment_intent", "amount": 2500,
                                                   "currency": "usd", "metadata": {"brand_id": str(brand_id)}})
    assert deliver(api, succeeded).json["outcome"] == "applied"
    assert api.get("/brand/statement", key).json["funded_cents"] == 2500  # fund:{pi} posted once
    # Without a payment method the brand gets a client secret to confirm, and nothing is posted.
    pending = api.post("/brand/funding", key, json={"amount_cents": 1000, "reference": "topup-2"})
    assert pending.json["status"] == "requires_payment_method" and pending.json["client_secret"]
    assert pending.json["budget_cents"] == 2500
    later = event("payment_intent.succeeded", {"id": pending.json["payment_intent_id"], "object": "payment_intent",
                                               "amount": 1000, "currency": "usd",
                                               "metadata": {"brand_id": str(brand_id)}})
    deliver(api, later)
    assert api.get("/brand/statement", key).json["budget_cents"] == 3500


def test_funding_reference_reused_for_another_amount_is_a_conflict_as_without_stripe(
        app: Any, api: Any, localstripe: Any) -> None:
    key, _ = setup_brand(api, reward=300)
    pm = card(app, "4242424242424242")
    first = api.post("/brand/funding", key, json={"amount_cents": 2500, "reference": "inv-9", "payment_method": pm})
    assert first.status_code == 201, first.json
    # Stripe refuses the reused Idempotency-Key with other parameters (400 idempotency_error)
    reused = api.post("/brand/funding", key, json={"amount_cents": 3000, "reference": "inv-9", "payment_method": pm})
    assert_error(reused, 409, "conflict")
    assert "inv-9" in reused.json["error"]["message"]
    again = api.post("/brand/funding", key, json={"amount_cents": 2500, "reference": "inv-9", "payment_method": pm})
    assert again.status_code == 201 and again.json["payment_intent_id"] == first.json["payment_intent_id"]
    assert api.get("/brand/statement", key).json["funded_cents"] == 2500


@pytest.mark.parametrize("how", ["402 card_error", "intent with last_payment_error"])
def test_declined_card_is_payment_failed_and_funds_nothing(app: Any, api: Any, localstripe: Any, how: str) -> None:
    key, _ = setup_brand(api, reward=300)
    if how == "402 card_error":  # what Stripe answers to create-and-confirm with a declined card
        pm = card(app, "4242424242424242")
        localstripe.add_fault("card_declined", path="/v1/payment_intents")
    else:  # localstripe's declining card: the intent comes back requires_payment_method
        pm = card(app, "4000000000000341")
    r = api.post("/brand/funding", key, json={"amount_cents": 2500, "reference": "inv-1", "payment_method": pm})
    assert_error(r, 402, "payment_failed")
    assert "declined" in r.json["error"]["message"]  # Stripe's reason, for the payer
    assert api.get("/brand/statement", key).json["funded_cents"] == 0


def test_stripe_outage_while_funding_is_unavailable_and_the_same_reference_retries_safely(
        app: Any, api: Any, localstripe: Any) -> None:
    key, _ = setup_brand(api, reward=300)
    pm = card(app, "4242424242424242")
    localstripe.add_fault("drop_after_commit", path="/v1/payment_intents")  # charged; the answer is lost
    down = api.post("/brand/funding", key, json={"amount_cents": 1200, "reference": "inv-2", "payment_method": pm})
    assert_error(down, 503, "unavailable")
    assert "inv-2" in down.json["error"]["message"]  # tells the caller what to retry with
    assert api.get("/brand/statement", key).json["funded_cents"] == 0
    retry = api.post("/brand/funding", key, json={"amount_cents": 1200, "reference": "inv-2", "payment_method": pm})
    assert retry.status_code == 201 and retry.json["status"] == "succeeded", retry.json
    assert api.get("/brand/statement", key).json["funded_cents"] == 1200
    # Days later, when Stripe has forgotten the key, the stored intent is retrieved, not re-created.
    creates = localstripe.request_count("POST", "/v1/payment_intents")
    later = api.post("/brand/funding", key, json={"amount_cents": 1200, "reference": "inv-2", "payment_method": pm})
    assert later.json["payment_intent_id"] == retry.json["payment_intent_id"]
    assert localstripe.request_count("POST", "/v1/payment_intents") == creates
    assert api.get("/brand/statement", key).json["funded_cents"] == 1200


def test_payout_account_when_stripe_is_down_is_unavailable_not_internal(app: Any, api: Any, localstripe: Any) -> None:
    _, token = expert(api, "ex")
    localstripe.add_status_fault(503, path="/v1/accounts", method="POST")  # Stripe's edge: nothing ran
    r = api.post("/experts/me/payout-account", token, json={"return_url": "https://x.test/back"})
    assert_error(r, 503, "unavailable")
    assert api.get("/experts/me/payout-account", token).json["account_id"] is None
    ok = api.post("/experts/me/payout-account", token, json={"return_url": "https://x.test/back"})
    assert ok.status_code == 200 and ok.json["account_id"], ok.json
