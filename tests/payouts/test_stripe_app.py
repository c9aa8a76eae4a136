"""Stripe mode end to end in the app: the real stripe SDK over HTTP against localstripe."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from money_helpers import ADMIN, assert_conserved, expert, fire_due_timers, resolved_case, setup_brand
from stripe_fixture import WEBHOOK_SECRET, sign_payload

from tests.conftest import assert_error

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def settings(settings: Any, localstripe: Any) -> Any:
    """The test instance, with Stripe configured to point at localstripe (no SDK retries)."""
    settings.stripe_api_key = localstripe.api_key
    settings.stripe_api_base = localstripe.url
    settings.stripe_webhook_secret = WEBHOOK_SECRET
    settings.stripe_max_network_retries = 0
    settings.stripe_timeout_s = 5
    return settings


def deliver(api: Any, payload: bytes, sig: str | None = None) -> Any:
    """POST a webhook to the app the way Stripe does."""
    return api.client.post("/webhooks/stripe", data=payload, headers={
        "Stripe-Signature": sig if sig is not None else sign_payload(payload),
        "Content-Type": "application/json"})


def event(etype: str, obj: dict[str, Any], created: int | None = None, eid: str | None = None,
          **extra: Any) -> bytes:
    return json.dumps({"id": eid or f"evt_{etype}_{time.time_ns()}", "object": "event",
                       "type": etype, "created": created or int(time.time()),
                       "data": {"object": obj}, **extra}).encode()


def gw(app: Any) -> Any:
    return app.extensions["gigcx_payments"]


def onboarded_expert(app: Any, api: Any, localstripe: Any, name: str = "ex") -> tuple[int, str, str]:
    """An expert with a finished Express account, learned through a signed account.updated."""
    ex_id, token = expert(api, name)
    r = api.post("/experts/me/payout-account", token, json={"return_url": "https://x.test/back"})
    assert r.status_code == 200, r.json
    account_id = r.json["account_id"]
    assert r.json["url"].startswith("http") and r.json["payouts_enabled"] is False
    acct = localstripe.complete_onboarding(account_id)
    resp = deliver(api, event("account.updated", acct))
    assert resp.status_code == 200 and resp.json["outcome"] == "applied", resp.json
    assert api.get("/experts/me/payout-account", token).json == {
        "mode": "stripe", "account_id": account_id, "payouts_enabled": True}
    return ex_id, token, account_id


def available(app: Any, api: Any, brand_id: int, ex_id: int, n: int = 1) -> None:
    for _ in range(n):
        resolved_case(app, brand_id, ex_id)
    fire_due_timers(app)


def transfers_for(app: Any, payout_id: int) -> list[Any]:
    """The transfers at Stripe tagged with the payout's random uid."""
    from gigcx.db import session_scope
    from gigcx.models import Payout

    with app.app_context(), session_scope() as s:
        uid = s.get(Payout, payout_id).uid
    page = gw(app).client.v1.transfers.list(params={"transfer_group": f"gigcx_payout_{uid}"})
    return list(page.auto_paging_iter())


def card(app: Any, number: str) -> str:
    return str(gw(app).client.v1.payment_methods.create(params={
        "type": "card", "card": {"number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123"}}).id)


def stored_payable(app: Any, ex_id: int) -> bool:
    from gigcx.db import session_scope
    from gigcx.models import Expert

    with app.app_context(), session_scope() as s:
        return bool(s.get(Expert, ex_id).payouts_enabled)


def earnings(api: Any, token: str) -> dict[str, Any]:
    return api.get("/experts/me/earnings", token).json  # type: ignore[no-any-return]


def test_gateway_built_from_settings(app: Any, localstripe: Any) -> None:
    import stripe

    from gigcx.stripe_gateway import StripeGateway

    assert isinstance(gw(app), StripeGateway)
    assert stripe.api_key is None  # never the global key


