"""Connect webhooks as Stripe sends them, reversals paged, refunds and disputes, fees, currencies."""
from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from money_helpers import ADMIN, assert_conserved, balances, expert, fire_due_timers, resolved_case, setup_brand
from stripe_app import card, deliver, earnings, event, onboarded_expert
from stripe_fixture import WEBHOOK_SECRET, sign_payload

from tests.conftest import assert_error

CONNECT_SECRET = "whsec_gigcx_connect_endpoint"


@pytest.fixture
def settings(settings: Any, localstripe: Any) -> Any:
    """Stripe at localstripe; the platform endpoint's secret by the old name, the Connect one listed."""
    settings.stripe_api_key = localstripe.api_key
    settings.stripe_api_base = localstripe.url
    settings.stripe_webhook_secret = WEBHOOK_SECRET
    settings.stripe_webhook_secrets = [CONNECT_SECRET]
    settings.stripe_max_network_retries = 0
    settings.stripe_timeout_s = 5
    return settings


def test_both_secrets_livemode_and_the_connect_account_are_checked(app: Any, api: Any, localstripe: Any) -> None:
    ex_id, token, account_id = onboarded_expert(app, api, localstripe)
    acct = {"id": account_id, "object": "account", "payouts_enabled": False, "metadata": {"expert_id": str(ex_id)}}
    connect = event("account.updated", acct, created=2_000_000_000, account=account_id)
    assert deliver(api, connect, sign_payload(connect, CONNECT_SECRET)).json["outcome"] == "applied"
    assert_error(deliver(api, connect, sign_payload(connect, "whsec_unknown")), 400, "bad_request")
    # An event of live mode reaching a test-mode installation is dropped (and not stored).
    live = event("account.updated", acct, created=2_000_000_001, account=account_id, livemode=True)
    assert deliver(api, live).json["outcome"] == "ignored"
    # A Connect event about another account than the one it came from is ignored.
    other = event("account.updated", acct, created=2_000_000_002, account="acct_someone_else")
    assert deliver(api, other).json["outcome"] == "ignored"
    stranger = event("payout.paid", {"id": "po_9", "object": "payout", "amount": 5, "currency": "usd",
                                     "status": "paid"}, account="acct_someone_else")
    assert deliver(api, stranger).json["outcome"] == "ignored"
    # A platform event (a top-up) sent from a connected account is not the platform's money.
    key, brand_id = setup_brand(api, slug="b2")
    pi = event("payment_intent.succeeded", {"id": "pi_x", "object": "payment_intent", "amount": 999,
                                            "currency": "usd", "metadata": {"brand_id": str(brand_id)}},
               account=account_id)
    assert deliver(api, pi).json["outcome"] == "ignored"
    assert api.get("/brand/statement", key).json["funded_cents"] == 0


def test_every_reversal_is_held_even_beyond_those_the_event_embeds(app: Any, api: Any, localstripe: Any) -> None:
    _, brand_id = setup_brand(api, reward=1000, review_window_s=0)
    ex_id, token, _ = onboarded_expert(app, api, localstripe)
    resolved_case(app, brand_id, ex_id)
    fire_due_timers(app)
    [p] = api.post("/payouts/run", ADMIN).json["payouts"]
    localstripe.configure(reversals_embedded=1)
    for cents in (100, 200, 300):
        localstripe.reverse(p["transfer_id"], cents)
    [tr] = localstripe.transfers()
    assert len(tr["reversals"]["data"]) == 1 and tr["reversals"]["has_more"]
    assert deliver(api, event("transfer.reversed", tr)).json["outcome"] == "applied"
    body = earnings(api, token)
    assert (body["paid_cents"], body["held_cents"], body["available_cents"]) == (400, 600, 0)
    revs = api.get("/payouts/reversals?undecided=true", ADMIN).json["reversals"]
    assert sorted(r["amount_cents"] for r in revs) == [100, 200, 300]
    by_amount = {r["amount_cents"]: r["id"] for r in revs}
    api.post(f"/payouts/reversals/{by_amount[100]}/decision", ADMIN, json={"decision": "repay"})
    api.post(f"/payouts/reversals/{by_amount[500 - 300]}/decision", ADMIN, json={"decision": "write_off"})
    assert_error(api.post("/payouts/reversals/trr_nope/decision", ADMIN, json={"decision": "repay"}), 404, "not_found")
    body = earnings(api, token)
    assert (body["available_cents"], body["held_cents"]) == (100, 300)
    assert balances(app)[("platform:gigcx:written_off", "usd")] == 200
    [again] = api.post("/payouts/run", ADMIN).json["payouts"]  # the repaid 100 goes out again
    assert again["amount_cents"] == 100 and again["status"] == "paid"
    assert_conserved(app)


