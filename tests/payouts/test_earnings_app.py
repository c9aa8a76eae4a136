"""Rewards, review window, reviews, earnings, budgets and manual payout runs through the app."""
from __future__ import annotations

import csv
import io
from typing import Any

from money_helpers import (
    ADMIN,
    assert_conserved,
    balances,
    expert,
    expire_review_window,
    fire_due_timers,
    open_case,
    rate,
    resolve,
    resolved_case,
    setup_brand,
)

from tests.conftest import assert_error


def earnings(api: Any, token: str) -> dict[str, Any]:
    r = api.get("/experts/me/earnings", token)
    assert r.status_code == 200, r.json
    return r.json  # type: ignore[no-any-return]


def test_resolved_case_credits_reward_as_pending(app: Any, api: Any) -> None:
    _, brand_id = setup_brand(api, reward=300)
    ex_id, token = expert(api)
    assert earnings(api, token) == {"currency": "usd", "pending_cents": 0, "available_cents": 0,
                                    "in_transit_cents": 0, "paid_cents": 0, "held_cents": 0, "balances": {},
                                    "entries": [], "payouts": []}
    case_id, _ = resolved_case(app, brand_id, ex_id)
    body = earnings(api, token)
    assert (body["pending_cents"], body["available_cents"], body["paid_cents"]) == (300, 0, 0)
    [entry] = body["entries"]
    assert entry["case_id"] == case_id and entry["amount_cents"] == 300
    assert entry["status"] == "pending" and entry["currency"] == "usd" and entry["topic"] == "cards"
    assert balances(app)[(f"brand:{brand_id}:budget", "usd")] == -300  # postpaid: the brand owes it
    assert_conserved(app)


def test_bonuses_fast_response_at_resolution_and_five_stars_later(app: Any, api: Any) -> None:
    _, brand_id = setup_brand(api, reward=300, bonus_rules={
        "five_star_cents": 100, "fast_response_cents": 50, "fast_response_s": 60})
    ex_id, token = expert(api)
    fast, cust = resolved_case(app, brand_id, ex_id, first_response_s=20)
    slow, cust2 = resolved_case(app, brand_id, ex_id, first_response_s=600)
    entries = {e["case_id"]: e for e in earnings(api, token)["entries"]}
    assert entries[fast]["amount_cents"] == 350 and entries[slow]["amount_cents"] == 300
    rate(app, fast, cust, 5)
    rate(app, slow, cust2, 4)
    body = earnings(api, token)
    entries = {e["case_id"]: e for e in body["entries"]}
    assert entries[fast]["amount_cents"] == 450 and entries[slow]["amount_cents"] == 300
    assert [line["kind"] for line in entries[fast]["lines"]] == ["reward", "rating_bonus"]
    assert body["pending_cents"] == 750
    assert_conserved(app)


def test_rating_bonus_only_while_pending(app: Any, api: Any) -> None:
    _, brand_id = setup_brand(api, reward=300, review_window_s=0, bonus_rules={"five_star_cents": 100})
    ex_id, token = expert(api)
    case_id, cust = resolved_case(app, brand_id, ex_id)
    assert fire_due_timers(app) >= 1
    rate(app, case_id, cust, 5)
    body = earnings(api, token)
    assert body["available_cents"] == 300 and body["pending_cents"] == 0


def test_free_topic_with_rating_bonus(app: Any, api: Any) -> None:
    _, brand_id = setup_brand(api, reward=0, bonus_rules={"five_star_cents": 100})
    ex_id, token = expert(api)
    case_id, cust = resolved_case(app, brand_id, ex_id)
    assert earnings(api, token)["entries"] == []
    rate(app, case_id, cust, 5)
    assert earnings(api, token)["pending_cents"] == 100