def test_onboarding_then_transfer(app: Any, api: Any, localstripe: Any) -> None:
    _, brand_id = setup_brand(api, reward=300, review_window_s=0)
    ex_id, token = expert(api, "late")
    available(app, api, brand_id, ex_id, 2)
    # Not onboarded yet: nothing is sent, the money waits.
    assert api.post("/payouts/run", ADMIN).json["payouts"] == []
    r = api.post("/experts/me/payout-account", token, json={})
    account_id = r.json["account_id"]
    again = api.post("/experts/me/payout-account", token, json={})
    assert again.json["account_id"] == account_id  # one account per expert
    deliver(api, event("account.updated", localstripe.complete_onboarding(account_id)))
    run = api.post("/payouts/run", ADMIN).json
    assert run["mode"] == "stripe"
    [p] = run["payouts"]
    assert (p["expert_id"], p["amount_cents"], p["status"]) == (ex_id, 600, "paid")
    [tr] = transfers_for(app, p["payout_id"])
    assert tr.id == p["transfer_id"] and tr.destination == account_id and tr.amount == 600
    assert tr.metadata.to_dict() == {"gigcx_payout": p["uid"]} and tr.transfer_group == f"gigcx_payout_{p['uid']}"
    body = earnings(api, token)
    assert (body["available_cents"], body["paid_cents"]) == (0, 600)
    assert body["payouts"][0]["transfer_id"] == tr.id
    assert localstripe.request_count("POST", "/v1/transfers") == 1
    assert api.post("/payouts/run", ADMIN).json["payouts"] == []
    assert_conserved(app)


def test_webhooks_signed_idempotent_and_order_independent(app: Any, api: Any, localstripe: Any) -> None:
    ex_id, token, account_id = onboarded_expert(app, api, localstripe)
    newer = event("account.updated", {"id": account_id, "object": "account", "payouts_enabled": False,
                                      "details_submitted": True, "metadata": {"expert_id": str(ex_id)}},
                  created=int(time.time()) + 100, eid="evt_newer")
    older = event("account.updated", {"id": account_id, "object": "account", "payouts_enabled": True,
                                      "details_submitted": True, "metadata": {"expert_id": str(ex_id)}},
                  created=int(time.time()) + 50, eid="evt_older")
    assert deliver(api, newer).json["outcome"] == "applied"
    assert stored_payable(app, ex_id) is False
    assert deliver(api, older).json["outcome"] == "ignored"  # late snapshot: not applied
    assert stored_payable(app, ex_id) is False
    # The onboarding return asks Stripe itself, whatever order the events came in.
    assert api.get("/experts/me/payout-account", token).json["payouts_enabled"] is True
    assert stored_payable(app, ex_id) is True
    assert deliver(api, newer).json["outcome"] == "duplicate"
    # Bad or missing signatures, and stale ones, are refused.
    assert_error(deliver(api, newer, sig="t=1,v1=deadbeef"), 400, "bad_request")
    assert_error(deliver(api, newer, sig=""), 400, "bad_request")
    stale = event("account.updated", {"id": account_id, "object": "account"}, eid="evt_stale")
    assert_error(deliver(api, stale, sig=sign_payload(stale, timestamp=int(time.time()) - 3600)), 400, "bad_request")
    assert_error(deliver(api, stale, sig=sign_payload(stale, secret="whsec_other")), 400, "bad_request")
    # Informational and unknown events are acknowledged.
    paid = event("payout.paid", {"id": "po_1", "object": "payout", "amount": 500, "currency": "usd",
                                 "status": "paid"}, account=account_id)
    failed = event("payout.failed", {"id": "po_2", "object": "payout", "amount": 500, "currency": "usd",
                                     "status": "failed", "failure_code": "account_closed"}, account=account_id)
    other = event("customer.created", {"id": "cus_1", "object": "customer"})
    assert deliver(api, paid).json["outcome"] == "applied"
    assert deliver(api, failed).json["outcome"] == "applied"
    assert deliver(api, other).json["outcome"] == "ignored"


