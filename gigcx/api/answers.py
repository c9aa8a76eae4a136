"""Reusable answers (brand): review what resolved cases will suggest to other customers.

Under the brand's `answer_reuse` setting `curated`, an answer is suggested only once approved
here; under `auto` every answer not rejected is; under `off` none is."""
from __future__ import annotations

from typing import Any

from gigcx import db, schemas
from gigcx.api import SECURITY, TAGS, api
from gigcx.api.responses.cases import AnswerList, AnswerView
from gigcx.auth import principal, requires
from gigcx.models import AnswerStatus
from gigcx.services import answers as svc


def _who() -> str:
    me = principal()
    return f"staff:{me.staff_id}" if me.staff_id else "api key"


@api.get("/answers", tags=[TAGS["cases"]], security=SECURITY,
         responses={200: AnswerList})
@requires("brand")
def list_answers(query: schemas.AnswerListQuery) -> dict[str, Any]:
    """The brand's reusable answers, newest first, with the brand's reuse mode."""
    return svc.list_answers(db.request_session(), principal().brand_id, status=query.status,  # type: ignore[arg-type]
                            limit=query.limit, before_id=query.before_id)


@api.get("/answers/<int:id>", tags=[TAGS["cases"]], security=SECURITY,
         responses={200: AnswerView})
@requires("brand")
def get_answer(path: schemas.AnswerPath) -> dict[str, Any]:
    """One reusable answer."""
    return svc.view(svc.get(db.request_session(), principal().brand_id, path.id))  # type: ignore[arg-type]


@api.patch("/answers/<int:id>", tags=[TAGS["cases"]], security=SECURITY,
           responses={200: AnswerView})
@requires("brand_admin")
def patch_answer(path: schemas.AnswerPath, body: schemas.AnswerDecision) -> dict[str, Any]:
    """Edit an answer's text and/or set its status (`approved`, `rejected`, `pending`)."""
    row = svc.decide(db.request_session(), principal().brand_id, path.id,  # type: ignore[arg-type]
                     status=body.status, answer=body.answer, who=_who())
    return svc.view(row)


@api.post("/answers/<int:id>/approve", tags=[TAGS["cases"]], security=SECURITY,
          responses={200: AnswerView})
@requires("brand_admin")
def approve_answer(path: schemas.AnswerPath) -> dict[str, Any]:
    """Approve an answer for reuse (needed under `curated`)."""
    return svc.view(svc.decide(db.request_session(), principal().brand_id, path.id,  # type: ignore[arg-type]
                               status=AnswerStatus.approved, answer=None, who=_who()))


@api.post("/answers/<int:id>/reject", tags=[TAGS["cases"]], security=SECURITY,
          responses={200: AnswerView})
@requires("brand_admin")
def reject_answer(path: schemas.AnswerPath) -> dict[str, Any]:
    """Never reuse this answer."""
    return svc.view(svc.decide(db.request_session(), principal().brand_id, path.id,  # type: ignore[arg-type]
                               status=AnswerStatus.rejected, answer=None, who=_who()))
