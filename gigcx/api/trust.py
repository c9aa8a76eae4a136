"""Trust endpoints (docs/trust.md): the identity secret, held cases and their decisions, the QA
sample, the audit trail, quality scores; and the expert's own quality."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from gigcx import db
from gigcx.api import SECURITY, TAGS, api
from gigcx.api.responses.brands import IdentitySecret
from gigcx.api.responses.trust import BrandQuality, DecisionList, ExpertQuality, FlagDetail, FlagList
from gigcx.auth import principal, requires
from gigcx.models import StaffUser
from gigcx.schemas import MAX_ID, MAX_TEXT, Strict, StrictQuery
from gigcx.services import brands as brand_svc
from gigcx.services import flagged, trust

Note = Annotated[str, StringConstraints(max_length=MAX_TEXT)]


class FlagPath(BaseModel):
    id: int = Field(ge=1, le=MAX_ID)


class FlagQuery(StrictQuery):
    status: Literal["held", "released", "rejected", "pending_qa", "all"] = "held"
    sampled: bool | None = None
    limit: int = Field(50, ge=1, le=200)
    before_id: int | None = Field(None, ge=1, le=MAX_ID)


class DecisionBody(Strict):
    action: Literal["release", "reject"]
    note: Note = ""


class QaBody(Strict):
    verdict: Literal["pass", "fail"]
    note: Note = ""


class DecisionsQuery(StrictQuery):
    case_id: int | None = Field(None, ge=1, le=MAX_ID)
    limit: int = Field(100, ge=1, le=1000)


class QualityQuery(StrictQuery):
    expert_id: int | None = Field(None, ge=1, le=MAX_ID)


def actor() -> str:
    """Who decides, for the audit trail: a staff user (id and email) or the brand's API key."""
    me = principal()
    if me.staff_id is None:
        return "api_key"
    staff = db.request_session().get(StaffUser, me.staff_id)
    return f"staff:{me.staff_id} {staff.email if staff else ''}".strip()


@api.get("/brand/identity-secret", tags=[TAGS["brands"]], security=SECURITY,
         responses={200: IdentitySecret})
@requires("brand_admin")
def get_identity_secret() -> dict[str, Any]:
    """The secret your server signs customers' user ids with (made on first call)."""
    session = db.request_session()
    brand = brand_svc.get_brand(session, principal().brand_id)  # type: ignore[arg-type]
    return {"identity_secret": trust.identity_secret(session, brand), "algorithm": "HMAC-SHA256"}


@api.post("/brand/identity-secret", tags=[TAGS["brands"]], security=SECURITY,
          responses={201: IdentitySecret})
@requires("brand_admin")
def rotate_identity_secret() -> tuple[dict[str, Any], int]:
    """Replace the identity secret: hashes made with the old one are refused from now on."""
    session = db.request_session()
    brand = brand_svc.get_brand(session, principal().brand_id)  # type: ignore[arg-type]
    return {"identity_secret": trust.identity_secret(session, brand, rotate=True), "algorithm": "HMAC-SHA256"}, 201


@api.get("/trust/flagged", tags=[TAGS["cases"]], security=SECURITY,
         responses={200: FlagList})
@requires("brand")
def list_flagged(query: FlagQuery) -> dict[str, Any]:
    """Flagged cases, newest first: held (default), released, rejected, pending_qa or all."""
    return flagged.list_flags(db.request_session(), principal().brand_id, state=query.status,  # type: ignore[arg-type]
                              sampled=query.sampled, limit=query.limit, before_id=query.before_id)


@api.get("/trust/flagged/<int:id>", tags=[TAGS["cases"]], security=SECURITY,
         responses={200: FlagDetail})
@requires("brand")
def get_flagged(path: FlagPath) -> dict[str, Any]:
    """One case as trust sees it: signals (none if never flagged), transcript, reward, decisions."""
    return flagged.flag_detail(db.request_session(), principal().brand_id, path.id)  # type: ignore[arg-type]


@api.post("/trust/flagged/<int:id>/decision", tags=[TAGS["cases"]], security=SECURITY,
          responses={200: FlagDetail})
@requires("brand_admin")
def decide_flagged(path: FlagPath, body: DecisionBody) -> dict[str, Any]:
    """Release or reject a held case's reward; audited with who, when and the note."""
    return flagged.decide(db.request_session(), brand_id=principal().brand_id, case_id=path.id,  # type: ignore[arg-type]
                          action=body.action, note=body.note, actor=actor())


@api.post("/trust/qa/<int:id>", tags=[TAGS["cases"]], security=SECURITY,
          responses={200: FlagDetail})
@requires("brand_admin")
def qa_verdict(path: FlagPath, body: QaBody) -> dict[str, Any]:
    """Pass or fail a case of the QA sample; it counts in the expert's quality score."""
    return flagged.qa_verdict(db.request_session(), brand_id=principal().brand_id, case_id=path.id,  # type: ignore[arg-type]
                              verdict=body.verdict, note=body.note, actor=actor())


@api.get("/trust/decisions", tags=[TAGS["cases"]], security=SECURITY,
         responses={200: DecisionList})
@requires("brand")
def list_decisions(query: DecisionsQuery) -> dict[str, Any]:
    """The audit trail of holds, releases, rejects and QA verdicts, newest first."""
    return {"decisions": flagged.decisions(db.request_session(), principal().brand_id,  # type: ignore[arg-type]
                                           query.case_id, query.limit)}


@api.get("/trust/quality", tags=[TAGS["experts"]], security=SECURITY,
         responses={200: BrandQuality})
@requires("brand")
def brand_quality(query: QualityQuery) -> dict[str, Any]:
    """Quality score of every expert per topic, lowest first, with the brand's threshold."""
    session = db.request_session()
    brand = brand_svc.get_brand(session, principal().brand_id)  # type: ignore[arg-type]
    return flagged.brand_quality(session, brand, query.expert_id)


@api.get("/experts/me/quality", tags=[TAGS["experts"]], security=SECURITY,
         responses={200: ExpertQuality})
@requires("expert")
def my_quality() -> dict[str, Any]:
    """Your quality score per brand and topic, and which of your rewards are held, with why."""
    return flagged.expert_quality(db.request_session(), principal().expert_id)  # type: ignore[arg-type]
