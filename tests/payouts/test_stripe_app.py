"""Stripe mode end to end in the app: the real stripe SDK over HTTP against localstripe."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

import pytest
from money_helpers import ADMIN, assert_conserved, expert, fire_due_timers, resolved_case, setup_brand
from stripe_app import (
    ROOT,
    available,
    deliver,
    earnings,
    event,
    gw,
    onboarded_expert,
    stored_payable,
    transfers_for,
    with_stripe,
)
from stripe_fixture import WEBHOOK_SECRET, sign_payload

from tests.conftest import assert_error


@pytest.fixture
def settings(settings: Any, localstripe: Any) -> Any:
    """The test instance, with Stripe configured to point at localstripe (no SDK retries)."""
    return with_stripe(settings, localstripe)


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
