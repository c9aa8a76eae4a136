"""Brand endpoints over cases: list with filters, one case with its transcript, metrics, export."""
from __future__ import annotations

import csv
import io
from typing import Any

from flask import Response
from sqlmodel import select

import payouts
from gigcx import db, schemas
from gigcx.api import SECURITY, TAGS, api
from gigcx.api.responses.cases import CaseDetail, CaseList, Metrics
from gigcx.api.responses.common import CSV
from gigcx.auth import principal, requires
from gigcx.errors import ApiError
from gigcx.events import message_payload, public_suggestions
from gigcx.models import Case, Expert, Message, Offer, Rating
from gigcx.models.base import iso
from gigcx.services import dispatch
from gigcx.services import metrics as metrics_svc


def _secs(a: Any, b: Any) -> float | None:
    return None if a is None or b is None else round((a - b).total_seconds(), 3)


def case_view(case: Case, rating: Rating | None, expert_name: str | None) -> dict[str, Any]:
    """A case as the brand sees it (original text, timings, rating, review)."""
    return {
        "id": case.id, "status": case.status, "topic": case.topic, "topic_confidence": case.topic_confidence,
        "question": case.question, "language": case.language, "deflected": case.deflected,
        "customer_id": case.customer_id, "redacted_at": iso(case.redacted_at),
        "expert": None if case.expert_id is None else {"id": case.expert_id, "display_name": expert_name},
        "created_at": iso(case.created_at), "assigned_at": iso(case.assigned_at),
        "first_response_at": iso(case.first_response_at), "resolved_at": iso(case.resolved_at),
        "escalated_at": iso(case.escalated_at), "closed_at": iso(case.closed_at),
        "first_response_s": _secs(case.first_response_at, case.created_at),
        "resolution_s": _secs(case.resolved_at, case.created_at),
        "escalation_reason": case.escalation_reason, "reward_cents": case.reward_cents,
        "rating": None if rating is None else {"csat": rating.csat, "nps": rating.nps, "comment": rating.comment},
        "review": None if case.review_verdict is None else {
            "verdict": case.review_verdict, "note": case.review_note, "reviewed_at": iso(case.reviewed_at)},
    }


def _query(brand_id: int, q: schemas.CaseListQuery | schemas.ExportQuery) -> Any:
    stmt = (select(Case, Rating, Expert.display_name)
            .join(Rating, Rating.case_id == Case.id, isouter=True)  # type: ignore[arg-type]
            .join(Expert, Expert.id == Case.expert_id, isouter=True)  # type: ignore[arg-type]
            .where(Case.brand_id == brand_id))
    if q.since is not None:
        stmt = stmt.where(Case.created_at >= q.since)
    if q.until is not None:
        stmt = stmt.where(Case.created_at < q.until)
    if isinstance(q, schemas.CaseListQuery):
        for field in ("status", "topic", "expert_id"):
            if getattr(q, field) is not None:
                stmt = stmt.where(getattr(Case, field) == getattr(q, field))
        if q.no_topic is not None:
            stmt = stmt.where(Case.topic.is_(None) if q.no_topic else Case.topic.is_not(None))  # type: ignore[union-attr]
        if q.before_id is not None:
            stmt = stmt.where(Case.id < q.before_id)  # type: ignore[operator]
    return stmt.order_by(Case.id.desc())  # type: ignore[union-attr]


@api.get("/cases", tags=[TAGS["cases"]], security=SECURITY,
         responses={200: CaseList})
@requires("brand")
def list_cases(query: schemas.CaseListQuery) -> dict[str, Any]:
    """The brand's cases, newest first; page with `before_id`."""
    rows = db.request_session().exec(_query(principal().brand_id, query).limit(query.limit + 1)).all()  # type: ignore[arg-type]
    page = rows[: query.limit]
    more = len(rows) > query.limit
    return {"cases": [case_view(c, r, n) for c, r, n in page],
            "next_before_id": page[-1][0].id if more and page else None}


@api.get("/cases/<int:id>", tags=[TAGS["cases"]], security=SECURITY,
         responses={200: CaseDetail})
@requires("brand")
def get_case(path: schemas.CasePath) -> dict[str, Any]:
    """One case with its full transcript and the routing decisions behind its offers."""
    session = db.request_session()
    case = session.get(Case, path.id)
    if case is None or case.brand_id != principal().brand_id:
        raise ApiError("not_found", "no such case")
    rating = session.exec(select(Rating).where(Rating.case_id == case.id)).first()
    name = session.get(Expert, case.expert_id).display_name if case.expert_id else None  # type: ignore[union-attr]
    out = case_view(case, rating, name)
    msgs = session.exec(select(Message).where(Message.case_id == case.id).order_by(Message.seq)).all()  # type: ignore[arg-type]
    out["messages"] = [message_payload(m) for m in msgs]
    offers = session.exec(select(Offer).where(Offer.case_id == case.id).order_by(Offer.id)).all()  # type: ignore[arg-type]
    names = {e.id: e.display_name for e in session.exec(select(Expert).where(
        Expert.id.in_({o.expert_id for o in offers})))} if offers else {}  # type: ignore[union-attr]
    out["offers"] = [{**dispatch.describe(o), "display_name": names.get(o.expert_id)} for o in offers]
    out["routing"] = case.routing
    out["suggestions"] = public_suggestions(case.suggestions)
    return out


@api.get("/metrics", tags=[TAGS["metrics"]], security=SECURITY,
         responses={200: Metrics})
@requires("brand")
def get_metrics(query: schemas.MetricsQuery) -> dict[str, Any]:
    """Resolution quality over cases created in [since, until)."""
    return metrics_svc.metrics(db.request_session(), principal().brand_id, query.since, query.until,  # type: ignore[arg-type]
                               query.bucket)


EXPORT_FIELDS = ["id", "created_at", "status", "topic", "language", "expert_id", "expert_name",
                 "first_response_s", "resolution_s", "csat", "nps", "deflected", "escalation_reason",
                 "reward_cents", "review_verdict", "question"]


@api.get("/cases/export.csv", tags=[TAGS["cases"]], security=SECURITY,
         responses={200: CSV})
@requires("brand")
def export_cases(query: schemas.ExportQuery) -> Response:
    """Every case in the range as CSV (spreadsheet-safe: formulas are neutralised)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(EXPORT_FIELDS)
    for case, rating, name in db.request_session().exec(_query(principal().brand_id, query)):  # type: ignore[arg-type]
        v = case_view(case, rating, name)
        row = [v["id"], v["created_at"], v["status"], v["topic"], v["language"], case.expert_id, name,
               v["first_response_s"], v["resolution_s"], rating.csat if rating else None,
               rating.nps if rating else None, v["deflected"], v["escalation_reason"], v["reward_cents"],
               case.review_verdict, v["question"]]
        writer.writerow([_cell(x) for x in row])
    return Response(buf.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=cases.csv"})


def _cell(value: Any) -> Any:
    """A CSV cell: text a spreadsheet would run as a formula is neutralised (CSV injection)."""
    if isinstance(value, str):
        return payouts.spreadsheet_safe(value)
    return "" if value is None else value