def test_real_localstripe_webhooks(app: Any, api: Any, localstripe: Any, webhook_receiver: Any) -> None:
    """Events localstripe itself signs and sends, forwarded to the app, including a reversal."""
    localstripe.register_webhook("app", webhook_receiver.url, WEBHOOK_SECRET)
    _, brand_id = setup_brand(api, reward=500, review_window_s=0)
    ex_id, token = expert(api)
    account_id = api.post("/experts/me/payout-account", token, json={}).json["account_id"]
    localstripe.complete_onboarding(account_id)
    payload, sig = webhook_receiver.wait_for("account.updated", account_id)
    assert deliver(api, payload, sig).json["outcome"] == "applied"
    available(app, api, brand_id, ex_id)
    [p] = api.post("/payouts/run", ADMIN).json["payouts"]
    assert p["status"] == "paid"
    gw(app).client.v1.transfers.reversals.create(p["transfer_id"], params={"amount": 200})
    payload, sig = webhook_receiver.wait_for("transfer.reversed", p["transfer_id"])
    assert deliver(api, payload, sig).json["outcome"] == "applied"
    assert deliver(api, payload, sig).json["outcome"] == "duplicate"
    body = earnings(api, token)
    assert (body["available_cents"], body["held_cents"], body["paid_cents"]) == (0, 200, 300)
    # Reversed money waits for the operator: pay it again.
    [rev] = api.get("/payouts/reversals?undecided=true", ADMIN).json["reversals"]
    assert (rev["payout_id"], rev["amount_cents"], rev["decision"]) == (p["payout_id"], 200, None)
    assert api.post(f"/payouts/reversals/{rev['id']}/decision", ADMIN, json={"decision": "repay"}).json[
        "decision"] == "repay"
    assert_error(api.post(f"/payouts/reversals/{rev['id']}/decision", ADMIN, json={"decision": "write_off"}),
                 409, "conflict")
    body = earnings(api, token)
    assert (body["available_cents"], body["held_cents"], body["paid_cents"]) == (200, 0, 300)
    assert_conserved(app)


def test_dropped_answer_then_retry_makes_no_second_transfer(app: Any, api: Any, localstripe: Any) -> None:
    _, brand_id = setup_brand(api, reward=300, review_window_s=0)
    ex_id, token, account_id = onboarded_expert(app, api, localstripe)
    available(app, api, brand_id, ex_id)
    localstripe.add_fault("drop_after_commit")  # Stripe makes the transfer; we never hear back
    [p] = api.post("/payouts/run", ADMIN).json["payouts"]
    assert p["status"] == "needs_attention" and "unknown" in p["attention"]
    assert len(transfers_for(app, p["payout_id"])) == 1
    body = earnings(api, token)
    assert (body["available_cents"], body["in_transit_cents"], body["paid_cents"]) == (0, 300, 0)
    assert body["entries"][0]["status"] == "in_transit"
    # A reversal webhook that overtakes our settlement is refused for now (Stripe retries it).
    tr = transfers_for(app, p["payout_id"])[0]
    rev = gw(app).client.v1.transfers.reversals.create(tr.id, params={"amount": 100})
    tr = gw(app).client.v1.transfers.retrieve(tr.id)
    reversed_evt = event("transfer.reversed", tr.to_dict(), eid="evt_rev")
    assert_error(deliver(api, reversed_evt), 503, "unavailable")
    # Recovery: the transfer is found by its group and metadata and settled; none is created.
    retried = api.post("/payouts/retry", ADMIN).json["payouts"]
    assert [(x["id"], x["status"], x["transfer_id"]) for x in retried] == [(p["payout_id"], "paid", tr.id)]
    assert localstripe.request_count("POST", "/v1/transfers") == 1
    assert len(transfers_for(app, p["payout_id"])) == 1
    assert deliver(api, reversed_evt).json["outcome"] == "applied"
    body = earnings(api, token)
    assert (body["available_cents"], body["held_cents"], body["paid_cents"]) == (0, 100, 200), rev
    [held] = api.get("/payouts/reversals", ADMIN).json["reversals"]
    api.post(f"/payouts/reversals/{held['id']}/decision", ADMIN, json={"decision": "write_off"})
    body = earnings(api, token)
    assert (body["available_cents"], body["held_cents"], body["paid_cents"]) == (0, 0, 200)
    assert_conserved(app)


