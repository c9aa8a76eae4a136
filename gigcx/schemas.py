"""Typed request and response bodies of the REST API (never the table classes)."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

MAX_TEXT = 4000
#: Ids beyond this are refused as invalid: ids are INTEGER columns (32-bit on PostgreSQL, which
#: raised a 500 for larger ones; SQLite raised OverflowError beyond 64 bits).
MAX_ID = 2**31 - 1
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
Text = Annotated[str, StringConstraints(max_length=MAX_TEXT)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Email = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, max_length=254,
                                         pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
#: A language tag: a 2-3 letter language and any number of subtags (en, pt-BR, zh-Hant-TW).
LANGUAGE_PATTERN = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$"
Language = Annotated[str, StringConstraints(pattern=LANGUAGE_PATTERN)]
Currency = Annotated[str, StringConstraints(pattern=r"^[a-z]{3}$")]


def refuse_nul(data: Any) -> Any:
    """Refuse NUL characters anywhere in a body: PostgreSQL cannot store them in text (a 500 there,
    silently different behaviour on SQLite), and no legitimate text needs one."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise ValueError("text must not contain NUL characters")
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return data


class Strict(BaseModel):
    """Bodies refuse unknown fields, so typos are errors rather than silently ignored, and take
    JSON's types as they are: `"250"` is not an integer, `1` is not `true`."""

    model_config = ConfigDict(extra="forbid", strict=True)

    _no_nul = model_validator(mode="before")(refuse_nul)


class StrictQuery(BaseModel):
    """Query strings refuse unknown parameters; their values are text, converted to the field's type."""

    model_config = ConfigDict(extra="forbid")

    _no_nul = model_validator(mode="before")(refuse_nul)


class FieldProblem(BaseModel):
    field: str
    problem: str


class ErrorDetail(BaseModel):
    """A snake_case code and a human message; some errors add details (e.g. `fields`)."""

    model_config = ConfigDict(extra="allow")

    code: str
    message: str
    fields: list[FieldProblem] | None = Field(None, description="`invalid` requests: which fields and why")


class ErrorBody(BaseModel):
    """The contract's error envelope."""

    error: ErrorDetail


class BrandCreate(Strict):
    slug: Slug
    name: Name


class BrandCreated(BaseModel):
    slug: str
    name: str
    api_key: str


class BonusRules(Strict):
    """Brand-set bonuses on top of a topic's reward."""

    five_star_cents: int = Field(0, ge=0, le=1_000_000)
    fast_response_cents: int = Field(0, ge=0, le=1_000_000)
    fast_response_s: int = Field(60, ge=1, le=86400)


SignalCode = Literal["own_account", "same_device", "shared_payout_account", "silent_no_answer", "low_quality",
                     "same_network", "fast_cycle", "repeat_pair", "rating_ring"]


class TrustSettingsPatch(Strict):
    """Fraud and quality controls (docs/trust.md); fields left out keep their value."""

    enabled: bool | None = None
    hold_threshold: float | None = Field(None, gt=0.0, le=100.0)
    weights: dict[SignalCode, Annotated[float, Field(ge=0.0, le=100.0)]] | None = None
    fast_cycle_s: float | None = Field(None, ge=0.0, le=86400.0)
    repeat_pair_min: int | None = Field(None, ge=1, le=10_000)
    repeat_window_days: int | None = Field(None, ge=1, le=3650)
    substantive_min_chars: int | None = Field(None, ge=0, le=4000)
    substantive_min_words: int | None = Field(None, ge=0, le=1000)
    ring_repeat_min: int | None = Field(None, ge=1, le=10_000)
    ring_max_customers: int | None = Field(None, ge=1, le=10_000)
    ring_min_ratings: int | None = Field(None, ge=1, le=10_000)
    ring_gap: float | None = Field(None, ge=0.0, le=1.0)
    qa_sample_rate: float | None = Field(None, ge=0.0, le=1.0)
    quality_threshold: float | None = Field(None, ge=0.0, le=1.0)
    quality_prior_strength: float | None = Field(None, ge=0.0, le=1000.0)


class BrandSettings(BaseModel):
    slug: str
    name: str
    offer_timeout_s: int
    max_offers: int
    escalate_after_s: int
    confirm_window_s: int
    review_window_s: int
    currency: str
    offer_fanout: int
    min_topic_confidence: float
    bonus_rules: dict[str, Any]
    allowed_origins: list[str]
    trust: dict[str, Any] = Field(default_factory=dict)
    answer_reuse: Literal["auto", "curated", "off"]
    retention_days: int | None


