"""Expert choice for a case: the brand's ExpertRanker (learned from its resolved and rated cases)
combined with current load; the pure policy lives in `matching`."""
from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from gigcx.models import Brand, Case, Rating
from gigcx.services.presence import Available
from matching import ExpertRanker, ResolvedCase

_lock = threading.Lock()
_rankers: dict[int, tuple[tuple[Any, ...], ExpertRanker]] = {}


def _history_version(session: Session, brand_id: int) -> tuple[Any, ...]:
    return tuple(session.exec(select(func.count(), func.max(Case.resolved_at), func.max(Case.reviewed_at))
                              .where(Case.brand_id == brand_id, Case.expert_id.is_not(None))).one())  # type: ignore[union-attr]


def history(session: Session, brand_id: int, limit: int = 20000) -> list[ResolvedCase]:
    """The brand's assigned cases as training data: resolved (and not rejected) or not, rating."""
    rows = session.exec(select(Case, Rating.csat).join(Rating, Rating.case_id == Case.id, isouter=True)  # type: ignore[arg-type]
                        .where(Case.brand_id == brand_id, Case.expert_id.is_not(None),  # type: ignore[union-attr]
                               Case.status.in_(("resolved", "escalated", "closed")))  # type: ignore[attr-defined]
                        .order_by(Case.id.desc()).limit(limit)).all()  # type: ignore[union-attr]
    out = []
    for case, csat in rows:
        ok = case.status == "resolved" and case.review_verdict != "reject"
        out.append(ResolvedCase(text=case.question, topics=[case.topic] if case.topic else [],
                                expert_id=case.expert_id, resolved=ok, rating=csat))
    return out


def ranker_for(session: Session, brand_id: int) -> ExpertRanker:
    """The brand's ranker, refitted when its case history changed."""
    version = _history_version(session, brand_id)
    cached = _rankers.get(brand_id)
    if cached is None or cached[0] != version:
        cached = (version, ExpertRanker().fit(history(session, brand_id)))
        with _lock:
            _rankers[brand_id] = cached
    return cached[1]


def choose(session: Session, brand: Brand, case: Case, pool: list[Available]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rank the available experts and take the best `offer_fanout`, with the reasons."""
    decision: dict[str, Any] = {"policy": "ranker+load", "available": len(pool),
                                "pool": case.topic if pool and all(case.topic in a.topics for a in pool) else "general"}
    if not pool:
        decision["reason"] = "no approved expert for this topic and language is online with spare capacity"
        return [], decision
    ranked = dict(ranker_for(session, brand.id).rank(case.question, [case.topic] if case.topic else [],  # type: ignore[arg-type]
                                                      candidates=[a.expert_id for a in pool]))
    scored = []
    for a in pool:
        expertise = ranked.get(a.expert_id, 0.0)
        load_penalty = 0.5 * a.load / max(a.max_cases, 1)
        scored.append({"expert_id": a.expert_id, "score": round(expertise - load_penalty, 4),
                       "expertise": round(expertise, 4), "load": a.load, "max_cases": a.max_cases})
    scored.sort(key=lambda d: (-d["score"], d["expert_id"]))
    decision["ranked"] = scored[:10]
    return scored[: max(brand.offer_fanout, 1)], decision