def test_escalated_and_deflected_cases_earn_nothing(app: Any, api: Any) -> None:
    from gigcx.db import session_scope
    from gigcx.events import Outbox
    from gigcx.models import Case
    from gigcx.services import cases
    from gigcx.services import earnings as earn

    _, brand_id = setup_brand(api, reward=300, bonus_rules={"five_star_cents": 100})
    ex_id, token = expert(api)
    esc, cust = open_case(app, brand_id, ex_id)
    with app.app_context(), session_scope() as s:
        cases.escalate(s, Outbox(), s.get(Case, esc), "needs staff")
        s.commit()
    rate(app, esc, cust, 5)  # a rating of an escalated case is allowed, but pays nothing
    defl, _ = open_case(app, brand_id, None)
    with app.app_context(), session_scope() as s:
        case = s.get(Case, defl)
        case.status, case.deflected, case.expert_id = "resolved", True, ex_id
        earn.credit_resolved_case(s, case)  # even if called, a deflected case pays nothing
        s.commit()
    assert earnings(api, token)["entries"] == []
    assert balances(app) == {}


def test_review_window_timer_releases_to_available(app: Any, api: Any) -> None:
    key, brand_id = setup_brand(api, reward=300)
    ex_id, token = expert(api)
    case_id, _ = resolved_case(app, brand_id, ex_id)
    assert fire_due_timers(app) == 0  # 3 days by default
    assert earnings(api, token)["pending_cents"] == 300
    expire_review_window(app, case_id)
    assert fire_due_timers(app) == 1
    body = earnings(api, token)
    assert (body["pending_cents"], body["available_cents"]) == (0, 300)
    assert body["entries"][0]["status"] == "available"
    assert fire_due_timers(app) == 0
    # After the window a reject is recorded but takes nothing back.
    r = api.post(f"/cases/{case_id}/review", key, json={"verdict": "reject", "note": "meh"})
    assert r.status_code == 200, r.json
    assert r.json["clawback"] is False and r.json["reward_status"] == "released"
    assert r.json["verdict"] == "reject" and r.json["note"] == "meh"
    assert earnings(api, token)["available_cents"] == 300
    assert_conserved(app)


def test_reject_inside_window_reverses_pending_reward(app: Any, api: Any) -> None:
    key, brand_id = setup_brand(api, reward=300, bonus_rules={"five_star_cents": 100})
    ex_id, token = expert(api)
    case_id, cust = resolved_case(app, brand_id, ex_id)
    rate(app, case_id, cust, 5)
    r = api.post(f"/cases/{case_id}/review", key, json={"verdict": "reject"})
    assert r.status_code == 200, r.json
    assert r.json["clawback"] is True and r.json["reward_status"] == "reversed"
    assert r.json["reward_cents"] == 400
    body = earnings(api, token)
    assert body["pending_cents"] == 0 and body["entries"][0]["status"] == "reversed"
    assert balances(app) == {}  # all 400 went back to the brand's budget
    # Same verdict again: no-op; the other verdict: conflict; the timer later does nothing.
    again = api.post(f"/cases/{case_id}/review", key, json={"verdict": "reject"})
    assert again.status_code == 200 and again.json["reward_status"] == "reversed"
    assert_error(api.post(f"/cases/{case_id}/review", key, json={"verdict": "approve"}), 409, "conflict")
    expire_review_window(app, case_id)
    fire_due_timers(app)
    assert earnings(api, token)["available_cents"] == 0


def test_reject_after_window_but_before_timer_fired_does_not_claw_back(app: Any, api: Any) -> None:
    key, brand_id = setup_brand(api, reward=300)
    ex_id, token = expert(api)
    case_id, _ = resolved_case(app, brand_id, ex_id)
    expire_review_window(app, case_id)  # the window is over; the timer has not run yet
    r = api.post(f"/cases/{case_id}/review", key, json={"verdict": "reject"})
    assert r.json["clawback"] is False and r.json["reward_status"] == "released"
    assert earnings(api, token)["available_cents"] == 300
    fire_due_timers(app)
    assert earnings(api, token)["available_cents"] == 300


