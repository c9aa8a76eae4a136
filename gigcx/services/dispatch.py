"""Live dispatch: who gets offered a case, exclusive accepts, declines, expiry and cascade."""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import exists, func, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, select

from gigcx.errors import ApiError
from gigcx.events import EXPERT, Outbox, expert_room, offer_payload
from gigcx.models import Brand, Case, CaseStatus, Expert, Offer, Topic, utcnow
from gigcx.observability import OFFERS, ROUTING, timed
from gigcx.services import cases, presence, timers

log = logging.getLogger(__name__)
BUSY = (CaseStatus.active.value, CaseStatus.pending_confirmation.value)


def reward_for(session: Session, case: Case) -> int:
    """The topic's reward for this case (0 when the topic is unknown)."""
    if case.topic is None:
        return 0
    topic = session.exec(select(Topic).where(Topic.brand_id == case.brand_id, Topic.slug == case.topic)).first()
    return topic.reward_cents if topic else 0


def dispatch(session: Session, outbox: Outbox, case: Case) -> list[Offer]:
    """Offer a waiting case to the next best experts, or escalate once `max_offers` rounds failed."""
    with timed(ROUTING):
        offers = _dispatch(session, outbox, case)
    if offers:
        OFFERS.labels("offered").inc(len(offers))
        log.info("case offered", extra={"case_id": case.id, "experts": [o.expert_id for o in offers],
                                        "round": case.offer_round})
    return offers


def _dispatch(session: Session, outbox: Outbox, case: Case) -> list[Offer]:
    first = case.offer_round == 0  # no offer was ever made: nothing to look up
    if case.status != CaseStatus.matching.value or (not first and has_open_offer(session, case.id)):  # type: ignore[arg-type]
        return []
    brand = session.get(Brand, case.brand_id)
    assert brand is not None
    if case.offer_round >= brand.max_offers:
        cases.escalate(session, outbox, case, f"no expert accepted after {case.offer_round} offer rounds")
        return []
    from gigcx.services import earnings

    if not earnings.may_route(session, brand, case):  # budget policy: hold until funded
        case.routing = {**case.routing, "held": "budget_exhausted"}
        session.add(case)
        return []
    from gigcx.services import routing

    offered_before = set() if first else set(session.exec(select(Offer.expert_id).where(Offer.case_id == case.id)))
    pool = presence.available_experts(session, brand.id, routing.topic_pool(brand, case), case.language)  # type: ignore[arg-type]
    pool = [c for c in pool if c.expert_id not in offered_before]
    chosen, decision = routing.choose(session, brand, case, pool)
    if not chosen:
        case.routing = {**decision, "waiting_since": case.routing.get("waiting_since") or utcnow().isoformat()}
        session.add(case)
        return []
    bumped = session.execute(update(Case).where(Case.id == case.id, Case.status == CaseStatus.matching.value,  # type: ignore[arg-type]
                                                Case.offer_round == case.offer_round)
                             .values(offer_round=Case.offer_round + 1).returning(Case.offer_round)
                             .execution_options(synchronize_session=False)).scalar_one_or_none()
    if bumped is None:
        return []  # another process is dispatching this case right now
    set_committed_value(case, "offer_round", bumped)
    now = utcnow()
    reward = reward_for(session, case)
    offers = []
    for pick in chosen:
        offer = Offer(case_id=case.id, expert_id=pick["expert_id"], round=case.offer_round,  # type: ignore[arg-type]
                      score=pick["score"], reasons=pick,
                      expires_at=now + timedelta(seconds=brand.offer_timeout_s))
        session.add(offer)
        session.flush()
        timers.start(session, "offer_expiry", offer.id, offer.expires_at)  # type: ignore[arg-type]
        outbox.add("offer", offer_payload(session, offer, case, reward), EXPERT, expert_room(offer.expert_id))
        offers.append(offer)
    case.routing = {**decision, "round": case.offer_round}
    session.add(case)
    return offers


def has_open_offer(session: Session, case_id: int) -> bool:
    """Whether some expert currently holds an offer for the case."""
    return session.exec(select(Offer.id).where(Offer.case_id == case_id, Offer.status == "open")).first() is not None


def withdraw_open_offers(session: Session, outbox: Outbox, case: Case, keep: int | None = None) -> None:
    """Withdraw every open offer of the case (but `keep`), telling each expert."""
    for offer in session.exec(select(Offer).where(Offer.case_id == case.id, Offer.status == "open")):
        if offer.id == keep:
            continue
        offer.status, offer.responded_at = "withdrawn", utcnow()
        session.add(offer)
        timers.cancel(session, "offer_expiry", offer.id)  # type: ignore[arg-type]
        outbox.add("offer_withdrawn", {"case_id": case.id}, EXPERT, expert_room(offer.expert_id))


