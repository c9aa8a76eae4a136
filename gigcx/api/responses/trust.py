"""Answers about trust: flagged cases, decisions and quality scores."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from gigcx.api.responses.common import ExpertRef, MessageView, Time


class FlagView(BaseModel):
    """A flagged case: signals, hold and QA state, and the reward."""

    case_id: int
    topic: str | None
    status: str
    expert: ExpertRef | None
    hold_state: str | None
    held: bool
    sampled: bool
    qa_verdict: str | None
    score: float
    signals: list[dict[str, Any]]
    reasons: list[Any]
    reward_cents: int
    currency: str | None
    reward_status: str
    resolved_at: Time
    resolved_by: str | None
    flagged_at: Time
    decided_at: Time


class FlagList(BaseModel):
    cases: list[FlagView]
    next_before_id: int | None


class CustomerRef(BaseModel):
    id: int
    user_id: str | None


class DecisionView(BaseModel):
    id: int
    case_id: int
    action: str
    actor: str
    note: str
    at: Time


class DecisionList(BaseModel):
    decisions: list[DecisionView]


class FlagDetail(FlagView):
    question: str
    customer: CustomerRef
    messages: list[MessageView]
    decisions: list[DecisionView]


class QualityScore(BaseModel):
    expert_id: int
    topic: str
    score: float
    ratings: float
    reviews: int
    rating_ring: bool
    threshold: float
    below_threshold: bool
    reason: str | None
    updated_at: Time


class BrandQualityScore(QualityScore):
    display_name: str | None


class BrandQuality(BaseModel):
    threshold: float
    scores: list[BrandQualityScore]


class ExpertQualityScore(QualityScore):
    brand: str


class HeldReward(BaseModel):
    case_id: int
    brand: str
    topic: str | None
    reasons: list[Any]
    flagged_at: Time


class ExpertQuality(BaseModel):
    scores: list[ExpertQualityScore]
    held: list[HeldReward]