def test_crash_between_answer_and_commit_is_recovered_by_next_run(
        app: Any, api: Any, localstripe: Any, monkeypatch: Any) -> None:
    from gigcx.services import payouts as svc

    _, brand_id = setup_brand(api, reward=300, review_window_s=0)
    ex_id, token, _ = onboarded_expert(app, api, localstripe)
    available(app, api, brand_id, ex_id)

    def crash(*_: Any) -> None:
        raise RuntimeError("process died")

    monkeypatch.setattr(svc, "_after_send", crash)
    r = api.post("/payouts/run", ADMIN)
    assert r.status_code == 500
    assert localstripe.request_count("POST", "/v1/transfers") == 1
    assert earnings(api, token)["in_transit_cents"] == 300
    monkeypatch.undo()
    run = api.post("/payouts/run", ADMIN).json
    assert run["payouts"] == []  # in-transit money is never planned again
    [rec] = run["recovered"]
    assert rec["status"] == "paid" and rec["amount_cents"] == 300
    assert localstripe.request_count("POST", "/v1/transfers") == 1
    assert len(transfers_for(app, rec["payout_id"])) == 1
    assert earnings(api, token)["paid_cents"] == 300
    assert_conserved(app)


def test_sigkill_of_cli_run_after_transfer(app: Any, api: Any, localstripe: Any, settings: Any) -> None:
    """`gigcx payouts run` dies (os._exit) right after Stripe answered; `retry` settles it."""
    _, brand_id = setup_brand(api, reward=300, review_window_s=0)
    ex_id, token, _ = onboarded_expert(app, api, localstripe)
    available(app, api, brand_id, ex_id)
    env = {**os.environ, "GIGCX_DATABASE_URL": settings.database_url,
           "GIGCX_INSTANCE_PATH": settings.instance_path, "GIGCX_SECRET_KEY": "x",
           "STRIPE_API_KEY": localstripe.api_key, "STRIPE_API_BASE": localstripe.url,
           "GIGCX_STRIPE_MAX_NETWORK_RETRIES": "0", "PYTHONPATH": str(ROOT)}
    die = ("import os, sys; import gigcx.services.payouts as p; "
           "p._after_send = lambda *a: os._exit(9); "
           "from gigcx.cli import cli; cli(['payouts', 'run'], standalone_mode=True)")
    first = subprocess.run([sys.executable, "-c", die], env=env, cwd=ROOT, capture_output=True, timeout=120)
    assert first.returncode == 9, first.stderr.decode()[-2000:]
    assert localstripe.request_count("POST", "/v1/transfers") == 1
    assert earnings(api, token)["in_transit_cents"] == 300
    second = subprocess.run([sys.executable, "-m", "gigcx", "payouts", "retry"], env=env, cwd=ROOT,
                            capture_output=True, timeout=120)
    assert second.returncode == 0, second.stderr.decode()[-2000:]
    assert b"1 payout(s) retried" in second.stdout
    assert localstripe.request_count("POST", "/v1/transfers") == 1
    body = earnings(api, token)
    assert (body["in_transit_cents"], body["paid_cents"]) == (0, 300)
    assert_conserved(app)


