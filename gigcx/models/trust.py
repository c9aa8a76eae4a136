"""Fraud and quality controls: where people connect from, flagged cases, decisions, quality."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Optional

from sqlmodel import Field, Index, SQLModel, UniqueConstraint

from gigcx.models.base import json_field, utcnow


class HoldState(StrEnum):
    """A flagged case's reward: held for the brand's decision, then released or rejected."""

    held = "held"
    released = "released"
    rejected = "rejected"


class ClientSeen(SQLModel, table=True):
    """A network address and user agent a customer or expert connected from (first and last time)."""

    __table_args__ = (UniqueConstraint("role", "subject_id", "ip", "user_agent"),
                      Index("ix_clientseen_ip", "ip"))
    id: Optional[int] = Field(default=None, primary_key=True)
    role: str = Field(max_length=16)  # customer, expert
    subject_id: int
    ip: str = Field(max_length=64)
    user_agent: str = Field(max_length=300)
    first_seen: datetime = Field(default_factory=utcnow)
    last_seen: datetime = Field(default_factory=utcnow)


class TrustFlag(SQLModel, table=True):
    """A resolved case with trust signals, or sampled for QA: whether its reward is held, the
    signals and the brand's decision."""

    __table_args__ = (Index("ix_trustflag_brand_hold", "brand_id", "hold_state"),
                      Index("ix_trustflag_brand_sampled", "brand_id", "sampled"))
    id: Optional[int] = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="support_case.id", unique=True)
    brand_id: int = Field(foreign_key="brand.id")
    expert_id: int = Field(foreign_key="expert.id", index=True)
    topic: Optional[str] = Field(default=None, max_length=64)
    signals: list[dict[str, Any]] = json_field(list)
    score: float = 0.0
    hold_state: Optional[str] = Field(default=None, max_length=16)  # a HoldState
    sampled: bool = False
    qa_verdict: Optional[str] = Field(default=None, max_length=16)  # pass, fail
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    decided_at: Optional[datetime] = None


class TrustDecision(SQLModel, table=True):
    """The audit trail: every hold, release, reject and QA verdict, who made it, when and why."""

    id: Optional[int] = Field(default=None, primary_key=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    case_id: int = Field(foreign_key="support_case.id", index=True)
    action: str = Field(max_length=16)  # hold, release, reject, qa_pass, qa_fail
    actor: str = Field(max_length=300)  # "system", "staff:<id> <email>", "api_key"
    note: str = Field(default="", max_length=4000)
    created_at: datetime = Field(default_factory=utcnow)


class ExpertQuality(SQLModel, table=True):
    """An expert's quality score in one of a brand's topics, kept current as ratings and reviews land."""

    __table_args__ = (UniqueConstraint("brand_id", "expert_id", "topic"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    expert_id: int = Field(foreign_key="expert.id", index=True)
    topic: str = Field(max_length=64)
    score: float
    ratings: float = 0.0  # effective (weighted) number of ratings
    reviews: int = 0
    ring: bool = False
    updated_at: datetime = Field(default_factory=utcnow)


class TopicRatings(SQLModel, table=True):
    """Running totals of a brand's ratings in one topic (ratings of escalated cases and of cases
    without an expert left out), kept as ratings land: the topic's mean rating, against which
    every rating recomputes an expert's quality, without reading all of the topic's ratings."""

    __tablename__ = "topic_ratings"
    brand_id: int = Field(foreign_key="brand.id", primary_key=True)
    topic: str = Field(max_length=64, primary_key=True)
    csat_sum: int = 0
    ratings: int = 0
