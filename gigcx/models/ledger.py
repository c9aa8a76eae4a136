"""Money: the append-only double-entry ledger, payout batches and processed webhooks."""
from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, Optional

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

import payouts
from gigcx.models.base import json_field, utcnow


class PayoutStatus(StrEnum):
    """Where a payout's money is (docs/payouts.md); in_transit and needs_attention are open."""

    pending = "pending"
    in_transit = "in_transit"
    needs_attention = "needs_attention"
    awaiting_manual_payment = payouts.MANUAL_STATUS
    paid = "paid"
    failed = "failed"
    reversed = "reversed"


class LedgerTransaction(SQLModel, table=True):
    """A balanced set of entries; `key` makes posting idempotent."""

    id: Optional[int] = Field(default=None, primary_key=True)
    key: str = Field(unique=True, index=True, max_length=200)
    kind: str = Field(max_length=32)
    brand_id: Optional[int] = Field(default=None, index=True)
    expert_id: Optional[int] = Field(default=None, index=True)
    case_id: Optional[int] = Field(default=None, index=True)
    memo: str = Field(default="", max_length=500)
    meta: dict[str, Any] = json_field(dict)
    created_at: datetime = Field(default_factory=utcnow)


class LedgerEntry(SQLModel, table=True):
    """One leg of a transaction: a signed amount in cents on a named account."""

    id: Optional[int] = Field(default=None, primary_key=True)
    transaction_id: int = Field(foreign_key="ledgertransaction.id", index=True)
    account: str = Field(index=True, max_length=100)
    amount_cents: int
    currency: str = Field(max_length=3)


class PayoutBatch(SQLModel, table=True):
    """One payout run."""

    id: Optional[int] = Field(default=None, primary_key=True)
    mode: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=utcnow)
    finished_at: Optional[datetime] = None
    paid_at: Optional[datetime] = None  # manual mode: when the operator marked the batch paid
    paid_reference: Optional[str] = Field(default=None, max_length=200)


def new_uid() -> str:
    """A random payout uid: what Stripe sees, so that a restored database never reuses a key."""
    return str(uuid.uuid4())


class Payout(SQLModel, table=True):
    """One expert's payout within a batch; `status` follows the transfer (docs/payouts.md).

    `uid` is random and made with the row: the idempotency key, transfer_group and metadata
    carry it, never the autoincrement id. `attempt` moves the idempotency key on only after
    Stripe definitely answered an attempt and a look-up found no transfer. `attention` says
    why the operator must look (the outcome is unknown) while the money stays in transit.
    """

    id: Optional[int] = Field(default=None, primary_key=True)
    uid: str = Field(default_factory=new_uid, unique=True, max_length=36)
    batch_id: int = Field(foreign_key="payoutbatch.id", index=True)
    expert_id: int = Field(foreign_key="expert.id", index=True)
    amount_cents: int
    currency: str = Field(max_length=3)
    status: str = Field(default=PayoutStatus.pending, max_length=32, index=True)
    attempt: int = 0
    transfer_id: Optional[str] = Field(default=None, max_length=64)
    error: Optional[str] = Field(default=None, max_length=500)
    attention: Optional[str] = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class PayoutReversal(SQLModel, table=True):
    """One reversal of a paid transfer: held until the operator repays or writes it off."""

    id: str = Field(primary_key=True, max_length=100)  # Stripe's trr_ id
    payout_id: int = Field(foreign_key="payout.id", index=True)
    expert_id: int = Field(foreign_key="expert.id", index=True)
    amount_cents: int
    currency: str = Field(max_length=3)
    decision: Optional[str] = Field(default=None, max_length=16)  # repay | write_off
    decided_at: Optional[datetime] = None
    created_at: datetime = Field(default_factory=utcnow)


class Funding(SQLModel, table=True):
    """A brand's top-up: one PaymentIntent per (brand, reference), however often it is retried."""

    __table_args__ = (UniqueConstraint("brand_id", "reference"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    reference: str = Field(max_length=64)
    payment_intent_id: Optional[str] = Field(default=None, index=True, max_length=100)
    amount_cents: int
    currency: str = Field(max_length=3)
    payment_method: Optional[str] = Field(default=None, max_length=200)
    status: str = Field(default="creating", max_length=40)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class WebhookEvent(SQLModel, table=True):
    """A Stripe event already handled (webhooks are delivered at least once)."""

    id: str = Field(primary_key=True, max_length=100)
    type: str = Field(max_length=100)
    created: int
    received_at: datetime = Field(default_factory=utcnow)
