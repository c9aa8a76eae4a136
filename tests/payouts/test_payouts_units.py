"""Plain unit tests of the pure payouts library."""

from __future__ import annotations

import ast
import csv
import io
import pathlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payouts import (
    MANUAL_MARKER,
    MANUAL_STATUS,
    BudgetPolicy,
    CaseOutcome,
    CurrencyMismatch,
    Entry,
    FastResponseBonus,
    IdempotencyConflict,
    InsufficientFunds,
    Ledger,
    ManualGateway,
    Money,
    PlannedPayout,
    PreconditionFailed,
    RatingBonus,
    RewardRules,
    RuleError,
    Transaction,
    UnbalancedTransaction,
    available_by_expert,
    balances,
    budget_state,
    can_route_case,
    compute_reward,
    credit_reward,
    fund_brand,
    is_over_credit_limit,
    max_case_reward_cents,
    owed_by_brand_cents,
    parse_account,
    plan_payouts,
    release_reward,
    render_statement,
    reverse_reward,
    reward_breakdown,
    start_payout,
    statement_total,
)

PAYOUTS_DIR = pathlib.Path(__file__).resolve().parents[2] / "payouts"
EUR = "eur"


def eur(cents: int) -> Money:
    return Money(cents, EUR)


# ---- money ----------------------------------------------------------------------------------

def test_money_is_integer_cents_and_refuses_mixing() -> None:
    assert eur(150) + eur(50) == eur(200)
    assert Money(1, "EUR").currency == "eur"
    with pytest.raises(CurrencyMismatch):
        eur(1) + Money(1, "usd")
    with pytest.raises(CurrencyMismatch):
        _ = eur(1) < Money(1, "usd")
    with pytest.raises(TypeError):
        Money(1.5, EUR)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money(True, EUR)
    with pytest.raises(ValueError):
        Money(1, "euro")
    assert eur(-1234).format() == "-12.34 eur"
    assert Money.from_dict(eur(5).to_dict()) == eur(5)


# ---- rewards --------------------------------------------------------------------------------

RULES = RewardRules((RatingBonus(bonus_cents=200, min_rating=5),
                     FastResponseBonus(bonus_cents=100, within_seconds=120)))


def test_reward_base_and_bonuses() -> None:
    assert compute_reward(500, EUR, CaseOutcome("resolved")) == eur(500)
    assert compute_reward(500, EUR, CaseOutcome("resolved", rating=5), RULES) == eur(700)
    assert compute_reward(500, EUR, CaseOutcome("resolved", rating=4), RULES) == eur(500)
    assert compute_reward(500, EUR, CaseOutcome("resolved", 5, 30.0), RULES) == eur(800)
    assert compute_reward(500, EUR, CaseOutcome("resolved", None, 121.0), RULES) == eur(500)
    lines = reward_breakdown(500, EUR, CaseOutcome("resolved", 5, 10.0), RULES)
    assert [line.label for line in lines] == ["base", "rating_bonus", "fast_response_bonus"]


@pytest.mark.parametrize("status", ["deflected", "escalated", "unresolved"])
def test_unresolved_outcomes_earn_nothing(status: str) -> None:
    assert compute_reward(500, EUR, CaseOutcome(status, 5, 1.0), RULES) == eur(0)


def test_bonus_cap_and_validation() -> None:
    capped = RewardRules(RULES.rules, max_bonus_cents=250)
    assert compute_reward(500, EUR, CaseOutcome("resolved", 5, 1.0), capped) == eur(750)
    with pytest.raises(RuleError):
        CaseOutcome("lost")
    with pytest.raises(RuleError):
        CaseOutcome("resolved", rating=6)
    with pytest.raises(RuleError):
        RatingBonus(bonus_cents=-1)
    with pytest.raises(RuleError):
        RewardRules.from_dict({"rules": [{"type": "mystery", "bonus_cents": 1}]})
    with pytest.raises(RuleError):
        RewardRules.from_dict({"rules": [{"type": "fast_response_bonus", "bonus_cents": 1}]})


@given(st.lists(st.one_of(
    st.builds(RatingBonus, bonus_cents=st.integers(0, 10**6), min_rating=st.integers(1, 5)),
    st.builds(FastResponseBonus, bonus_cents=st.integers(0, 10**6),
              within_seconds=st.integers(0, 10**5))), max_size=5),
    st.none() | st.integers(0, 10**6))