class BrandUpdate(Strict):
    name: Name | None = None
    offer_timeout_s: int | None = Field(None, ge=1, le=3600)
    max_offers: int | None = Field(None, ge=1, le=20)
    escalate_after_s: int | None = Field(None, ge=1, le=30 * 86400)
    confirm_window_s: int | None = Field(None, ge=1, le=30 * 86400)
    review_window_s: int | None = Field(None, ge=0, le=90 * 86400)
    currency: Currency | None = None
    offer_fanout: int | None = Field(None, ge=1, le=10)
    min_topic_confidence: float | None = Field(None, ge=0.0, le=1.0)
    bonus_rules: BonusRules | None = None
    allowed_origins: list[Annotated[str, StringConstraints(max_length=200)]] | None = Field(
        None, max_length=50)
    trust: TrustSettingsPatch | None = None
    answer_reuse: Literal["auto", "curated", "off"] | None = None
    # null: conversations keep their text (no retention period)
    retention_days: int | None = Field(None, ge=1, le=36500)

    #: settings whose `null` is a value, not a mistake
    NULLABLE: ClassVar[frozenset[str]] = frozenset({"retention_days"})


class TopicPath(BaseModel):
    slug: Slug


class TopicPut(Strict):
    name: Name
    reward_cents: int = Field(ge=0, le=10_000_000)
    description: Text = ""
    examples: list[Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT)]] = Field(
        default_factory=list, max_length=500)
    active: bool = True


class TopicPublic(BaseModel):
    slug: str
    name: str
    reward_cents: int
    description: str
    examples: list[str]
    active: bool


class TopicList(BaseModel):
    topics: list[TopicPublic]


class ExpertCreate(Strict):
    email: Email
    password: Annotated[str, StringConstraints(min_length=8, max_length=200)]
    display_name: Name
    languages: list[Language] = Field(default_factory=lambda: ["en"], max_length=20)


class ExpertCreated(BaseModel):
    id: int


class TokenRequest(Strict):
    email: Email
    password: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class TokenResponse(BaseModel):
    token: str
    expert_id: int


class ProgramApply(Strict):
    brand: Slug
    topics: list[Slug] = Field(min_length=1, max_length=200)


class ProgramPublic(BaseModel):
    id: int
    brand: str
    expert_id: int
    status: Literal["pending", "approved", "rejected", "suspended"]
    requested_topics: list[str]
    topics: list[str]


class ExpertPath(BaseModel):
    id: int = Field(ge=1, le=MAX_ID)


class ApproveRequest(Strict):
    topics: list[Slug] = Field(min_length=1, max_length=200)
    # the expert's own user id on the brand's site: their questions as a customer are theirs
    user_id: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None


def _aware(value: Any) -> Any:
    from datetime import datetime

    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


UtcDateTime = Annotated[datetime, AfterValidator(_aware)]


class CaseListQuery(StrictQuery):
    status: Literal["matching", "active", "pending_confirmation", "resolved", "escalated", "closed"] | None = None
    topic: Slug | None = None
    no_topic: bool | None = Field(None, description="true: only cases without a topic (none fitted)")
    expert_id: int | None = Field(None, ge=1, le=MAX_ID)
    since: UtcDateTime | None = None
    until: UtcDateTime | None = None
    before_id: int | None = Field(None, ge=1, le=MAX_ID, description="cursor: cases with a smaller id")
    limit: int = Field(50, ge=1, le=200)


class CasePath(BaseModel):
    id: int = Field(ge=1, le=MAX_ID)


class MetricsQuery(StrictQuery):
    since: UtcDateTime | None = None
    until: UtcDateTime | None = None
    bucket: Literal["hour", "day", "week"] | None = None


class ExportQuery(StrictQuery):
    since: UtcDateTime | None = None
    until: UtcDateTime | None = None


class StaffCreate(Strict):
    email: Email
    password: Annotated[str, StringConstraints(min_length=8, max_length=200)]
    display_name: Name
    role: Literal["admin", "analyst"] = "admin"


class StaffPublic(BaseModel):
    id: int
    email: str
    display_name: str
    role: str


class StaffPath(BaseModel):
    id: int = Field(ge=1, le=MAX_ID)


class StaffTokenRequest(Strict):
    brand: Slug
    email: Email
    password: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class StaffTokenResponse(BaseModel):
    token: str
    staff: StaffPublic
    brand: str


class ProgramListQuery(StrictQuery):
    status: Literal["pending", "approved", "rejected", "suspended"] | None = None


class AnswerListQuery(StrictQuery):
    status: Literal["pending", "approved", "rejected"] | None = None
    before_id: int | None = Field(None, ge=1, le=MAX_ID, description="cursor: answers with a smaller id")
    limit: int = Field(50, ge=1, le=200)


class AnswerPath(BaseModel):
    id: int = Field(ge=1, le=MAX_ID)


class AnswerDecision(Strict):
    """Approve or reject an answer for reuse, and/or replace its text."""

    status: Literal["pending", "approved", "rejected"] | None = None
    answer: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT)] | None = None


class CustomerPath(BaseModel):
    id: int = Field(ge=1, le=MAX_ID)
