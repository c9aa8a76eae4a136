"""Unknown is never failed: lost answers, refused look-ups, operator settlement, waiting funds.

The first test is the scenario that paid an expert twice: a Stripe-compatible server makes the
transfer but every answer to it is lost (the SDK's own retries included), then the recovery's
look-up is refused with 401 (as after a key rotation). It must end with exactly one transfer.
"""
from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner
from money_helpers import ADMIN, assert_conserved, fire_due_timers, resolved_case, setup_brand
from stripe_app import earnings, onboarded_expert
from stripe_fixture import WEBHOOK_SECRET

from gigcx.cli import cli
from tests.conftest import assert_error


@pytest.fixture
def settings(settings: Any, localstripe: Any) -> Any:
    """Stripe at localstripe with the SDK's default network retries (they reuse the key)."""
    settings.stripe_api_key = localstripe.api_key
    settings.stripe_api_base = localstripe.url
    settings.stripe_webhook_secret = WEBHOOK_SECRET
    settings.stripe_max_network_retries = 2
    settings.stripe_timeout_s = 5
    return settings


@pytest.fixture
def cli_env(settings: Any, localstripe: Any, monkeypatch: Any) -> CliRunner:
    """`gigcx` commands run against the test instance and localstripe."""
    for name, value in {"GIGCX_DATABASE_URL": settings.database_url, "GIGCX_INSTANCE_PATH": settings.instance_path,
                        "GIGCX_SECRET_KEY": "test-secret", "STRIPE_API_KEY": localstripe.api_key,
                        "STRIPE_API_BASE": localstripe.url, "GIGCX_STRIPE_MAX_NETWORK_RETRIES": "0",
                        "GIGCX_STRIPE_TIMEOUT_S": "5"}.items():
        monkeypatch.setenv(name, value)
    return CliRunner()


def earned(app: Any, api: Any, localstripe: Any, cents: int = 1400) -> tuple[int, str]:
    _, brand_id = setup_brand(api, reward=cents, review_window_s=0)
    ex_id, token, _ = onboarded_expert(app, api, localstripe)
    resolved_case(app, brand_id, ex_id)
    fire_due_timers(app)
    return ex_id, token


def test_lost_answers_then_a_401_look_up_pay_exactly_once(app: Any, api: Any, localstripe: Any,
                                                          cli_env: CliRunner) -> None:
    ex_id, token = earned(app, api, localstripe)
    # Stripe makes the transfer; the answer and both SDK retries' answers (replays) are lost.
    localstripe.add_fault("drop_after_commit", count=3)
    [p] = api.post("/payouts/run", ADMIN).json["payouts"]
    assert p["status"] == "needs_attention"
    assert len(localstripe.transfers()) == 1
    # The key was rotated: the recovery's look-up is refused. Nothing is failed, nothing is repaid.
    localstripe.add_status_fault(401, path="/v1/transfers", method="GET")
    run = api.post("/payouts/run", ADMIN).json
    assert run["payouts"] == []
    [rec] = run["recovered"]
    assert rec["status"] == "needs_attention" and "401" in rec["attention"]
    body = earnings(api, token)
    assert (body["available_cents"], body["in_transit_cents"], body["paid_cents"]) == (0, 1400, 0)
    listed = api.get("/payouts?attention=true", ADMIN).json["payouts"]
    assert [(x["id"], x["status"]) for x in listed] == [(p["payout_id"], "needs_attention")]
    assert_error(api.get("/payouts?attention=true", token), 403, "forbidden")
    out = cli_env.invoke(cli, ["payouts", "list", "--attention"])
    assert out.exit_code == 0 and f"payout {p['payout_id']}" in out.output and "401" in out.output, out.output
    assert localstripe.request_count("POST", "/v1/transfers") == 3  # no create after the 401
    # Stripe answers again: the next run finds the transfer and settles it; still one transfer.
    run = api.post("/payouts/run", ADMIN).json
    [rec] = run["recovered"]
    assert rec["status"] == "paid" and rec["transfer_id"] == localstripe.transfers()[0]["id"]
    assert run["payouts"] == []
    assert len(localstripe.transfers()) == 1 and localstripe.transfers()[0]["amount"] == 1400
    body = earnings(api, token)
    assert (body["available_cents"], body["in_transit_cents"], body["paid_cents"]) == (0, 0, 1400)
    assert api.get("/payouts?attention=true", ADMIN).json["payouts"] == []
    for _ in range(2):
        assert api.post("/payouts/run", ADMIN).json["payouts"] == []
    assert len(localstripe.transfers()) == 1
    assert_conserved(app)