def test_rules_round_trip_through_json_dict(rules: list, cap: int | None) -> None:
    import json

    original = RewardRules(tuple(rules), cap)
    assert RewardRules.from_dict(json.loads(json.dumps(original.to_dict()))) == original


@given(st.integers(0, 10**7), st.sampled_from(["resolved", "deflected", "escalated", "unresolved"]),
       st.none() | st.integers(1, 5), st.none() | st.floats(0, 10**5))
def test_reward_is_never_negative_and_bounded(base: int, status: str, rating: int | None,
                                              response: float | None) -> None:
    amount = compute_reward(base, EUR, CaseOutcome(status, rating, response), RULES)
    assert 0 <= amount.cents <= max_case_reward_cents(base, RULES)


# ---- ledger ---------------------------------------------------------------------------------

def test_accounts_convention() -> None:
    assert parse_account("expert:7:pending").bucket == "pending"
    for bad in ("expert:7", "expert::pending", "brand:1:pending", "user:1:budget"):
        with pytest.raises(ValueError):
            parse_account(bad)
    with pytest.raises(ValueError):
        credit_reward("c:1", "b", "e", eur(1))


def test_unbalanced_or_malformed_transactions_are_refused() -> None:
    ledger = Ledger()
    bad = Transaction("k", "adjust", (Entry("brand:1:budget", 10, EUR),
                                      Entry("expert:1:pending", -9, EUR)))
    with pytest.raises(UnbalancedTransaction):
        ledger.post(bad)
    mixed = Transaction("k", "adjust", (Entry("brand:1:budget", 10, EUR),
                                        Entry("brand:1:funding", -10, "usd")))
    with pytest.raises(UnbalancedTransaction):
        ledger.post(mixed)
    with pytest.raises(UnbalancedTransaction):
        ledger.post(Transaction("k", "adjust", (Entry("brand:1:budget", 0, EUR),
                                                Entry("brand:1:funding", 0, EUR))))
    with pytest.raises(ValueError):
        fund_brand("b", eur(0), "pi")
    assert ledger.transactions == ()


def test_idempotent_replay_and_conflict() -> None:
    ledger = Ledger()
    tx = fund_brand("b", eur(100), "pi_1")
    assert ledger.post(tx) is True
    assert ledger.post(fund_brand("b", eur(100), "pi_1", memo="other memo")) is False
    with pytest.raises(IdempotencyConflict):
        ledger.post(fund_brand("b", eur(101), "pi_1"))
    assert ledger.balance("brand:b:budget", EUR) == 100


def test_review_window_release_and_reverse() -> None:
    ledger = Ledger([fund_brand("b", eur(1000), "pi"), credit_reward("1", "b", "e", eur(300)),
                     credit_reward("2", "b", "e", eur(200))])
    ledger.post(reverse_reward("1", "b", "e", eur(300)))
    assert ledger.balance("brand:b:budget", EUR) == 800
    ledger.post(release_reward("2", "e", eur(200)))
    with pytest.raises(PreconditionFailed):  # no clawback after release
        ledger.post(reverse_reward("2", "b", "e", eur(200)))
    with pytest.raises(PreconditionFailed):  # cannot release a rejected case
        ledger.post(release_reward("1", "e", eur(300)))
    with pytest.raises(PreconditionFailed):  # cannot release a case never credited
        ledger.post(release_reward("3", "e", eur(1)))
    assert ledger.balance("expert:e:available", EUR) == 200
    assert ledger.balance("expert:e:pending", EUR) == 0


def test_expert_accounts_never_overdrawn_but_budget_may_go_negative() -> None:
    ledger = Ledger([fund_brand("b", eur(100), "pi")])
    ledger.post(credit_reward("1", "b", "e", eur(250)))  # work done: still owed
    assert ledger.balance("brand:b:budget", EUR) == -150
    with pytest.raises(InsufficientFunds):
        ledger.post(start_payout("p", "e", eur(1)))
    assert balances(ledger.entries()) == {**ledger.balances()}


# ---- budget policy --------------------------------------------------------------------------

