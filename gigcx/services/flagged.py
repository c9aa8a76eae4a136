"""The brand's side of trust controls: held cases (release or reject in one action), the QA
sample's verdicts, the audit trail and quality scores; and what an expert is told about theirs."""
from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

import payouts
from gigcx.errors import ApiError
from gigcx.events import message_payload
from gigcx.models import (
    Brand,
    Case,
    Customer,
    Expert,
    ExpertQuality,
    HoldState,
    Message,
    TrustDecision,
    TrustFlag,
    utcnow,
)
from gigcx.models.base import iso
from gigcx.services import earnings, ledger, timers, trust


def _load(session: Session, brand_id: int, case_id: int) -> tuple[TrustFlag | None, Case]:
    case = session.get(Case, case_id)
    if case is None or case.brand_id != brand_id:
        raise ApiError("not_found", "no such case")
    return trust._flag(session, case_id, lock=True), case


def decide(session: Session, *, brand_id: int, case_id: int, action: str, note: str, actor: str) -> dict[str, Any]:
    """Release (the reward follows its review window again, or becomes available at once when the
    window is over) or reject (the reward goes back to the brand's budget) a held case.
    Repeating the same decision is a no-op; the other one is a conflict."""
    flag, case = _load(session, brand_id, case_id)
    target = {"release": HoldState.released, "reject": HoldState.rejected}[action]
    if flag is None:
        raise ApiError("conflict", "this case's reward is not held")
    if flag.hold_state == target:
        return flag_view(session, flag, case, detail=True)
    if flag.hold_state != HoldState.held:
        raise ApiError("conflict", "this case's reward is not held" if flag.hold_state is None
                       else f"this case was already decided: {flag.hold_state}")
    now = utcnow()
    flag.hold_state, flag.decided_at, flag.updated_at = target, now, now
    session.add(flag)
    trust._audit(session, flag, action, actor, note)
    if action == "release":
        if now >= earnings.available_at(session, case):
            earnings.release_case(session, case_id)
    else:
        _take_back(session, case)
        case.review_verdict, case.review_note, case.reviewed_at = "reject", note or None, now
        session.add(case)
        session.flush()
        brand = session.get(Brand, brand_id)
        if case.topic and case.expert_id is not None and brand is not None:
            trust.refresh_quality(session, brand, case.expert_id, case.topic)
    session.flush()
    return flag_view(session, flag, case, detail=True)


def _take_back(session: Session, case: Case) -> None:
    """Reverse whatever the case credited (held money was never released)."""
    assert case.id is not None and case.expert_id is not None
    ledger.lock(session, ["acct:" + payouts.expert_pending(case.expert_id)])
    amount = earnings.credited(session, case.id)
    if amount is not None and amount.cents > 0 and ledger.get(session, payouts.release_key(case.id)) is None:
        ledger.post(session, payouts.reverse_reward(case.id, case.brand_id, case.expert_id, amount))
    timers.cancel(session, earnings.REVIEW_TIMER, case.id)


def qa_verdict(session: Session, *, brand_id: int, case_id: int, verdict: str, note: str, actor: str) -> dict[str, Any]:
    """Record the brand's QA verdict on a sampled case (it feeds the expert's quality)."""
    flag, case = _load(session, brand_id, case_id)
    if flag is None or not flag.sampled:
        raise ApiError("conflict", "this case is not in the QA sample")
    if flag.qa_verdict == verdict:
        return flag_view(session, flag, case, detail=True)
    if flag.qa_verdict is not None:
        raise ApiError("conflict", f"this case already has a QA verdict: {flag.qa_verdict}")
    flag.qa_verdict, flag.updated_at = verdict, utcnow()
    session.add(flag)
    trust._audit(session, flag, "qa_" + verdict, actor, note)
    session.flush()
    brand = session.get(Brand, brand_id)
    if case.topic and brand is not None:
        trust.refresh_quality(session, brand, flag.expert_id, case.topic)
    session.flush()
    return flag_view(session, flag, case, detail=True)


# ---- views ------------------------------------------------------------------------------------------

def flag_view(session: Session, flag: TrustFlag, case: Case, *, detail: bool = False,
              names: dict[int, str] | None = None) -> dict[str, Any]:
    """A flagged case: signals, hold state, QA state and the reward; `detail` adds the question,
    the customer, the full transcript and the decisions."""
    name = (names or {}).get(flag.expert_id)
    if name is None and flag.expert_id:
        expert = session.get(Expert, flag.expert_id)
        name = expert.display_name if expert else None
    credited = earnings.credited(session, case.id)  # type: ignore[arg-type]
    out: dict[str, Any] = {
        "case_id": case.id, "topic": case.topic, "status": case.status,
        "expert": {"id": flag.expert_id, "display_name": name} if flag.expert_id else None,
        "hold_state": flag.hold_state, "held": flag.hold_state == HoldState.held,
        "sampled": flag.sampled, "qa_verdict": flag.qa_verdict,
        "score": flag.score, "signals": flag.signals, "reasons": [s["reason"] for s in flag.signals],
        "reward_cents": credited.cents if credited else 0,
        "currency": credited.currency if credited else None,
        "reward_status": earnings.reward_status(session, case.id),  # type: ignore[arg-type]
        "resolved_at": iso(case.resolved_at), "resolved_by": case.resolved_by,
        "flagged_at": iso(flag.created_at) if flag.id is not None else None, "decided_at": iso(flag.decided_at),
    }
    if detail:
        customer = session.get(Customer, case.customer_id)
        msgs = session.exec(select(Message).where(Message.case_id == case.id).order_by(Message.seq)).all()  # type: ignore[arg-type]
        out["question"] = case.question
        out["customer"] = {"id": case.customer_id, "user_id": customer.external_id if customer else None}
        out["messages"] = [message_payload(m) for m in msgs]
        out["decisions"] = [decision_view(d) for d in session.exec(
            select(TrustDecision).where(TrustDecision.case_id == case.id).order_by(TrustDecision.id))]  # type: ignore[arg-type]
    return out


