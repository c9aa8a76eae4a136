"""Rewards for resolved cases on the payouts ledger: rules, credit, bonuses, the review window.

Every function here runs inside the caller's database transaction and never commits. Money
moves only through `gigcx.services.ledger.post` with the deterministic keys of the `payouts`
builders, so a replay (a retried timer, a repeated request) posts nothing twice.

Keys used per case (see docs/payouts.md):

* `reward:case:{id}`        budget -> pending     base reward (+ fast-response bonus)
* `bonus:case:{id}:rating`  budget -> pending     the rating bonus, only while still pending
* `fee:case:{id}`           budget -> revenue     the platform's fee (brand.platform_fee_cents)
* `release:case:{id}`       pending -> available  review window over, or the brand approved

`credit_resolved_case` is the single place a case's reward is credited: a hold on rewards
(for example a fraud check) hooks in there, before `ledger.post`.
"""
from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam
from sqlmodel import Session, select

import payouts
from gigcx.events import Outbox
from gigcx.models import Brand, Case, CaseStatus, TimerKind, Topic, utcnow
from gigcx.models.base import iso, table_of
from gigcx.services import ledger, timers, trust

REVIEW_TIMER = TimerKind.review_window
CREDIT_KINDS = ("reward", "bonus")
KIND_BONUS = "bonus"


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


_TOPIC = table_of(Topic)
_TOPIC_REWARD = (select(_TOPIC.c.reward_cents)
                 .where(_TOPIC.c.brand_id == bindparam("b_brand"), _TOPIC.c.slug == bindparam("b_slug")).limit(1))


def topic_reward(session: Session, brand_id: int, slug: str | None) -> int:
    """The topic's reward_cents (0 for an unknown or missing topic)."""
    if slug is None:
        return 0
    cents = session.connection().execute(_TOPIC_REWARD, {"b_brand": brand_id, "b_slug": slug}).scalar()
    return int(cents) if cents is not None else 0


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
    if case.status == CaseStatus.resolved and not case.deflected:
        status = "resolved"
    elif case.deflected:
        status = "deflected"
    elif case.status == CaseStatus.escalated or case.escalated_at is not None:
        status = "escalated"
    else:
        status = "unresolved"
    return payouts.CaseOutcome(status, rating=rating, first_response_seconds=first_response_seconds(case))


def breakdown(session: Session, case: Case, brand: Brand, rating: int | None = None) -> list[payouts.RewardLine]:
    """Itemised reward of the case for a given rating."""
    assert brand.id is not None  # a stored row
    return payouts.reward_breakdown(topic_reward(session, brand.id, case.topic), brand.currency,
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
            if payouts.bucket_of(e.account) == "pending" and e.cents > 0:
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
    if case.expert_id is None or case.status != CaseStatus.resolved or case.deflected:
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
        txs = [dataclasses.replace(tx, metadata=meta)]
        if brand.platform_fee_cents > 0:  # the platform's own fee, on top of the reward
            txs.append(payouts.platform_fee(case.id, brand.id, payouts.Money(brand.platform_fee_cents, brand.currency)))
        ledger.post_many(session, txs)  # the two posts' locks and key lookups in one statement each
    assert case.id is not None  # a stored row
    timers.schedule(session, REVIEW_TIMER, case.id, available_at)
    trust.on_credit(session, case)  # may hold the reward for the brand's review (docs/trust.md)


def apply_rating_bonus(session: Session, case: Case, csat: int) -> None:
    """Credit the brand's rating bonus, only while the case's reward is still pending."""
    if case.expert_id is None or case.status != CaseStatus.resolved or case.deflected:
        return
    brand = session.get(Brand, case.brand_id)
    assert brand is not None
    ledger.lock(session, ["acct:" + payouts.expert_pending(case.expert_id)])
    if _posted(session, payouts.release_key(case.id)) or _posted(session, payouts.reverse_key(case.id)):
        return  # the review window is over (or the brand rejected): no more bonuses
    lines = breakdown(session, case, brand, rating=csat)
    full = sum((line.amount for line in lines), payouts.Money.zero(brand.currency))
    assert case.id is not None  # a stored row
    have = credited(session, case.id)
    extra = full.cents - (have.cents if have else 0)
    if extra <= 0:
        return
    amount = payouts.Money(extra, have.currency if have else brand.currency)
    if have is None:  # a free topic: the bonus is the whole reward
        tx = payouts.credit_reward(case.id, brand.id, case.expert_id, amount,
                                   memo=f"rating bonus for case {case.id}")
    else:
        tx = payouts.Transaction(
            key=payouts.bonus_key(case.id), kind=KIND_BONUS,
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


def review_window_over(session: Session, outbox: Outbox, case_id: int) -> None:
    release_case(session, case_id)
