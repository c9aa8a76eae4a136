"""Money: the append-only double-entry ledger, payout batches and processed webhooks."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from sqlmodel import Field, SQLModel

from gigcx.models.base import json_field, utcnow


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


class Payout(SQLModel, table=True):
    """One expert's payout within a batch; `status` follows the transfer."""

    id: Optional[int] = Field(default=None, primary_key=True)
    batch_id: int = Field(foreign_key="payoutbatch.id", index=True)
    expert_id: int = Field(foreign_key="expert.id", index=True)
    amount_cents: int
    currency: str = Field(max_length=3)
    status: str = Field(default="pending", max_length=16)
    transfer_id: Optional[str] = Field(default=None, max_length=64)
    error: Optional[str] = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class WebhookEvent(SQLModel, table=True):
    """A Stripe event already handled (webhooks are delivered at least once)."""

    id: str = Field(primary_key=True, max_length=100)
    type: str = Field(max_length=100)
    created: int
    received_at: datetime = Field(default_factory=utcnow)
