"""Conversations: customers, cases, messages, offers, ratings, timers and expert presence."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Optional

from sqlmodel import Field, Index, SQLModel, UniqueConstraint

from gigcx.models.base import json_field, utcnow


class CaseStatus(StrEnum):
    """The contract's case statuses (stored and sent as these exact strings)."""

    matching = "matching"
    active = "active"
    pending_confirmation = "pending_confirmation"
    resolved = "resolved"
    escalated = "escalated"
    closed = "closed"


#: An expert is working on the case: it counts against their max_cases and the brand's budget.
BUSY_STATUSES = (CaseStatus.active, CaseStatus.pending_confirmation)
#: The case is not finished yet (still waiting for an expert, or being worked on).
OPEN_STATUSES = (CaseStatus.matching, *BUSY_STATUSES)


class OfferStatus(StrEnum):
    """An offer is open until the expert answers, it expires, or the case goes elsewhere."""

    open = "open"
    accepted = "accepted"
    declined = "declined"
    expired = "expired"
    withdrawn = "withdrawn"


class AnswerStatus(StrEnum):
    """A reusable answer's review state (see ReusableAnswer)."""

    pending = "pending"
    approved = "approved"
    rejected = "rejected"


class Sender(StrEnum):
    """Who wrote a message."""

    customer = "customer"
    expert = "expert"
    staff = "staff"
    system = "system"


class TimerKind(StrEnum):
    """What a persisted timer does when it fires."""

    offer_expiry = "offer_expiry"
    case_escalate = "case_escalate"
    confirm_window = "confirm_window"
    review_window = "review_window"