def decision_view(d: TrustDecision) -> dict[str, Any]:
    """One audited decision."""
    return {"id": d.id, "case_id": d.case_id, "action": d.action, "actor": d.actor, "note": d.note,
            "at": iso(d.created_at)}


def list_flags(session: Session, brand_id: int, *, state: str | None, sampled: bool | None, limit: int,
               before_id: int | None) -> dict[str, Any]:
    """The brand's flagged cases, newest first: by hold state (`all` for every flag) or the QA queue."""
    q = select(TrustFlag, Case).join(Case, Case.id == TrustFlag.case_id).where(TrustFlag.brand_id == brand_id)  # type: ignore[arg-type]
    if state == "pending_qa":
        q = q.where(TrustFlag.sampled.is_(True), TrustFlag.qa_verdict.is_(None))  # type: ignore[attr-defined, union-attr]
    elif state != "all" and state is not None:
        q = q.where(TrustFlag.hold_state == state)
    if sampled is not None:
        q = q.where(TrustFlag.sampled.is_(sampled))  # type: ignore[attr-defined]
    if before_id is not None:
        q = q.where(TrustFlag.id < before_id)  # type: ignore[operator]
    rows = session.exec(q.order_by(TrustFlag.id.desc()).limit(limit + 1)).all()  # type: ignore[union-attr]
    page = rows[:limit]
    ids = list({f.expert_id for f, _ in page})
    names = dict(session.exec(select(Expert.id, Expert.display_name).where(Expert.id.in_(ids))).all()) if ids else {}  # type: ignore[union-attr]
    return {"cases": [flag_view(session, f, c, names=names) for f, c in page],  # type: ignore[arg-type]
            "next_before_id": page[-1][0].id if len(rows) > limit and page else None}


def flag_detail(session: Session, brand_id: int, case_id: int) -> dict[str, Any]:
    """One case with its flag (an empty one when it was never flagged), transcript and decisions."""
    flag, case = _load(session, brand_id, case_id)
    if flag is None:
        flag = TrustFlag(case_id=case_id, brand_id=brand_id, expert_id=case.expert_id or 0, topic=case.topic)
    return flag_view(session, flag, case, detail=True)


def decisions(session: Session, brand_id: int, case_id: int | None, limit: int) -> list[dict[str, Any]]:
    """The brand's audit trail, newest first."""
    q = select(TrustDecision).where(TrustDecision.brand_id == brand_id)
    if case_id is not None:
        q = q.where(TrustDecision.case_id == case_id)
    return [decision_view(d) for d in session.exec(q.order_by(TrustDecision.id.desc()).limit(limit))]  # type: ignore[union-attr]


def _quality_row(row: ExpertQuality, threshold: float, name: str | None = None) -> dict[str, Any]:
    below = row.score < threshold
    return {"expert_id": row.expert_id, "display_name": name, "topic": row.topic, "score": row.score,
            "ratings": row.ratings, "reviews": row.reviews, "rating_ring": row.ring,
            "threshold": threshold, "below_threshold": below,
            "reason": (f"quality {row.score:.2f} in {row.topic} is below the brand's threshold "
                       f"{threshold:.2f}: new rewards are held for review and you get fewer offers")
            if below else None,
            "updated_at": iso(row.updated_at)}


def brand_quality(session: Session, brand: Brand, expert_id: int | None) -> dict[str, Any]:
    """Every expert's quality per topic in the brand, lowest first."""
    threshold = trust.settings_for(brand).quality_threshold
    q = select(ExpertQuality, Expert.display_name).join(Expert, Expert.id == ExpertQuality.expert_id).where(  # type: ignore[arg-type]
        ExpertQuality.brand_id == brand.id)
    if expert_id is not None:
        q = q.where(ExpertQuality.expert_id == expert_id)
    rows = session.exec(q.order_by(ExpertQuality.score)).all()  # type: ignore[arg-type]
    return {"threshold": threshold, "scores": [_quality_row(r, threshold, n) for r, n in rows]}


def expert_quality(session: Session, expert_id: int) -> dict[str, Any]:
    """The expert's own quality per brand and topic, with why rewards are held or offers fewer."""
    rows = session.exec(select(ExpertQuality, Brand).join(Brand, Brand.id == ExpertQuality.brand_id).where(  # type: ignore[arg-type]
        ExpertQuality.expert_id == expert_id).order_by(Brand.slug, ExpertQuality.topic)).all()  # type: ignore[arg-type]
    out = []
    for row, brand in rows:
        view = _quality_row(row, trust.settings_for(brand).quality_threshold)
        view.pop("display_name")
        out.append({"brand": brand.slug, **view})
    held = session.exec(select(TrustFlag, Brand.slug).join(Brand, Brand.id == TrustFlag.brand_id).where(  # type: ignore[arg-type]
        TrustFlag.expert_id == expert_id, TrustFlag.hold_state == HoldState.held).order_by(TrustFlag.id.desc())).all()  # type: ignore[union-attr]
    return {"scores": out,
            "held": [{"case_id": f.case_id, "brand": slug, "topic": f.topic,
                      "reasons": [s["reason"] for s in f.signals], "flagged_at": iso(f.created_at)}
                     for f, slug in held]}
