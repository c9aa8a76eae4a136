"""Read models of the money: an expert's earnings and a brand's statement."""
from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

import payouts
from gigcx.models import Brand, Case, Payout
from gigcx.models.base import iso
from gigcx.services import ledger, trust
from gigcx.services.budget import budget_cents, exposure_cents, policy_for
from gigcx.services.rewards import CREDIT_KINDS, KIND_BONUS


def earnings_view(session: Session, expert_id: int) -> dict[str, Any]:
    """The contract's `GET /experts/me/earnings` body, with per-case entries and payouts."""
    bal = ledger.owner_balances(session, "expert", expert_id)
    rows = ledger.rows(session, expert_id=expert_id)
    cases: dict[int, dict[str, Any]] = {}
    released: list[int] = []
    reversed_: set[int] = set()
    for row in rows:
        if row.case_id is None:
            continue
        if row.kind in CREDIT_KINDS:
            tx = ledger.get(session, row.key)
            assert tx is not None
            money = next(e.money for e in tx.entries if payouts.bucket_of(e.account) == "pending")
            entry = cases.setdefault(row.case_id, {"case_id": row.case_id, "amount_cents": 0,
                                                   "currency": money.currency, "lines": [],
                                                   "credited_at": iso(row.created_at)})
            entry["amount_cents"] += money.cents
            label = "rating_bonus" if row.kind == KIND_BONUS else "reward"
            entry["lines"].append({"kind": label, "key": row.key, "amount_cents": money.cents})
            if row.kind == "reward" and row.meta.get("available_at"):
                entry["available_at"] = row.meta["available_at"]
        elif row.kind == "release":
            released.append(row.case_id)
        elif row.kind == "reverse":
            reversed_.add(row.case_id)
    # Released rewards are paid out oldest first: allocate paid, then in-transit money to them.
    pools = {cur: [b.get("paid", 0), b.get("in_transit", 0)] for cur, b in bal.items()}
    held = trust.holds_of(session, list(cases))
    for case_id, entry in cases.items():
        entry["status"] = "reversed" if case_id in reversed_ else "held" if case_id in held else "pending"
        if case_id in held:
            entry["hold_reasons"] = held[case_id]
    for case_id in released:
        if case_id not in cases:
            continue
        entry = cases[case_id]
        pool = pools.setdefault(entry["currency"], [0, 0])
        need = entry["amount_cents"]
        if pool[0] >= need:
            pool[0] -= need
            entry["status"] = "paid"
        elif pool[0] + pool[1] >= need:
            pool[1] -= need - pool[0]
            pool[0] = 0
            entry["status"] = "in_transit"
        else:
            entry["status"] = "available"
    meta = {c.id: c for c in session.exec(select(Case).where(Case.id.in_(list(cases))))}  # type: ignore[union-attr]
    for case_id, entry in cases.items():
        c = meta.get(case_id)
        if c is not None:
            entry.update(brand_id=c.brand_id, topic=c.topic, resolved_at=iso(c.resolved_at),
                         review_verdict=c.review_verdict)
    currency = _main_currency(bal, cases)
    main = bal.get(currency, {})
    payouts_rows = session.exec(select(Payout).where(Payout.expert_id == expert_id)
                                .order_by(Payout.id.desc())).all()  # type: ignore[union-attr]
    return {
        "currency": currency,
        "pending_cents": main.get("pending", 0),
        "available_cents": main.get("available", 0),
        "in_transit_cents": main.get("in_transit", 0),
        "paid_cents": main.get("paid", 0),
        "held_cents": main.get("held", 0),
        "balances": {cur: {k: b.get(k, 0) for k in ("pending", "available", "in_transit", "paid", "held")}
                     for cur, b in sorted(bal.items())},
        "entries": sorted(cases.values(), key=lambda e: e["case_id"], reverse=True),
        "payouts": [payout_view(p) for p in payouts_rows],
    }


def _main_currency(bal: dict[str, dict[str, int]], cases: dict[int, dict[str, Any]]) -> str:
    if cases:
        return str(cases[max(cases)]["currency"])
    if bal:
        return sorted(bal)[0]
    return "usd"


def payout_view(p: Payout) -> dict[str, Any]:
    """A payout row as the API shows it."""
    from gigcx.services.payouts import payout_view as view

    return view(p)


def brand_statement(session: Session, brand: Brand) -> dict[str, Any]:
    """The brand's spend: funding, rewards, reversals, budget, debt and routing state."""
    rows = ledger.rows(session, brand_id=brand.id)
    totals = {"funded_cents": 0, "rewards_cents": 0, "bonuses_cents": 0, "reversed_cents": 0}
    entries = []
    for row in rows:
        tx = ledger.get(session, row.key)
        assert tx is not None
        budget = sum(e.cents for e in tx.entries if e.account == payouts.brand_budget(brand.id))
        if budget == 0:
            continue
        field = {"fund": "funded_cents", "reward": "rewards_cents", "bonus": "bonuses_cents",
                 "reverse": "reversed_cents"}.get(row.kind)
        if field:
            totals[field] += abs(budget)
        currency = next(e.currency for e in tx.entries)
        entries.append({"key": row.key, "kind": row.kind, "case_id": row.case_id,
                        "expert_id": row.expert_id, "amount_cents": budget, "currency": currency,
                        "memo": row.memo, "created_at": iso(row.created_at)})
    budget = budget_cents(session, brand)
    exposure = exposure_cents(session, brand)
    policy = policy_for(brand)
    out: dict[str, Any] = {
        "currency": brand.currency, **totals,
        "spent_cents": totals["rewards_cents"] + totals["bonuses_cents"] - totals["reversed_cents"],
        "budget_cents": budget, "owed_cents": payouts.owed_by_brand_cents(budget),
        "exposure_cents": exposure,
        "budget_policy": policy.to_dict() if policy else None,
        "budget_state": payouts.budget_state(budget, exposure, policy) if policy else "postpaid",
        "entries": entries,
    }
    return out