class Customer(SQLModel, table=True):
    """An end customer of a brand, known by the token kept in their browser, and by the brand's
    user id when the brand signs it (one verified identity across devices)."""

    __table_args__ = (UniqueConstraint("brand_id", "external_id", name="uq_customer_brand_external_id"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    token_hash: str = Field(unique=True, index=True, max_length=64)
    language: Optional[str] = Field(default=None, max_length=16)
    created_at: datetime = Field(default_factory=utcnow)
    external_id: Optional[str] = Field(default=None, max_length=200)
    # set when the customer's data was erased on request or by the brand's retention period
    anonymised_at: Optional[datetime] = None


class Case(SQLModel, table=True):
    """One customer question and everything that happened to it."""

    __tablename__ = "support_case"
    __table_args__ = (
        UniqueConstraint("customer_id", "client_id"),
        Index("ix_case_brand_created", "brand_id", "created_at"),
        Index("ix_case_brand_status", "brand_id", "status"),
        Index("ix_case_expert_status", "expert_id", "status"),  # experts' current load, on every ask
        Index("ix_case_status_created", "status", "created_at"),  # the queue (dispatch.waiting_cases)
        Index("ix_case_expert_recent", "expert_id", "id"),  # an expert's newest cases (ranking stats)
        # a customer's recent resolved cases with one expert (trust: repeat pairs, each resolution)
        Index("ix_case_customer_expert", "customer_id", "expert_id", "status", "resolved_at"),
    )
    id: Optional[int] = Field(default=None, primary_key=True)
    brand_id: int = Field(foreign_key="brand.id")
    # no index of its own: (customer_id, client_id) and ix_case_customer_expert lead with it
    customer_id: int = Field(foreign_key="customer.id")
    client_id: str = Field(max_length=100)
    question: str = Field(max_length=4000)
    language: str = Field(default="en", max_length=16)
    topic: Optional[str] = Field(default=None, max_length=64)
    topic_confidence: Optional[float] = None
    status: str = Field(default=CaseStatus.matching, max_length=24)
    # no index of its own: ix_case_expert_status and ix_case_expert_recent lead with it
    expert_id: Optional[int] = Field(default=None, foreign_key="expert.id")
    offer_round: int = 0
    last_seq: int = 0
    # bumped with every change a `case` event announces: clients keep the snapshot with the highest
    rev: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    deflected: bool = False
    escalation_reason: Optional[str] = Field(default=None, max_length=4000)
    routing: dict[str, Any] = json_field(dict)
    suggestions: list[dict[str, Any]] = json_field(list)
    created_at: datetime = Field(default_factory=utcnow)
    assigned_at: Optional[datetime] = None
    first_response_at: Optional[datetime] = None
    proposed_at: Optional[datetime] = None
    resolved_at: Optional[datetime] = None
    resolved_by: Optional[str] = Field(default=None, max_length=16)  # customer, silence
    escalated_at: Optional[datetime] = None
    closed_at: Optional[datetime] = None
    reward_cents: int = 0
    review_verdict: Optional[str] = Field(default=None, max_length=16)
    review_note: Optional[str] = Field(default=None, max_length=4000)
    reviewed_at: Optional[datetime] = None
    # when the conversation's text was redacted (retention period or the customer's erasure)
    redacted_at: Optional[datetime] = None


class ReusableAnswer(SQLModel, table=True):
    """A resolved case's answer, scrubbed of personal data, that may be suggested to others.

    `question` is the asker's question scrubbed the same way: it is what new questions are
    matched against and is never shown to anyone but the brand. `status` is `pending` (not
    reviewed: reused at once under the brand's `auto` setting), `approved` (reused under `auto`
    and `curated`) or `rejected` (never reused)."""

    __table_args__ = (Index("ix_reusableanswer_brand_status", "brand_id", "status"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    brand_id: int = Field(foreign_key="brand.id")
    case_id: int = Field(foreign_key="support_case.id", unique=True)
    topic: Optional[str] = Field(default=None, max_length=64)
    question: str = Field(max_length=4000)
    answer: str = Field(max_length=4000)
    scrubbed: str = Field(max_length=4000)  # the answer as scrubbing left it, before any edit
    status: str = Field(default=AnswerStatus.pending, max_length=16)
    created_at: datetime = Field(default_factory=utcnow)
    decided_at: Optional[datetime] = None
    decided_by: Optional[str] = Field(default=None, max_length=100)


class Message(SQLModel, table=True):
    """A stored chat message; `seq` counts 1, 2, 3... per case with no gaps."""

    __table_args__ = (
        UniqueConstraint("case_id", "seq"),
        # a resent client_id is recognised per sender (two staff members may pick the same one)
        UniqueConstraint("case_id", "sender", "sender_id", "client_id", name="uq_message_sender_client"),
    )
    id: Optional[int] = Field(default=None, primary_key=True)
    # no index of its own: (case_id, seq) leads with it
    case_id: int = Field(foreign_key="support_case.id")
    seq: int
    sender: str = Field(max_length=16)
    sender_id: Optional[int] = None
    client_id: Optional[str] = Field(default=None, max_length=100)
    text: str = Field(max_length=4000)
    sent_at: datetime = Field(default_factory=utcnow)


class Offer(SQLModel, table=True):
    """A time-limited offer of a case to one expert, with the reasons it was made."""

    __table_args__ = (Index("ix_offer_expert_status", "expert_id", "status"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="support_case.id", index=True)
    expert_id: int = Field(foreign_key="expert.id")
    round: int = 1
    status: str = Field(default=OfferStatus.open, max_length=16)
    score: float = 0.0
    reasons: dict[str, Any] = json_field(dict)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    responded_at: Optional[datetime] = None


class Rating(SQLModel, table=True):
    """The customer's CSAT (1-5), NPS (0-10) and comment for a case."""

    id: Optional[int] = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="support_case.id", unique=True)
    expert_id: Optional[int] = Field(default=None, foreign_key="expert.id", index=True)
    csat: int
    nps: Optional[int] = None
    comment: Optional[str] = Field(default=None, max_length=4000)
    created_at: datetime = Field(default_factory=utcnow)


class Timer(SQLModel, table=True):
    """A persisted deadline; a process claims it by setting `fired_at`, so it fires once."""

    __table_args__ = (
        UniqueConstraint("kind", "ref_id"),
        Index("ix_timer_due", "fired_at", "due_at"),
    )
    id: Optional[int] = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)
    ref_id: int
    due_at: datetime
    fired_at: Optional[datetime] = None
    claimed_by: Optional[str] = Field(default=None, max_length=64)


class ExpertPresence(SQLModel, table=True):
    """Whether an expert wants work, and how much at once."""

    expert_id: int = Field(foreign_key="expert.id", primary_key=True)
    online: bool = False
    max_cases: int = 3
    updated_at: datetime = Field(default_factory=utcnow)


class ExpertConnection(SQLModel, table=True):
    """A live Socket.IO connection of an expert, refreshed by its process' heartbeat."""

    sid: str = Field(primary_key=True, max_length=64)
    expert_id: int = Field(foreign_key="expert.id", index=True)
    process_id: str = Field(max_length=64, index=True)
    last_seen: datetime = Field(default_factory=utcnow)
