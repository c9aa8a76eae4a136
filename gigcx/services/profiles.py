"""An expert's track record: cases, resolution rate, ratings and speed, overall and per topic."""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlmodel import Session, col, select

from gigcx.models import Case, Rating
from gigcx.services.metrics import NO_TOPIC_BUCKET, summarise


def expert_stats(session: Session, expert_id: int, brand_id: int | None = None) -> dict[str, Any]:
    """Summary metrics of the expert's assigned cases (one brand's, or all), and per topic."""
    q = select(Case, Rating).join(Rating, col(Rating.case_id) == Case.id, isouter=True).where(
        Case.expert_id == expert_id)
    if brand_id is not None:
        q = q.where(Case.brand_id == brand_id)
    # an escalated case's rating is about the brand's staff, not the expert
    rows = [(c, None if c.escalated_at is not None else r) for c, r in session.exec(q).all()]
    by_topic: dict[str, list[Any]] = defaultdict(list)
    for case, rating in rows:
        by_topic[case.topic or NO_TOPIC_BUCKET].append((case, rating))
    keep = ("cases", "resolved", "resolution_rate", "csat_avg", "csat_count", "first_response_p50_s")
    overall = summarise(rows)
    return {**{k: overall[k] for k in keep},
            "by_topic": {t: {k: v for k, v in summarise(r).items() if k in keep} for t, r in sorted(by_topic.items())}}