def test_refunds_and_disputes_move_the_brand_budget(app: Any, api: Any, localstripe: Any) -> None:
    key, brand_id = setup_brand(api, reward=300)
    r = api.post("/brand/funding", key, json={"amount_cents": 5000, "reference": "t1",
                                                "payment_method": card(app, "4242424242424242")})
    assert r.status_code == 201 and r.json["posted"], r.json
    pi = r.json["payment_intent_id"]
    refund = event("charge.refunded", {"id": "ch_1", "object": "charge", "payment_intent": pi, "currency": "usd",
                                       "amount_refunded": 700, "refunds": {"data": [{"id": "re_1", "amount": 700}]}})
    assert deliver(api, refund).json["outcome"] == "applied"
    assert deliver(api, refund).json["outcome"] == "duplicate"
    again = event("charge.refunded", {"id": "ch_1", "object": "charge", "payment_intent": pi, "currency": "usd",
                                      "refunds": {"data": [{"id": "re_1", "amount": 700}, {"id": "re_2", "amount": 300}]}})
    assert deliver(api, again).json["outcome"] == "applied"  # a new event: only re_2 is new
    assert api.get("/brand/statement", key).json["budget_cents"] == 4000
    opened = event("charge.dispute.created", {"id": "dp_1", "object": "dispute", "charge": "ch_1",
                                              "payment_intent": pi, "amount": 1000, "currency": "usd",
                                              "status": "needs_response"})
    assert deliver(api, opened).json["outcome"] == "applied"
    assert api.get("/brand/statement", key).json["budget_cents"] == 3000
    won = event("charge.dispute.closed", {"id": "dp_1", "object": "dispute", "charge": "ch_1", "payment_intent": pi,
                                          "amount": 1000, "currency": "usd", "status": "won"})
    assert deliver(api, won).json["outcome"] == "applied"
    assert api.get("/brand/statement", key).json["budget_cents"] == 4000
    stranger = event("charge.refunded", {"id": "ch_9", "object": "charge", "payment_intent": "pi_unknown",
                                         "currency": "usd", "refunds": {"data": [{"id": "re_9", "amount": 5}]}})
    assert deliver(api, stranger).json["outcome"] == "ignored"
    assert_conserved(app)


def test_platform_fee_is_posted_with_the_reward(app: Any, api: Any, localstripe: Any) -> None:
    key, brand_id = setup_brand(api, reward=300, review_window_s=0)
    assert_error(api.put("/brands/acme/platform-fee", key, json={"platform_fee_cents": 50}), 403, "forbidden")
    assert api.put("/brands/acme/platform-fee", ADMIN, json={"platform_fee_cents": 50}).json["platform_fee_cents"] == 50
    ex_id, token = expert(api)
    resolved_case(app, brand_id, ex_id)
    assert api.get("/brand/statement", key).json["budget_cents"] == -350  # reward + the platform's fee
    assert balances(app)[("platform:gigcx:revenue", "usd")] == 50
    assert_conserved(app)


def test_zero_and_three_decimal_currencies(app: Any, api: Any, localstripe: Any) -> None:
    key, brand_id = setup_brand(api, slug="yen", reward=1500, review_window_s=0, currency="jpy")
    ex_id, token, _ = onboarded_expert(app, api, localstripe, name="taro")
    resolved_case(app, brand_id, ex_id)
    fire_due_timers(app)
    [p] = api.post("/payouts/run", ADMIN).json["payouts"]
    assert (p["amount_cents"], p["currency"], p["status"]) == (1500, "jpy", "paid")
    [tr] = localstripe.transfers()
    assert (tr["amount"], tr["currency"]) == (1500, "jpy")  # 1,500 yen, not 15.00
    rows = list(csv.reader(io.StringIO(api.get(f"/payouts/{p['payout_id']}/statement.csv", token).get_data(as_text=True))))
    assert any(r[:1] == ["payout"] and r[3] == "1500" for r in rows)
    [view] = api.get("/payouts", ADMIN).json["payouts"]
    assert view["amount"] == "1500"
    import payouts

    assert payouts.Money(1234, "kwd").format() == "1.234 kwd" and payouts.format_minor(5, "kwd") == "0.005"
    # The brand owes its experts' rewards now: its currency cannot change.
    r = api.patch("/brand", key, json={"currency": "usd"})
    assert_error(r, 409, "conflict")
    assert "jpy" in r.json["error"]["message"]
    other, _ = setup_brand(api, slug="fresh")
    assert api.patch("/brand", other, json={"currency": "kwd"}).status_code == 200


def test_minimum_payout_per_currency(app: Any, api: Any, localstripe: Any, settings: Any) -> None:
    settings.payout_minimums = {"jpy": 2000}
    key, brand_id = setup_brand(api, slug="yen", reward=1500, review_window_s=0, currency="jpy")
    ex_id, token, _ = onboarded_expert(app, api, localstripe, name="taro")
    resolved_case(app, brand_id, ex_id)
    fire_due_timers(app)
    assert api.post("/payouts/run", ADMIN).json["payouts"] == []  # 1,500 yen < 2,000 yen
    resolved_case(app, brand_id, ex_id)
    fire_due_timers(app)
    [p] = api.post("/payouts/run", ADMIN).json["payouts"]
    assert (p["amount_cents"], p["currency"]) == (3000, "jpy")