def test_approve_releases_early(app: Any, api: Any) -> None:
    key, brand_id = setup_brand(api, reward=300)
    ex_id, token = expert(api)
    case_id, _ = resolved_case(app, brand_id, ex_id)
    r = api.post(f"/cases/{case_id}/review", key, json={"verdict": "approve"})
    assert r.status_code == 200 and r.json["reward_status"] == "released"
    assert earnings(api, token)["available_cents"] == 300


def test_review_auth_and_validation(app: Any, api: Any) -> None:
    key, brand_id = setup_brand(api, reward=300)
    other_key, _ = setup_brand(api, slug="other")
    ex_id, token = expert(api)
    case_id, _ = resolved_case(app, brand_id, ex_id)
    open_id, _ = open_case(app, brand_id, ex_id)
    assert_error(api.post(f"/cases/{case_id}/review", json={"verdict": "reject"}), 401, "unauthorized")
    assert_error(api.post(f"/cases/{case_id}/review", token, json={"verdict": "reject"}), 403, "forbidden")
    assert_error(api.post(f"/cases/{case_id}/review", other_key, json={"verdict": "reject"}), 404, "not_found")
    assert_error(api.post(f"/cases/{case_id}/review", key, json={"verdict": "maybe"}), 422, "invalid")
    assert_error(api.post(f"/cases/{open_id}/review", key, json={"verdict": "reject"}), 409, "conflict")
    assert_error(api.post("/cases/99999/review", key, json={"verdict": "reject"}), 404, "not_found")


def test_earnings_auth_and_own_data_only(app: Any, api: Any) -> None:
    key, brand_id = setup_brand(api, reward=300)
    a_id, a_token = expert(api, "a")
    b_id, b_token = expert(api, "b")
    resolved_case(app, brand_id, a_id)
    assert_error(api.get("/experts/me/earnings"), 401, "unauthorized")
    assert_error(api.get("/experts/me/earnings", key), 403, "forbidden")
    assert_error(api.get("/experts/me/earnings", ADMIN), 403, "forbidden")
    assert earnings(api, a_token)["pending_cents"] == 300
    assert earnings(api, b_token)["pending_cents"] == 0 and earnings(api, b_token)["entries"] == []


def test_manual_payout_run_awaits_manual_payment_until_marked_paid(app: Any, api: Any, settings: Any) -> None:
    key, brand_id = setup_brand(api, reward=300, review_window_s=0)
    a_id, a_token = expert(api, "a")
    b_id, b_token = expert(api, "b")
    for _ in range(2):
        resolved_case(app, brand_id, a_id)
    resolved_case(app, brand_id, b_id)
    small_id, small_token = expert(api, "small")
    fire_due_timers(app)
    assert_error(api.post("/payouts/run"), 401, "unauthorized")
    assert_error(api.post("/payouts/run", key), 403, "forbidden")
    assert_error(api.post("/payouts/run", a_token), 403, "forbidden")
    r = api.post("/payouts/run", ADMIN)
    assert r.status_code == 200, r.json
    assert r.json["mode"] == "manual" and isinstance(r.json["batch_id"], int)
    got = {p["expert_id"]: p for p in r.json["payouts"]}
    assert {k: (v["amount_cents"], v["status"]) for k, v in got.items()} == {
        a_id: (600, "awaiting_manual_payment"), b_id: (300, "awaiting_manual_payment")}
    # Nothing is paid until the operator says so: the money is in transit.
    body = earnings(api, a_token)
    assert (body["paid_cents"], body["in_transit_cents"], body["available_cents"]) == (0, 600, 0)
    assert [p["statement_url"] for p in body["payouts"]] == [got[a_id]["statement_url"]]
    statement = api.get(got[a_id]["statement_url"].removeprefix("/api/v1"), a_token)
    assert statement.status_code == 200 and statement.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(statement.get_data(as_text=True))))
    assert ["payment_method", "MANUAL PAYMENT"] in rows
    assert rows[1][0] == "payee" and rows[1][1] == "a" and rows[1][2].startswith("a-")
    assert any(r[:1] == ["payout"] and r[3] == "6.00" for r in rows)
    assert ["total", "in_transit", "usd", "6.00"] in rows
    # The run wrote every statement into the instance folder.
    from pathlib import Path
    written = sorted(p.name for p in (Path(settings.statements_dir) / f"batch-{r.json['batch_id']}").iterdir())
    assert written == sorted(f"payout-{p['payout_id']}-expert-{p['expert_id']}.csv" for p in got.values())
    # The operator paid by hand and marks the batch paid (twice: the same answer).
    assert_error(api.post(f"/payouts/batches/{r.json['batch_id']}/mark-paid", a_token, json={}), 403, "forbidden")
    assert_error(api.post("/payouts/batches/999/mark-paid", ADMIN, json={}), 404, "not_found")
    for _ in range(2):
        marked = api.post(f"/payouts/batches/{r.json['batch_id']}/mark-paid", ADMIN, json={"reference": "bank-7"})
        assert marked.status_code == 200, marked.json
        assert {p["status"] for p in marked.json["payouts"]} == {"paid"}
    assert earnings(api, a_token)["paid_cents"] == 600
    assert [e["status"] for e in earnings(api, a_token)["entries"]] == ["paid", "paid"]
    assert_error(api.get(got[a_id]["statement_url"].removeprefix("/api/v1"), b_token), 404, "not_found")
    assert api.get(got[a_id]["statement_url"].removeprefix("/api/v1"), ADMIN).status_code == 200
    # Nothing left: a second run pays nothing.
    again = api.post("/payouts/run", ADMIN)
    assert again.json["payouts"] == [] and again.json["batch_id"] != r.json["batch_id"]
    assert_conserved(app)