def test_operator_settles_with_evidence_checked_at_stripe(app: Any, api: Any, localstripe: Any,
                                                         cli_env: CliRunner) -> None:
    ex_id, token = earned(app, api, localstripe, 900)
    localstripe.add_fault("drop_after_commit", count=3)
    [p] = api.post("/payouts/run", ADMIN).json["payouts"]
    pid = p["payout_id"]
    [tr] = localstripe.transfers()
    # While Stripe refuses look-ups, "not sent" cannot be proven.
    localstripe.add_status_fault(401, path="/v1/transfers", method="GET")
    out = cli_env.invoke(cli, ["payouts", "settle", str(pid), "--not-sent"])
    assert out.exit_code != 0 and "could not confirm" in out.output, out.output
    # The transfer exists: "not sent" is refused, a wrong transfer too.
    assert_error(api.post(f"/payouts/{pid}/settle", ADMIN, json={"not_sent": True}), 409, "conflict")
    assert_error(api.post(f"/payouts/{pid}/settle", ADMIN, json={}), 422, "invalid")
    out = cli_env.invoke(cli, ["payouts", "settle", str(pid), "--transfer", "tr_nonesuch"])
    assert out.exit_code != 0, out.output
    out = cli_env.invoke(cli, ["payouts", "settle", str(pid), "--transfer", tr["id"]])
    assert out.exit_code == 0 and "paid" in out.output, out.output
    assert_error(api.post(f"/payouts/{pid}/settle", ADMIN, json={"transfer_id": tr["id"]}), 409, "conflict")
    assert earnings(api, token)["paid_cents"] == 900
    assert api.post("/payouts/run", ADMIN).json["payouts"] == []
    assert len(localstripe.transfers()) == 1
    assert_conserved(app)


def test_not_sent_settlement_frees_the_money_for_a_new_payout(app: Any, api: Any, localstripe: Any) -> None:
    ex_id, token = earned(app, api, localstripe, 500)
    localstripe.add_fault("error_500")  # Stripe keeps this 500 under the payout's key
    [p] = api.post("/payouts/run", ADMIN).json["payouts"]
    assert p["status"] == "needs_attention" and localstripe.transfers() == []
    settled = api.post(f"/payouts/{p['payout_id']}/settle", ADMIN, json={"not_sent": True})
    assert settled.status_code == 200 and settled.json["status"] == "failed", settled.json
    assert earnings(api, token)["available_cents"] == 500
    [again] = api.post("/payouts/run", ADMIN).json["payouts"]
    assert again["status"] == "paid" and again["uid"] != p["uid"]
    assert len(localstripe.transfers()) == 1
    assert_conserved(app)


def test_balance_insufficient_waits_for_the_next_run(app: Any, api: Any, localstripe: Any) -> None:
    ex_id, token = earned(app, api, localstripe, 800)
    localstripe.set_balance("usd", 100)  # the top-ups have not settled yet
    [p] = api.post("/payouts/run", ADMIN).json["payouts"]
    assert p["status"] == "in_transit" and p["attention"] is None
    assert localstripe.request_count("POST", "/v1/transfers") == 1  # no tight loop
    assert api.get("/payouts?attention=true", ADMIN).json["payouts"] == []
    [row] = api.get("/payouts?status=in_transit", ADMIN).json["payouts"]
    assert "balance_insufficient" in row["error"]
    assert earnings(api, token)["in_transit_cents"] == 800  # not failed: nobody else gets it
    localstripe.set_balance("usd", 10_000)
    run = api.post("/payouts/run", ADMIN).json
    [rec] = run["recovered"]
    assert rec["status"] == "paid" and run["payouts"] == []
    assert len(localstripe.transfers()) == 1
    assert earnings(api, token)["paid_cents"] == 800
    assert_conserved(app)


def test_many_faults_many_runs_never_pay_more_than_earned(app: Any, api: Any, localstripe: Any) -> None:
    _, brand_id = setup_brand(api, reward=300, review_window_s=0)
    experts = [onboarded_expert(app, api, localstripe, name=f"e{i}") for i in range(3)]
    for ex_id, _, _ in experts:
        resolved_case(app, brand_id, ex_id)
    fire_due_timers(app)
    localstripe.add_fault("drop_after_commit", count=3)
    localstripe.add_status_fault(403, path="/v1/transfers", method="GET", skip=4, count=2)
    localstripe.add_fault("error_500", skip=1)
    for _ in range(4):
        api.post("/payouts/run", ADMIN)
        for _ex, token, account in experts:
            sent = sum(t["amount"] - t["amount_reversed"] for t in localstripe.transfers()
                       if t["destination"] == account)
            body = earnings(api, token)
            assert sent <= 300 and body["paid_cents"] <= sent
    for _ex, token, account in experts:
        assert earnings(api, token)["paid_cents"] == 300
        assert [t["amount"] for t in localstripe.transfers() if t["destination"] == account] == [300]
    assert_conserved(app)


def test_reconcile_agrees_then_reports_a_stray_transfer(app: Any, api: Any, localstripe: Any,
                                                       cli_env: CliRunner) -> None:
    earned(app, api, localstripe, 700)
    [p] = api.post("/payouts/run", ADMIN).json["payouts"]
    out = cli_env.invoke(cli, ["payouts", "reconcile"])
    assert out.exit_code == 0 and "agree" in out.output, out.output
    # A transfer tagged as ours that no payout knows: a difference, and a non-zero exit.
    from gigcx.stripe_gateway import StripeGateway

    gw = StripeGateway(localstripe.api_key, api_base=localstripe.url)
    gw.client.v1.transfers.create(params={"amount": 5, "currency": "usd", "destination": p and
                                          localstripe.transfers()[0]["destination"],
                                          "metadata": {"gigcx_payout": "not-ours"}})
    out = cli_env.invoke(cli, ["payouts", "reconcile"])
    assert out.exit_code == 1 and "DIFFERENCE" in out.output and "not-ours" in out.output, out.output
