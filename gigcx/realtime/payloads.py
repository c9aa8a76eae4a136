"""Typed client-to-server event payloads; unknown fields are refused."""
from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from gigcx.schemas import MAX_ID, Language, refuse_nul

Text = Annotated[str, StringConstraints(min_length=1, max_length=4000)]
ClientId = Annotated[str, StringConstraints(min_length=1, max_length=100)]
CaseId = Annotated[int, Field(ge=1, le=MAX_ID)]


class Event(BaseModel):
    """Base: strict types (no "1" for 1), no extra fields."""

    model_config = ConfigDict(extra="forbid", strict=True)

    _no_nul = model_validator(mode="before")(refuse_nul)


class Ask(Event):
    text: Text
    client_id: ClientId
    language: Language | None = None


class SendMessage(Event):
    case_id: CaseId
    text: Text
    client_id: ClientId


class Sync(Event):
    case_id: CaseId
    after_seq: Annotated[int, Field(ge=0, le=MAX_ID)] = 0


class CaseRef(Event):
    case_id: CaseId


class CustomerResolve(Event):
    case_id: CaseId
    resolved: bool


class Rate(Event):
    case_id: CaseId
    csat: Annotated[int, Field(ge=1, le=5)]
    nps: Annotated[int, Field(ge=0, le=10)] | None = None
    comment: Annotated[str, StringConstraints(max_length=4000)] | None = None


class Availability(Event):
    online: bool
    max_cases: Annotated[int, Field(ge=1, le=20)] | None = None


class Escalate(Event):
    case_id: CaseId
    reason: Text  # internal: for the brand's staff only
    message: Text | None = None  # to the customer, posted before the handover notice


class Empty(Event):
    pass