def test_payout_minimum(app: Any, api: Any) -> None:
    key, brand_id = setup_brand(api, reward=50, review_window_s=0)
    a_id, a_token = expert(api, "a")
    resolved_case(app, brand_id, a_id)
    fire_due_timers(app)
    assert api.post("/payouts/run", ADMIN).json["payouts"] == []  # 50 < default minimum 100
    resolved_case(app, brand_id, a_id)
    fire_due_timers(app)
    assert [p["amount_cents"] for p in api.post("/payouts/run", ADMIN).json["payouts"]] == [100]


def test_recorded_funding_and_brand_statement(app: Any, api: Any) -> None:
    key, brand_id = setup_brand(api, reward=300)
    ex_id, _ = expert(api)
    # Without Stripe a brand cannot fund itself: only the operator records a top-up.
    assert_error(api.post("/brand/funding", key, json={"amount_cents": 1000, "reference": "inv-1"}), 409, "conflict")
    assert_error(api.post("/brands/acme/funding", key, json={"amount_cents": 1000, "reference": "inv-1"}),
                 403, "forbidden")
    r = api.post("/brands/acme/funding", ADMIN, json={"amount_cents": 1000, "reference": "inv-1"})
    assert r.status_code == 201, r.json
    assert r.json["status"] == "recorded" and r.json["budget_cents"] == 1000
    again = api.post("/brands/acme/funding", ADMIN, json={"amount_cents": 1000, "reference": "inv-1"})
    assert again.json["budget_cents"] == 1000  # same reference: recorded once
    reused = api.post("/brands/acme/funding", ADMIN, json={"amount_cents": 2000, "reference": "inv-1"})
    assert_error(reused, 409, "conflict")  # schemathesis found this answering 500
    assert api.get("/brand/statement", key).json["funded_cents"] == 1000
    case_id, _ = resolved_case(app, brand_id, ex_id)
    api.post(f"/cases/{case_id}/review", key, json={"verdict": "reject"})
    resolved_case(app, brand_id, ex_id)
    st = api.get("/brand/statement", key).json
    assert (st["funded_cents"], st["rewards_cents"], st["reversed_cents"], st["spent_cents"]) == (1000, 600, 300, 300)
    assert st["budget_cents"] == 700 and st["owed_cents"] == 0 and st["budget_state"] == "postpaid"
    assert [e["kind"] for e in st["entries"]] == ["fund", "reward", "reverse", "reward"]
    assert_error(api.get("/brand/statement", ADMIN), 403, "forbidden")
    assert_conserved(app)