def test_budget_policy() -> None:
    policy = BudgetPolicy(credit_limit_cents=1000, low_watermark_cents=500)
    assert budget_state(5000, 0, policy) == "funded"
    assert budget_state(600, 200, policy) == "low"
    assert budget_state(100, 300, policy) == "in_credit"
    assert budget_state(-1000, 0, policy) == "exhausted"
    assert can_route_case(0, 0, 1000, policy)
    assert not can_route_case(0, 0, 1001, policy)
    assert not can_route_case(500, 600, 1000, policy)
    assert owed_by_brand_cents(-250) == 250 and owed_by_brand_cents(10) == 0
    assert is_over_credit_limit(-1001, policy) and not is_over_credit_limit(-1000, policy)
    assert BudgetPolicy.from_dict(policy.to_dict()) == policy
    assert budget_state(0, 0, BudgetPolicy()) == "exhausted"
    with pytest.raises(ValueError):
        BudgetPolicy(credit_limit_cents=-1)


# ---- planning, statements, manual mode ------------------------------------------------------

def test_plan_payouts_minimum_and_currencies() -> None:
    available = {"e1": [eur(1000), Money(200, "usd")], "e2": eur(499), "e3": eur(500)}
    plans = plan_payouts(available, 500, "r1")
    assert [(p.expert_id, p.amount) for p in plans] == [("e1", eur(1000)), ("e3", eur(500))]
    assert plans[0].payout_id == "r1-e1-eur"
    per_currency = plan_payouts(available, {"eur": 1000, "usd": 100}, "r2")
    assert [(p.expert_id, p.amount) for p in per_currency] == [("e1", eur(1000)),
                                                              ("e1", Money(200, "usd"))]
    capped = plan_payouts(available, 1, "r3", max_payout_cents=600, eligible=lambda e: e != "e2")
    assert [p.amount.cents for p in capped] == [600, 200, 500]
    assert plan_payouts({"e": eur(0)}, 0, "r4") == []


def test_available_by_expert_from_balances() -> None:
    ledger = Ledger([fund_brand("b", eur(1000), "pi"), credit_reward("1", "b", "e", eur(300)),
                     release_reward("1", "e", eur(300)), credit_reward("2", "b", "f", eur(5))])
    assert available_by_expert(ledger.balances()) == {"e": [eur(300)]}


def test_manual_statement_csv() -> None:
    ledger = Ledger([fund_brand("b", eur(1000), "pi"),
                     credit_reward("1", "b", "e", eur(300), memo="=HYPERLINK(evil)"),
                     release_reward("1", "e", eur(300))])
    plan = PlannedPayout("r1-e-eur", "e", eur(300))
    ledger.post(start_payout(plan.payout_id, "e", plan.amount))
    gateway = ManualGateway()
    manual = gateway.prepare_payout(plan, ledger.transactions, generated_at="2024-01-01")
    assert manual.status == MANUAL_STATUS and manual.amount_cents == 300
    rows = list(csv.reader(io.StringIO(manual.statement_csv)))
    assert ["payment_method", MANUAL_MARKER] in rows
    assert ["payout", "r1-e-eur", "eur", "3.00", MANUAL_MARKER] in rows
    assert ["total", "in_transit", "eur", "3.00"] in rows
    assert any(r and r[-1] == "'=HYPERLINK(evil)" for r in rows)
    assert not any("brand:b" in cell for r in rows for cell in r)
    ledger.post(gateway.confirm_paid(plan, reference="bank-123"))
    assert ledger.balance("expert:e:paid", EUR) == 300
    assert statement_total(ledger.transactions, "e", "paid", EUR) == eur(300)
    assert "stripe" in render_statement("e", ledger.transactions, manual=False)


def test_manual_cancel_returns_money_to_available() -> None:
    ledger = Ledger([fund_brand("b", eur(50), "pi"), credit_reward("1", "b", "e", eur(50)),
                     release_reward("1", "e", eur(50)), start_payout("p", "e", eur(50))])
    ledger.post(ManualGateway().cancel(PlannedPayout("p", "e", eur(50))))
    assert ledger.balance("expert:e:available", EUR) == 50


# ---- purity ---------------------------------------------------------------------------------

FORBIDDEN = {"flask", "sqlmodel", "sqlalchemy", "socketio", "flask_socketio", "gigcx", "matching",
             "stripe", "requests"}


def test_payouts_package_imports_no_framework_or_app_code() -> None:
    files = sorted(PAYOUTS_DIR.glob("*.py"))
    assert files
    for path in files:
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN, f"{path.name} imports {name}"
        assert len(path.read_text().splitlines()) < 400, f"{path.name} is too long"
