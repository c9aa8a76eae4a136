"""Parts several answers share: timestamps, experts, ratings, messages, summaries; CSV downloads."""
from __future__ import annotations

from pydantic import BaseModel, Field

Time = str | None

#: A CSV download (spreadsheet-safe: cells that would run as formulas are prefixed with `'`).
CSV = {"description": "CSV with a header row", "content": {"text/csv": {"schema": {"type": "string"}}}}


class ExpertRef(BaseModel):
    id: int
    display_name: str | None


class RatingView(BaseModel):
    csat: int
    nps: int | None
    comment: str | None


class MessageView(BaseModel):
    """The contract's `message` event."""

    case_id: int
    id: int
    seq: int
    sender: str = Field(description="customer, expert, staff or system")
    text: str
    sent_at: Time
    client_id: str | None


class Summary(BaseModel):
    """Resolution quality over some cases (rates are fractions of all of them; null without cases)."""

    cases: int
    resolved: int
    escalated: int
    deflected: int
    resolution_rate: float | None
    escalation_rate: float | None
    deflection_rate: float | None
    first_response_p50_s: float | None
    first_response_p90_s: float | None
    resolution_p50_s: float | None
    resolution_p90_s: float | None
    csat_avg: float | None
    csat_count: int
    nps: float | None
    nps_count: int


class TrackRecord(BaseModel):
    cases: int
    resolved: int
    resolution_rate: float | None
    csat_avg: float | None
    csat_count: int
    first_response_p50_s: float | None


class ExpertStats(TrackRecord):
    """An expert's track record, overall and per topic (`_no_topic` for cases without one)."""

    by_topic: dict[str, TrackRecord]
