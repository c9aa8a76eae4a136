"""Answers about cases, reusable answers, metrics and customers' data."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from gigcx.api.responses.common import ExpertRef, MessageView, RatingView, Summary, Time


class ReviewView(BaseModel):
    verdict: str
    note: str | None
    reviewed_at: Time


class CaseView(BaseModel):
    """A case as the brand sees it (original text, timings, rating, review)."""

    id: int
    status: str
    topic: str | None
    topic_confidence: float | None
    question: str
    language: str
    deflected: bool
    customer_id: int
    redacted_at: Time
    expert: ExpertRef | None
    created_at: Time
    assigned_at: Time
    first_response_at: Time
    resolved_at: Time
    escalated_at: Time
    closed_at: Time
    first_response_s: float | None
    resolution_s: float | None
    escalation_reason: str | None
    reward_cents: int
    rating: RatingView | None
    review: ReviewView | None


class CaseList(BaseModel):
    cases: list[CaseView]
    next_before_id: int | None = Field(description="pass as `before_id` for the next page; null on the last")


class OfferView(BaseModel):
    """An offer and why this expert got it."""

    expert_id: int
    round: int
    status: str
    score: float
    reasons: dict[str, Any]
    display_name: str | None


class Suggestion(BaseModel):
    id: Any
    answer: Any
    topic: Any
    score: Any


class CaseDetail(CaseView):
    messages: list[MessageView]
    offers: list[OfferView]
    routing: dict[str, Any]
    suggestions: list[Suggestion]


class AnswerView(BaseModel):
    id: int
    case_id: int
    topic: str | None
    status: str
    question: str
    answer: str
    scrubbed: str = Field(description="the answer as scrubbing left it, before any edit")
    edited: bool
    created_at: Time
    decided_at: Time
    decided_by: str | None


class AnswerList(BaseModel):
    mode: str | None = Field(description="the brand's answer_reuse: auto, curated or off")
    answers: list[AnswerView]
    next_before_id: int | None


class ExpertSummary(Summary):
    display_name: str | None


class SeriesPoint(Summary):
    bucket: str


class Metrics(Summary):
    by_topic: dict[str, Summary]
    by_expert: dict[str, ExpertSummary]
    series: list[SeriesPoint] | None = Field(None, description="only with `bucket`")


class ExportedMessage(BaseModel):
    seq: int
    sender: str
    text: str
    sent_at: Time


class ExportedCase(BaseModel):
    id: int
    status: str
    topic: str | None
    language: str
    question: str
    created_at: Time
    resolved_at: Time
    closed_at: Time
    escalated_at: Time
    redacted_at: Time
    messages: list[ExportedMessage]
    rating: RatingView | None


class ExportedCustomer(BaseModel):
    id: int
    created_at: Time
    language: str | None
    anonymised_at: Time


class CustomerExport(BaseModel):
    format: str = Field(description="gigcx-customer-export/1")
    exported_at: Time
    brand: str | None
    customer: ExportedCustomer
    cases: list[ExportedCase]


class Removed(BaseModel):
    cases_redacted: int
    messages_redacted: int
    open_cases_closed: int
    reusable_answers_deleted: int


class Kept(BaseModel):
    what: str
    why: str


class ErasureReport(BaseModel):
    customer_id: int
    erased_at: Time
    already_anonymised: bool
    removed: Removed
    kept: list[Kept]
    export: CustomerExport = Field(description="the customer's data as it was just before")