def test_budget_exhaustion_holds_routing_but_rewards_stay_owed(app: Any, api: Any) -> None:
    """Policy: a resolved case is always paid; a prepaid brand without headroom gets no new routing."""
    from gigcx.db import session_scope
    from gigcx.models import Brand, Case
    from gigcx.services import earnings as earn

    key, brand_id = setup_brand(api, reward=300)
    ex_id, token = expert(api)
    r = api.put("/brands/acme/budget-policy", ADMIN, json={"credit_limit_cents": 0})
    assert r.status_code == 200, r.json
    assert r.json["budget_state"] == "exhausted"
    assert_error(api.put("/brands/acme/budget-policy", key, json={}), 403, "forbidden")
    waiting, _ = open_case(app, brand_id, None)

    def may_route() -> bool:
        with app.app_context(), session_scope() as s:
            return earn.may_route(s, s.get(Brand, brand_id), s.get(Case, waiting))

    assert may_route() is False
    api.post("/brands/acme/funding", ADMIN, json={"amount_cents": 500, "reference": "t1"})
    assert may_route() is True
    active, _ = open_case(app, brand_id, ex_id)  # 300 of exposure now: 200 headroom left
    assert may_route() is False
    # The active case resolves: paid in full even though only 200 was uncommitted.
    resolve(app, active)
    other, _ = resolved_case(app, brand_id, ex_id)  # was routed before the policy: still owed
    assert earnings(api, token)["pending_cents"] == 600
    st = api.get("/brand/statement", key).json
    assert st["budget_cents"] == -100 and st["owed_cents"] == 100 and st["budget_state"] == "exhausted"
    api.post("/brands/acme/funding", ADMIN, json={"amount_cents": 1000, "reference": "t2"})
    assert api.get("/brand/statement", key).json["budget_cents"] == 900  # the debt was paid first
    assert may_route() is True
    assert api.delete("/brands/acme/budget-policy", ADMIN).json["budget_state"] == "postpaid"
    assert_conserved(app)


def test_payout_account_needs_stripe(app: Any, api: Any) -> None:
    _, token = expert(api)
    assert_error(api.post("/experts/me/payout-account", token, json={}), 409, "conflict")
    assert api.get("/experts/me/payout-account", token).json["mode"] == "manual"
    assert_error(api.post("/payouts/retry", ADMIN), 409, "conflict")


def test_cli_manual_run_writes_statements(app: Any, api: Any, settings: Any, tmp_path: Any,
                                          monkeypatch: Any) -> None:
    import json

    from click.testing import CliRunner

    from gigcx.cli import cli

    _, brand_id = setup_brand(api, reward=300, review_window_s=0)
    a_id, _ = expert(api, "a")
    resolved_case(app, brand_id, a_id)
    fire_due_timers(app)
    for name in ("STRIPE_API_KEY", "STRIPE_API_BASE", "STRIPE_WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GIGCX_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("GIGCX_INSTANCE_PATH", settings.instance_path)
    out = tmp_path / "statements"
    result = CliRunner().invoke(cli, ["payouts", "run", "--statements-dir", str(out)])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output[result.output.index("{"):])
    assert body["mode"] == "manual" and [p["amount_cents"] for p in body["payouts"]] == [300]
    [csv_file] = list((out / f"batch-{body['batch_id']}").iterdir())
    assert "MANUAL PAYMENT" in csv_file.read_text()
    assert body["statements"] == [str(csv_file)]
    # The operator marks the batch paid from the command line, and lists what is open.
    result = CliRunner().invoke(cli, ["payouts", "mark-paid", str(body["batch_id"])])
    assert result.exit_code == 0 and "paid" in result.output, result.output
    result = CliRunner().invoke(cli, ["payouts", "list", "--attention"])
    assert result.exit_code == 0 and "0 payout(s)" in result.output, result.output
