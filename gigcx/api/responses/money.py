"""Answers about money: reviews, earnings, payouts, reversals, payout accounts, budgets."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from gigcx.api.responses.common import Time


class ReviewResult(BaseModel):
    case_id: int
    verdict: str | None
    note: str | None
    reviewed_at: Time
    reward_cents: int
    currency: str | None
    reward_status: str = Field(description="pending, released, reversed or none")
    clawback: bool = Field(description="this verdict took the pending reward back")
    review_window_ends_at: Time


class Balance(BaseModel):
    pending: int
    available: int
    in_transit: int
    paid: int
    held: int


class EarningLine(BaseModel):
    kind: str = Field(description="reward or rating_bonus")
    key: str
    amount_cents: int


class EarningEntry(BaseModel):
    """The money of one case (its reward and bonuses)."""

    case_id: int
    amount_cents: int
    currency: str
    lines: list[EarningLine]
    credited_at: Time
    status: str = Field(description="pending, held, available, in_transit, paid or reversed")
    available_at: str | None = Field(None, description="when the review window ends")
    hold_reasons: list[Any] | None = Field(None, description="only while the reward is held")
    brand_id: int | None = None
    topic: str | None = None
    resolved_at: Time = None
    review_verdict: str | None = None


class PayoutView(BaseModel):
    id: int
    payout_id: int
    uid: str
    batch_id: int
    expert_id: int
    amount_cents: int
    currency: str
    amount: str = Field(description="formatted in the currency's units")
    status: str
    transfer_id: str | None
    error: str | None
    attention: str | None
    attempt: int
    created_at: Time
    updated_at: Time
    statement_url: str


class Earnings(BaseModel):
    """The contract's earnings (in the main currency), every currency's balances, entries and payouts."""

    currency: str
    pending_cents: int
    available_cents: int
    in_transit_cents: int
    paid_cents: int
    held_cents: int
    balances: dict[str, Balance]
    entries: list[EarningEntry]
    payouts: list[PayoutView]


class RunPayout(BaseModel):
    expert_id: int
    amount_cents: int
    status: str
    payout_id: int
    uid: str
    currency: str
    transfer_id: str | None
    attention: str | None
    statement_url: str
    method: str | None = Field(None, description="`manual` in manual mode")


class RunResult(BaseModel):
    batch_id: int
    mode: str = Field(description="stripe or manual")
    payouts: list[RunPayout]
    recovered: list[RunPayout]


class PayoutList(BaseModel):
    payouts: list[PayoutView]


class BatchPaid(BaseModel):
    batch_id: int
    payouts: list[PayoutView]


class ReversalView(BaseModel):
    id: str
    payout_id: int
    expert_id: int
    amount_cents: int
    currency: str
    amount: str
    decision: str | None = Field(description="repay, write_off, or null while undecided")
    decided_at: Time
    created_at: Time


class ReversalList(BaseModel):
    reversals: list[ReversalView]


class PayoutAccountLink(BaseModel):
    account_id: str | None
    url: str
    expires_at: int = Field(description="Unix time")
    payouts_enabled: bool


class PayoutAccount(BaseModel):
    mode: str = Field(description="stripe or manual")
    account_id: str | None
    payouts_enabled: bool


class FundingResult(BaseModel):
    status: str
    payment_intent_id: str | None
    client_secret: str | None
    amount_cents: int
    amount_received_cents: int | None = Field(None, description="Stripe top-ups only")
    currency: str
    posted: bool = Field(description="this call credited the budget")
    reference: str
    budget_cents: int


class StatementEntry(BaseModel):
    key: str
    kind: str
    case_id: int | None
    expert_id: int | None
    amount_cents: int
    currency: str
    memo: str | None
    created_at: Time


class BrandStatement(BaseModel):
    currency: str
    funded_cents: int
    rewards_cents: int
    bonuses_cents: int
    reversed_cents: int
    spent_cents: int
    budget_cents: int
    owed_cents: int
    exposure_cents: int
    budget_policy: dict[str, Any] | None
    budget_state: str
    entries: list[StatementEntry]


class PlatformFee(BaseModel):
    slug: str
    platform_fee_cents: int
    currency: str