def accept(session: Session, outbox: Outbox, expert_id: int, case_id: int) -> Case:
    """Take the case: the first accept wins; the database decides, not process memory."""
    offer = session.exec(select(Offer).where(Offer.case_id == case_id, Offer.expert_id == expert_id)
                         .order_by(Offer.id.desc())).first()  # type: ignore[union-attr]
    if offer is None:
        raise ApiError("not_found", "no such case")
    now = utcnow()
    if offer.status == "accepted":
        return session.get(Case, case_id)  # type: ignore[return-value]
    if offer.status != "open" or offer.expires_at <= now:
        code = "already_taken" if offer.status == "withdrawn" else "offer_expired"
        raise ApiError(code, "this offer is no longer open", status=409)
    won = session.execute(update(Case).where(Case.id == case_id, Case.status == CaseStatus.matching.value)  # type: ignore[arg-type]
                          .values(status=CaseStatus.active.value, expert_id=expert_id, assigned_at=now))
    if won.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        raise ApiError("already_taken", "another expert took this case", status=409)
    offer.status, offer.responded_at = "accepted", now
    OFFERS.labels("accepted").inc()
    log.info("case accepted", extra={"case_id": case_id, "expert_id": expert_id})
    session.add(offer)
    timers.cancel(session, "offer_expiry", offer.id)  # type: ignore[arg-type]
    timers.cancel(session, "case_escalate", case_id)
    case = session.get(Case, case_id)  # first load in this session: it sees the update above
    withdraw_open_offers(session, outbox, case, keep=offer.id)  # type: ignore[arg-type]
    expert = session.get(Expert, expert_id)
    cases.system_message(session, outbox, case, f"{expert.display_name} is here to help.")  # type: ignore[arg-type, union-attr]
    outbox.case_changed(session, case)  # type: ignore[arg-type]
    return case  # type: ignore[return-value]


def decline(session: Session, outbox: Outbox, expert_id: int, case_id: int) -> None:
    """Refuse an offer; the case moves on to the next expert at once."""
    offer = session.exec(select(Offer).where(Offer.case_id == case_id, Offer.expert_id == expert_id,
                                             Offer.status == "open")).first()
    if offer is None:
        raise ApiError("offer_expired", "you hold no open offer for this case", status=409)
    offer.status, offer.responded_at = "declined", utcnow()
    OFFERS.labels("declined").inc()
    session.add(offer)
    timers.cancel(session, "offer_expiry", offer.id)  # type: ignore[arg-type]
    session.flush()
    case = session.get(Case, case_id)
    dispatch(session, outbox, case)  # type: ignore[arg-type]


@timers.handler("offer_expiry")
def _offer_expired(session: Session, outbox: Outbox, offer_id: int) -> None:
    offer = session.get(Offer, offer_id)
    if offer is None or offer.status != "open":
        return
    offer.status, offer.responded_at = "expired", utcnow()
    OFFERS.labels("expired").inc()
    session.add(offer)
    outbox.add("offer_withdrawn", {"case_id": offer.case_id, "reason": "expired"}, EXPERT,
               expert_room(offer.expert_id))
    session.flush()
    dispatch(session, outbox, session.get(Case, offer.case_id))  # type: ignore[arg-type]


@timers.handler("case_escalate")
def _escalate_unanswered(session: Session, outbox: Outbox, case_id: int) -> None:
    case = session.get(Case, case_id)
    if case is not None and case.status == CaseStatus.matching.value:
        brand = session.get(Brand, case.brand_id)
        cases.escalate(session, outbox, case, f"no expert accepted within {brand.escalate_after_s} s")  # type: ignore[union-attr]


@timers.handler("confirm_window")
def _confirm_by_silence(session: Session, outbox: Outbox, case_id: int) -> None:
    case = session.get(Case, case_id)
    if case is not None and case.status == CaseStatus.pending_confirmation.value:
        cases.system_message(session, outbox, case, "Marked as solved: no reply within the confirmation window.")
        cases.mark_resolved(session, outbox, case)


def waiting_cases(session: Session, limit: int = 50, brand_ids: list[int] | None = None) -> list[Case]:
    """Cases still matching that nobody holds an offer for (the queue), oldest first."""
    q = select(Case).where(Case.status == CaseStatus.matching.value,
                           ~exists().where(Offer.case_id == Case.id, Offer.status == "open"))
    if brand_ids is not None:
        q = q.where(Case.brand_id.in_(brand_ids))  # type: ignore[attr-defined]
    return list(session.exec(q.order_by(Case.created_at).limit(limit)))  # type: ignore[arg-type]


def load(session: Session, expert_id: int) -> int:
    """Cases the expert is working on plus offers they hold."""
    busy = session.exec(select(func.count()).select_from(Case).where(
        Case.expert_id == expert_id, Case.status.in_(BUSY))).one()  # type: ignore[attr-defined]
    held = session.exec(select(func.count()).select_from(Offer).where(
        Offer.expert_id == expert_id, Offer.status == "open")).one()
    return int(busy) + int(held)


def sweep(session: Session, brand_ids: list[int] | None = None) -> int:
    """Offer queued cases to whoever is available now; returns how many offers went out."""
    sent = 0
    for case in waiting_cases(session, brand_ids=brand_ids):
        outbox = Outbox()
        try:
            sent += len(dispatch(session, outbox, case))
            session.commit()
        except Exception:  # one bad case must not stall the queue
            session.rollback()
            log.exception("dispatch of case %s failed", case.id)
            continue
        outbox.flush()
    return sent


def describe(offer: Offer) -> dict[str, Any]:
    """An offer as brands inspect it (why this expert)."""
    return {"expert_id": offer.expert_id, "round": offer.round, "status": offer.status,
            "score": offer.score, "reasons": offer.reasons}
