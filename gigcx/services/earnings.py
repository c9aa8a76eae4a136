"""Rewards for resolved cases on the payouts ledger: credit, bonuses, review window, reviews.

Every function here runs inside the caller's database transaction and never commits (except
the REST-facing `review`, which commits itself). Money moves only through
`gigcx.services.ledger.post` with the deterministic keys of the `payouts` builders, so a replay
(a retried timer, a repeated request) posts nothing twice.

Keys used per case (see docs/payouts.md):

* `reward:case:{id}`        budget -> pending     base reward (+ fast-response bonus)
* `bonus:case:{id}:rating`  budget -> pending     the rating bonus, only while still pending
* `release:case:{id}`       pending -> available  review window over, or the brand approved
* `reverse:case:{id}`       pending -> budget     the brand rejected inside the window
"""
from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session, select

import payouts
from gigcx.errors import ApiError
from gigcx.events import Outbox
from gigcx.models import Brand, Case, CaseStatus, Offer, Payout, Topic, utcnow
from gigcx.models.base import iso
from gigcx.services import ledger, timers, trust

REVIEW_TIMER = "review_window"
CREDIT_KINDS = ("reward", "bonus")
KIND_BONUS = "bonus"
OPEN_ROUTED = (CaseStatus.active.value, CaseStatus.pending_confirmation.value)


# ---- rules and amounts ------------------------------------------------------------------------

def rules_for(brand: Brand) -> payouts.RewardRules:
    """The brand's bonus rules: the PATCH /brand shape, or a stored RewardRules.to_dict()."""
    data: dict[str, Any] = dict(brand.bonus_rules or {})
    if "rules" in data:
        return payouts.RewardRules.from_dict(data)
    rules: list[Any] = []
    if int(data.get("five_star_cents") or 0) > 0:
        rules.append(payouts.RatingBonus(int(data["five_star_cents"]), min_rating=5))
    if int(data.get("fast_response_cents") or 0) > 0:
        rules.append(payouts.FastResponseBonus(int(data["fast_response_cents"]),
                                               within_seconds=int(data.get("fast_response_s") or 60)))
    cap = data.get("max_bonus_cents")
    return payouts.RewardRules(tuple(rules), max_bonus_cents=None if cap is None else int(cap))


def topic_reward(session: Session, brand_id: int, slug: str | None) -> int:
    """The topic's reward_cents (0 for an unknown or missing topic)."""
    if slug is None:
        return 0
    topic = session.exec(select(Topic).where(Topic.brand_id == brand_id, Topic.slug == slug)).first()
    return topic.reward_cents if topic else 0


def _aware(dt: datetime | None) -> datetime | None:
    if dt is not None and dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt


def first_response_seconds(case: Case) -> float | None:
    """Seconds from the expert's accept (or the question, if unknown) to their first message."""
    start = _aware(case.assigned_at or case.created_at)
    first = _aware(case.first_response_at)
    if start is None or first is None:
        return None
    return max(0.0, (first - start).total_seconds())


def outcome(session: Session, case: Case, rating: int | None = None) -> payouts.CaseOutcome:
    """The case as the reward rules see it: only `resolved` pays."""
    if case.status == CaseStatus.resolved.value and not case.deflected:
        status = "resolved"
    elif case.deflected:
        status = "deflected"
    elif case.status == CaseStatus.escalated.value or case.escalated_at is not None:
        status = "escalated"
    else:
        status = "unresolved"
    return payouts.CaseOutcome(status, rating=rating, first_response_seconds=first_response_seconds(case))


def breakdown(session: Session, case: Case, brand: Brand, rating: int | None = None) -> list[payouts.RewardLine]:
    """Itemised reward of the case for a given rating."""
    return payouts.reward_breakdown(topic_reward(session, brand.id, case.topic), brand.currency,  # type: ignore[arg-type]
                                    outcome(session, case, rating), rules_for(brand))


def credited(session: Session, case_id: int) -> payouts.Money | None:
    """What the case has credited to its expert's pending account so far (None if nothing)."""
    total: payouts.Money | None = None
    for row in ledger.rows(session, case_id=case_id):
        if row.kind not in CREDIT_KINDS:
            continue
        tx = ledger.get(session, row.key)
        assert tx is not None
        for e in tx.entries:
            if e.account.endswith(":pending") and e.cents > 0:
                total = e.money if total is None else total + e.money
    return total


def _posted(session: Session, key: str) -> bool:
    return ledger.get(session, key) is not None


# ---- lifecycle hooks (called by gigcx.services.cases) -------------------------------------------