def test_permanent_failure_returns_money_to_available(app: Any, api: Any, localstripe: Any) -> None:
    from gigcx.db import session_scope
    from gigcx.models import Expert

    _, brand_id = setup_brand(api, reward=300, review_window_s=0)
    ex_id, token, _ = onboarded_expert(app, api, localstripe)
    available(app, api, brand_id, ex_id)
    with app.app_context(), session_scope() as s:  # the account vanished at Stripe
        e = s.get(Expert, ex_id)
        e.stripe_account_id, good = "acct_gone", e.stripe_account_id
        s.add(e)
        s.commit()
    # The live account check before the transfer: nothing is reserved for an account Stripe lacks.
    assert api.post("/payouts/run", ADMIN).json["payouts"] == []
    assert localstripe.request_count("POST", "/v1/transfers") == 0
    with app.app_context(), session_scope() as s:
        e = s.get(Expert, ex_id)
        e.stripe_account_id = good
        s.add(e)
        s.commit()
    # Stripe refuses the creation and a look-up proves no transfer exists: failed, money back.
    localstripe.add_status_fault(400, code="parameter_invalid", path="/v1/transfers", method="POST")
    [p] = api.post("/payouts/run", ADMIN).json["payouts"]
    assert p["status"] == "failed"
    assert earnings(api, token)["available_cents"] == 300
    [p2] = api.post("/payouts/run", ADMIN).json["payouts"]
    assert p2["status"] == "paid" and p2["uid"] != p["uid"]
    assert len(localstripe.transfers()) == 1
    assert_conserved(app)


def test_temporary_error_leaves_in_transit_until_retry(app: Any, api: Any, localstripe: Any) -> None:
    _, brand_id = setup_brand(api, reward=300, review_window_s=0)
    ex_id, token, _ = onboarded_expert(app, api, localstripe)
    available(app, api, brand_id, ex_id)
    localstripe.add_fault("error_500")
    [p] = api.post("/payouts/run", ADMIN).json["payouts"]
    assert p["status"] == "needs_attention" and transfers_for(app, p["payout_id"]) == []
    listed = api.get("/payouts?attention=true", ADMIN).json["payouts"]
    assert [(x["id"], x["attention"]) for x in listed] == [(p["payout_id"], p["attention"])]
    # Stripe keeps the 500 under that key: the retry looks up, finds nothing, and uses the next key.
    [again] = api.post("/payouts/retry", ADMIN).json["payouts"]
    assert again["status"] == "paid" and again["attempt"] == 1
    assert api.get("/payouts?attention=true", ADMIN).json["payouts"] == []
    assert len(transfers_for(app, p["payout_id"])) == 1
    assert_conserved(app)


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


def test_mixed_stripe_faults_in_one_run_pay_each_expert_once(app: Any, api: Any, localstripe: Any) -> None:
    """One run over four experts meets a client-side timeout, a 500, a dropped answer (the
    transfer was made) and a normal answer; retries settle everything with exactly one transfer
    per payout, and a later run plans nothing again."""
    _, brand_id = setup_brand(api, reward=300, review_window_s=0)
    experts = [onboarded_expert(app, api, localstripe, name=f"ex{i}") for i in range(4)]
    for ex_id, _, _ in experts:
        resolved_case(app, brand_id, ex_id)
    fire_due_timers(app)
    localstripe.add_fault("timeout", delay=6.0)  # longer than the SDK's 5 s timeout
    localstripe.add_fault("error_500")  # the second create (the timeout took the first)
    localstripe.add_fault("drop_after_commit", skip=2)  # the third (its answer is lost)
    run = api.post("/payouts/run", ADMIN).json["payouts"]
    assert sorted(p["status"] for p in run) == ["needs_attention"] * 3 + ["paid"], run
    # The timed-out request is still running at Stripe (409 for its key meanwhile), then keeps its 500;
    # retries settle everything once it ends.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if all(p["status"] == "paid" for p in api.post("/payouts/retry", ADMIN).json["payouts"]):
            break
        time.sleep(1)
    for p in run:
        assert len(transfers_for(app, p["payout_id"])) == 1, p
    for _, token, _ in experts:
        body = earnings(api, token)
        assert (body["available_cents"], body["in_transit_cents"], body["paid_cents"]) == (0, 0, 300), body
    assert api.post("/payouts/run", ADMIN).json["payouts"] == []
    assert api.post("/payouts/retry", ADMIN).json["payouts"] == []
    assert_conserved(app)


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
