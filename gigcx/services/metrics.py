"""Resolution quality for brands: timings, rates, CSAT and NPS, overall and per topic and expert."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import numpy as np
from sqlmodel import Session, select

from gigcx.models import Case, CaseStatus, Expert, Rating

# by_topic key of cases without a topic (none of the brand's topics fitted, or it had none);
# not a valid slug, so never a topic's own key
NO_TOPIC_BUCKET = "_no_topic"


def _pct(values: list[float], q: float) -> float | None:
    return None if not values else round(float(np.percentile(values, q)), 3)


def _nps(scores: list[int]) -> float | None:
    """Net Promoter Score: % of 9-10 minus % of 0-6, from -100 to 100."""
    if not scores:
        return None
    promoters = sum(1 for s in scores if s >= 9)
    detractors = sum(1 for s in scores if s <= 6)
    return round(100.0 * (promoters - detractors) / len(scores), 1)


def summarise(rows: Iterable[tuple[Case, Rating | None]]) -> dict[str, Any]:
    """The contract's metrics over some cases (rates are fractions of all cases)."""
    rows = list(rows)
    n = len(rows)
    first = [(c.first_response_at - c.created_at).total_seconds() for c, _ in rows if c.first_response_at]
    resolution = [(c.resolved_at - c.created_at).total_seconds() for c, _ in rows if c.resolved_at]
    resolved = sum(1 for c, _ in rows if c.status == CaseStatus.resolved)
    escalated = sum(1 for c, _ in rows if c.escalated_at is not None)
    deflected = sum(1 for c, _ in rows if c.deflected)
    csat = [r.csat for _, r in rows if r is not None]
    nps = [r.nps for _, r in rows if r is not None and r.nps is not None]
    return {
        "cases": n,
        "resolved": resolved,
        "escalated": escalated,
        "deflected": deflected,
        "resolution_rate": round(resolved / n, 4) if n else None,
        "escalation_rate": round(escalated / n, 4) if n else None,
        "deflection_rate": round(deflected / n, 4) if n else None,
        "first_response_p50_s": _pct(first, 50),
        "first_response_p90_s": _pct(first, 90),
        "resolution_p50_s": _pct(resolution, 50),
        "resolution_p90_s": _pct(resolution, 90),
        "csat_avg": round(sum(csat) / len(csat), 3) if csat else None,
        "csat_count": len(csat),
        "nps": _nps(nps),
        "nps_count": len(nps),
    }


def case_rows(session: Session, brand_id: int, since: datetime | None, until: datetime | None) -> list[tuple[Case, Rating | None]]:
    """The brand's cases created in [since, until) with their ratings."""
    q = select(Case, Rating).join(Rating, Rating.case_id == Case.id, isouter=True).where(Case.brand_id == brand_id)  # type: ignore[arg-type]
    if since is not None:
        q = q.where(Case.created_at >= since)
    if until is not None:
        q = q.where(Case.created_at < until)
    return list(session.exec(q.order_by(Case.created_at)).all())  # type: ignore[arg-type]


def metrics(session: Session, brand_id: int, since: datetime | None = None, until: datetime | None = None,
            bucket: str | None = None) -> dict[str, Any]:
    """Overall metrics with `by_topic`, `by_expert` and, with `bucket` (hour/day/week), a time series."""
    rows = case_rows(session, brand_id, since, until)
    out = summarise(rows)
    by_topic: dict[str, list[tuple[Case, Rating | None]]] = defaultdict(list)
    by_expert: dict[int, list[tuple[Case, Rating | None]]] = defaultdict(list)
    for case, rating in rows:
        by_topic[case.topic or NO_TOPIC_BUCKET].append((case, rating))
        if case.expert_id is not None:  # an escalated case's rating is not the expert's
            by_expert[case.expert_id].append((case, None if case.escalated_at is not None else rating))
    names = dict(session.exec(select(Expert.id, Expert.display_name).where(
        Expert.id.in_(list(by_expert)))).all()) if by_expert else {}  # type: ignore[union-attr]
    out["by_topic"] = {topic: summarise(r) for topic, r in sorted(by_topic.items())}
    out["by_expert"] = {str(eid): {"display_name": names.get(eid), **summarise(r)}
                        for eid, r in sorted(by_expert.items())}
    if bucket:
        out["series"] = series(rows, bucket)
    return out


def _bucket_start(dt: datetime, bucket: str) -> str:
    if bucket == "hour":
        return dt.strftime("%Y-%m-%dT%H:00:00Z")
    if bucket == "week":
        iso = dt.isocalendar()
        return f"{iso.year}-W{iso.week:02d}"
    return dt.strftime("%Y-%m-%d")


def series(rows: list[tuple[Case, Rating | None]], bucket: str) -> list[dict[str, Any]]:
    """Metrics per time bucket of case creation, oldest first (for charts)."""
    groups: dict[str, list[tuple[Case, Rating | None]]] = defaultdict(list)
    for case, rating in rows:
        groups[_bucket_start(case.created_at, bucket)].append((case, rating))
    return [{"bucket": key, **summarise(r)} for key, r in sorted(groups.items())]