def credit_resolved_case(session: Session, case: Case) -> None:
    """Credit the topic's reward (plus a fast-response bonus) to the expert as pending.

    Schedules the `review_window` timer that releases it after the brand's `review_window_s`.
    Deflected and escalated cases, and cases without an expert, earn nothing.
    """
    if case.expert_id is None or case.status != CaseStatus.resolved.value or case.deflected:
        return
    brand = session.get(Brand, case.brand_id)
    assert brand is not None
    resolved_at = _aware(case.resolved_at) or utcnow()
    available_at = resolved_at + timedelta(seconds=brand.review_window_s)
    lines = breakdown(session, case, brand)
    total = sum((line.amount for line in lines), payouts.Money.zero(brand.currency))
    case.reward_cents = total.cents
    session.add(case)
    if total.cents > 0:
        tx = payouts.credit_reward(case.id, brand.id, case.expert_id, total,
                                   memo=f"reward for case {case.id} ({case.topic or 'no topic'})")
        meta = {**tx.metadata, "available_at": iso(available_at) or "",
                "lines": ";".join(f"{line.label}={line.amount.cents}" for line in lines)}
        ledger.post(session, dataclasses.replace(tx, metadata=meta))
    timers.schedule(session, REVIEW_TIMER, case.id, available_at)  # type: ignore[arg-type]
    trust.on_credit(session, case)  # may hold the reward for the brand's review (docs/trust.md)


def apply_rating_bonus(session: Session, case: Case, csat: int) -> None:
    """Credit the brand's rating bonus, only while the case's reward is still pending."""
    if case.expert_id is None or case.status != CaseStatus.resolved.value or case.deflected:
        return
    brand = session.get(Brand, case.brand_id)
    assert brand is not None
    ledger.lock(session, ["acct:" + payouts.expert_pending(case.expert_id)])
    if _posted(session, payouts.release_key(case.id)) or _posted(session, payouts.reverse_key(case.id)):
        return  # the review window is over (or the brand rejected): no more bonuses
    lines = breakdown(session, case, brand, rating=csat)
    full = sum((line.amount for line in lines), payouts.Money.zero(brand.currency))
    have = credited(session, case.id)  # type: ignore[arg-type]
    extra = full.cents - (have.cents if have else 0)
    if extra <= 0:
        return
    amount = payouts.Money(extra, have.currency if have else brand.currency)
    if have is None:  # a free topic: the bonus is the whole reward
        tx = payouts.credit_reward(case.id, brand.id, case.expert_id, amount,
                                   memo=f"rating bonus for case {case.id}")
    else:
        tx = payouts.Transaction(
            key=f"bonus:case:{case.id}:rating", kind=KIND_BONUS,
            memo=f"rating bonus for case {case.id} ({csat} stars)",
            metadata={"case_id": str(case.id), "brand_id": str(brand.id),
                      "expert_id": str(case.expert_id), "rating": str(csat)},
            entries=(payouts.Entry(payouts.brand_budget(brand.id), -amount.cents, amount.currency),
                     payouts.Entry(payouts.expert_pending(case.expert_id), amount.cents, amount.currency)))
    ledger.post(session, tx)
    case.reward_cents = full.cents
    session.add(case)


def release_case(session: Session, case_id: int) -> bool:
    """Pending -> available for the case; False when nothing to release or already reversed."""
    case = session.get(Case, case_id)
    if case is None or case.expert_id is None:
        return False
    ledger.lock(session, ["acct:" + payouts.expert_pending(case.expert_id)])
    if _posted(session, payouts.reverse_key(case_id)) or trust.is_held(session, case_id):
        return False
    amount = credited(session, case_id)
    if amount is None or amount.cents <= 0:
        return False
    return ledger.post(session, payouts.release_reward(case_id, case.expert_id, amount))


@timers.handler(REVIEW_TIMER)
def _review_window_over(session: Session, outbox: Outbox, case_id: int) -> None:
    release_case(session, case_id)


# ---- brand review --------------------------------------------------------------------------------

def available_at(session: Session, case: Case) -> datetime:
    """When the case's review window ends (fixed at resolution)."""
    tx = ledger.get(session, payouts.reward_key(case.id))
    stamp = tx.metadata.get("available_at") if tx else None
    if stamp:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    brand = session.get(Brand, case.brand_id)
    base = _aware(case.resolved_at) or utcnow()
    return base + timedelta(seconds=brand.review_window_s if brand else 0)


def reward_status(session: Session, case_id: int) -> str:
    """none, pending, released or reversed."""
    if _posted(session, payouts.reverse_key(case_id)):
        return "reversed"
    if _posted(session, payouts.release_key(case_id)):
        return "released"
    return "pending" if credited(session, case_id) is not None else "none"


