"""Brand reviews of resolved cases: approve (release now) or reject (take back inside the window).

Key: `reverse:case:{id}` (pending -> budget), refused after `release:case:{id}`: no clawback.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, select

import payouts
from gigcx.errors import ApiError
from gigcx.models import Brand, Case, CaseStatus, utcnow
from gigcx.models.base import iso
from gigcx.services import ledger, timers
from gigcx.services.rewards import REVIEW_TIMER, _aware, _posted, credited, release_case


def available_at(session: Session, case: Case) -> datetime:
    """When the case's review window ends (fixed at resolution)."""
    tx = ledger.get(session, payouts.reward_key(case.id))
    stamp = tx.metadata.get("available_at") if tx else None
    if stamp:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    brand = session.get(Brand, case.brand_id)
    base = _aware(case.resolved_at) or utcnow()
    return base + timedelta(seconds=brand.review_window_s if brand else 0)


def reward_status(session: Session, case_id: int) -> str:
    """none, pending, released or reversed."""
    if _posted(session, payouts.reverse_key(case_id)):
        return "reversed"
    if _posted(session, payouts.release_key(case_id)):
        return "released"
    return "pending" if credited(session, case_id) is not None else "none"


def review(session: Session, *, brand_id: int, case_id: int, verdict: str, note: str | None) -> dict[str, Any]:
    """Record the brand's verdict on a resolved case and move the money.

    * reject inside the review window: the pending reward goes back to the brand's budget.
    * reject after it (or after an approve): the verdict is recorded, the money stays.
    * approve: releases the reward at once (the brand waives the rest of its window).
    A second identical verdict is a no-op; a different one is a conflict.
    """
    q = select(Case).where(Case.id == case_id, Case.brand_id == brand_id)
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update()
    case = session.exec(q).first()
    if case is None:
        raise ApiError("not_found", "no such case")
    if case.status != CaseStatus.resolved:
        raise ApiError("conflict", f"only resolved cases are reviewed; this one is {case.status}")
    if case.review_verdict is not None:
        if case.review_verdict != verdict:
            raise ApiError("conflict", f"this case was already reviewed: {case.review_verdict}")
        return review_view(session, case, clawback=reward_status(session, case_id) == "reversed")
    clawback = False
    if verdict == "reject" and utcnow() < available_at(session, case) and case.expert_id is not None:
        ledger.lock(session, ["acct:" + payouts.expert_pending(case.expert_id)])
        amount = credited(session, case.id)  # type: ignore[arg-type]
        if amount is not None and not _posted(session, payouts.release_key(case.id)):
            ledger.post(session, payouts.reverse_reward(case.id, case.brand_id, case.expert_id, amount))
            clawback = True
    else:
        release_case(session, case.id)  # type: ignore[arg-type]
    timers.cancel(session, REVIEW_TIMER, case.id)  # type: ignore[arg-type]
    case.review_verdict, case.review_note, case.reviewed_at = verdict, note, utcnow()
    session.add(case)
    from gigcx.services import webhooks

    webhooks.case_event(session, "case.reviewed", case)
    if verdict == "reject":
        from gigcx.services import answers

        answers.reject_for_case(session, case.id)  # type: ignore[arg-type]
    session.flush()
    return review_view(session, case, clawback=clawback)


def review_view(session: Session, case: Case, *, clawback: bool) -> dict[str, Any]:
    """The review answer."""
    amount = credited(session, case.id)  # type: ignore[arg-type]
    assert case.id is not None
    return {"case_id": case.id, "verdict": case.review_verdict, "note": case.review_note,
            "reviewed_at": iso(case.reviewed_at), "reward_cents": amount.cents if amount else 0,
            "currency": amount.currency if amount else None,
            "reward_status": reward_status(session, case.id),
            "clawback": clawback, "review_window_ends_at": iso(available_at(session, case))}
