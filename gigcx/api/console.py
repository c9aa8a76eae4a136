"""Small endpoints the expert and brand consoles need beyond the contract's.

- `GET /brands/{slug}/program` (anyone): a brand's name and active topics, for the expert's
  application form (what an expert may apply for is public by design: it is a job board).
- `GET /staff/me` (brand): who the console user is (role decides read-only UIs).
- `GET /metrics/export.csv` (brand): the metrics time series as CSV.
"""
from __future__ import annotations

import csv
import io
from typing import Any, Literal

from flask import Response
from pydantic import BaseModel

from gigcx import db, schemas
from gigcx.api import SECURITY, TAGS, api
from gigcx.api.cases import _cell
from gigcx.api.responses.brands import PublicProgram, StaffMe
from gigcx.api.responses.common import CSV
from gigcx.auth import principal, public, requires
from gigcx.errors import ApiError
from gigcx.models import StaffUser
from gigcx.services import brands
from gigcx.services import metrics as metrics_svc


class ProgramSlugPath(BaseModel):
    slug: schemas.Slug  # type: ignore[valid-type]


class MetricsExportQuery(schemas.StrictQuery):
    since: schemas.UtcDateTime | None = None  # type: ignore[valid-type]
    until: schemas.UtcDateTime | None = None  # type: ignore[valid-type]
    bucket: Literal["hour", "day", "week"] = "day"


@api.get("/brands/<slug>/program", tags=[TAGS["brands"]],
         responses={200: PublicProgram})
@public  # a brand's public sign-up page
def public_program(path: ProgramSlugPath) -> dict[str, Any]:
    """A brand's expert program: its name and the active topics experts may apply for."""
    session = db.request_session()
    brand = brands.brand_by_slug(session, path.slug)
    if brand is None:
        raise ApiError("not_found", "no such brand")
    topics = brands.list_topics(session, brand.id, active_only=True)  # type: ignore[arg-type]
    return {"slug": brand.slug, "name": brand.name,
            "topics": [{"slug": t.slug, "name": t.name, "description": t.description,
                        "reward_cents": t.reward_cents} for t in topics],
            "currency": brand.currency}


@api.get("/staff/me", tags=[TAGS["brands"]], security=SECURITY,
         responses={200: StaffMe})
@requires("brand")
def staff_me() -> dict[str, Any]:
    """The calling console user (or the brand's API key, which has admin rights)."""
    me = principal()
    session = db.request_session()
    brand = brands.get_brand(session, me.brand_id)  # type: ignore[arg-type]
    staff = session.get(StaffUser, me.staff_id) if me.staff_id else None
    return {"brand": brand.slug, "brand_name": brand.name, "role": me.role,
            "staff": None if staff is None else {"id": staff.id, "email": staff.email,
                                                  "display_name": staff.display_name, "role": staff.role}}


METRIC_FIELDS = ["bucket", "cases", "resolved", "escalated", "deflected", "resolution_rate", "escalation_rate",
                 "deflection_rate", "first_response_p50_s", "first_response_p90_s", "resolution_p50_s",
                 "resolution_p90_s", "csat_avg", "csat_count", "nps", "nps_count"]


@api.get("/metrics/export.csv", tags=[TAGS["metrics"]], security=SECURITY,
         responses={200: CSV})
@requires("brand")
def export_metrics(query: MetricsExportQuery) -> Response:
    """The metrics series (one row per hour, day or week of case creation) as CSV."""
    out = metrics_svc.metrics(db.request_session(), principal().brand_id, query.since, query.until,  # type: ignore[arg-type]
                              query.bucket)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(METRIC_FIELDS)
    for row in out.get("series", []):
        writer.writerow([_cell(row.get(k)) for k in METRIC_FIELDS])
    return Response(buf.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=metrics.csv"})