def review(session: Session, *, brand_id: int, case_id: int, verdict: str, note: str | None) -> dict[str, Any]:
    """Record the brand's verdict on a resolved case and move the money; commits.

    * reject inside the review window: the pending reward goes back to the brand's budget.
    * reject after it (or after an approve): the verdict is recorded, the money stays.
    * approve: releases the reward at once (the brand waives the rest of its window).
    A second identical verdict is a no-op; a different one is a conflict.
    """
    q = select(Case).where(Case.id == case_id, Case.brand_id == brand_id)
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update()
    case = session.exec(q).first()
    if case is None:
        raise ApiError("not_found", "no such case")
    if case.status != CaseStatus.resolved.value:
        raise ApiError("conflict", f"only resolved cases are reviewed; this one is {case.status}")
    if case.review_verdict is not None:
        if case.review_verdict != verdict:
            raise ApiError("conflict", f"this case was already reviewed: {case.review_verdict}")
        return review_view(session, case, clawback=reward_status(session, case_id) == "reversed")
    clawback = False
    if verdict == "reject" and utcnow() < available_at(session, case) and case.expert_id is not None:
        ledger.lock(session, ["acct:" + payouts.expert_pending(case.expert_id)])
        amount = credited(session, case.id)  # type: ignore[arg-type]
        if amount is not None and not _posted(session, payouts.release_key(case.id)):
            ledger.post(session, payouts.reverse_reward(case.id, case.brand_id, case.expert_id, amount))
            clawback = True
    else:
        release_case(session, case.id)  # type: ignore[arg-type]
    timers.cancel(session, REVIEW_TIMER, case.id)  # type: ignore[arg-type]
    case.review_verdict, case.review_note, case.reviewed_at = verdict, note, utcnow()
    session.add(case)
    from gigcx.services import webhooks

    webhooks.case_event(session, "case.reviewed", case)
    if verdict == "reject":
        from gigcx.services import answers

        answers.reject_for_case(session, case.id)  # type: ignore[arg-type]
    session.commit()
    return review_view(session, case, clawback=clawback)


def review_view(session: Session, case: Case, *, clawback: bool) -> dict[str, Any]:
    """The review answer."""
    amount = credited(session, case.id)  # type: ignore[arg-type]
    assert case.id is not None
    return {"case_id": case.id, "verdict": case.review_verdict, "note": case.review_note,
            "reviewed_at": iso(case.reviewed_at), "reward_cents": amount.cents if amount else 0,
            "currency": amount.currency if amount else None,
            "reward_status": reward_status(session, case.id),
            "clawback": clawback, "review_window_ends_at": iso(available_at(session, case))}


# ---- budget policy (routing-time limit) ----------------------------------------------------------

def policy_for(brand: Brand) -> payouts.BudgetPolicy | None:
    """The brand's budget policy; None means postpaid (never held back)."""
    return None if brand.budget_policy is None else payouts.BudgetPolicy.from_dict(brand.budget_policy)


def exposure_cents(session: Session, brand: Brand, exclude_case: int | None = None) -> int:
    """Worst-case reward of the brand's routed, unfinished cases (offered, active, confirming)."""
    offered = select(Offer.case_id).where(Offer.status == "open")
    q = select(Case).where(Case.brand_id == brand.id,
                           (Case.status.in_(OPEN_ROUTED))  # type: ignore[attr-defined]
                           | ((Case.status == CaseStatus.matching.value) & Case.id.in_(offered)))  # type: ignore[union-attr]
    rules = rules_for(brand)
    total = 0
    for case in session.exec(q):
        if case.id != exclude_case:
            total += payouts.max_case_reward_cents(topic_reward(session, brand.id, case.topic), rules)  # type: ignore[arg-type]
    return total


def budget_cents(session: Session, brand: Brand) -> int:
    """The brand's budget balance in its currency (negative: it owes the platform)."""
    return ledger.balance(session, payouts.brand_budget(brand.id), brand.currency)


def may_route(session: Session, brand: Brand, case: Case) -> bool:
    """Budget-exhaustion policy: may this case be offered to experts now?"""
    policy = policy_for(brand)
    if policy is None:
        return True
    nxt = payouts.max_case_reward_cents(topic_reward(session, brand.id, case.topic), rules_for(brand))  # type: ignore[arg-type]
    return payouts.can_route_case(budget_cents(session, brand),
                                  exposure_cents(session, brand, exclude_case=case.id), nxt, policy)


# ---- views ----------------------------------------------------------------------------------------

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
            money = next(e.money for e in tx.entries if e.account.endswith(":pending"))
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
        "balances": {cur: {k: b.get(k, 0) for k in ("pending", "available", "in_transit", "paid")}
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
    return {"id": p.id, "batch_id": p.batch_id, "expert_id": p.expert_id,
            "amount_cents": p.amount_cents, "currency": p.currency, "status": p.status,
            "transfer_id": p.transfer_id, "error": p.error, "created_at": iso(p.created_at)}


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
