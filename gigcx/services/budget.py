"""The brand's budget: balance, routing-time exposure and policy, and currency changes."""
from __future__ import annotations

from sqlmodel import Session, select

import payouts
from gigcx.errors import ApiError
from gigcx.models import BUSY_STATUSES, Brand, Case, CaseStatus, Offer, OfferStatus
from gigcx.services import ledger
from gigcx.services.rewards import rules_for, topic_reward


def policy_for(brand: Brand) -> payouts.BudgetPolicy | None:
    """The brand's budget policy; None means postpaid (never held back)."""
    return None if brand.budget_policy is None else payouts.BudgetPolicy.from_dict(brand.budget_policy)


def exposure_cents(session: Session, brand: Brand, exclude_case: int | None = None) -> int:
    """Worst-case reward of the brand's routed, unfinished cases (offered, active, confirming)."""
    offered = select(Offer.case_id).where(Offer.status == OfferStatus.open)
    q = select(Case).where(Case.brand_id == brand.id,
                           (Case.status.in_(BUSY_STATUSES))  # type: ignore[attr-defined]
                           | ((Case.status == CaseStatus.matching) & Case.id.in_(offered)))  # type: ignore[union-attr]
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


def check_currency_change(session: Session, brand: Brand, currency: str) -> None:
    """A brand keeps its currency while it holds a budget or owes (409 otherwise)."""
    if currency.lower() == brand.currency.lower():
        return
    held = budget_cents(session, brand)
    if held != 0:
        what = "holds a budget of" if held > 0 else "owes"
        raise ApiError("conflict", f"the brand {what} {payouts.format_minor(abs(held), brand.currency)} "
                       f"{brand.currency}: its currency cannot change until that is settled")
