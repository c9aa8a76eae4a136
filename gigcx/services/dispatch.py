"""Live dispatch: who gets offered a case, exclusive accepts, declines, expiry and cascade."""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, exists, insert, update
from sqlalchemy import case as when
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from gigcx.errors import ApiError
from gigcx.events import EXPERT, Outbox, expert_room, expert_summary, offer_payload
from gigcx.models import (
    BUSY_STATUSES,
    Brand,
    Case,
    CaseStatus,
    ExpertProgram,
    Offer,
    OfferStatus,
    ProgramStatus,
    TimerKind,
    utcnow,
)
from gigcx.models.base import iso, table_of
from gigcx.observability import OFFERS, ROUTING, timed
from gigcx.services import cases, presence, rewards, timers, webhooks
from gigcx.uow import UnitOfWork

log = logging.getLogger(__name__)


def reward_for(session: Session, case: Case) -> int:
    """The topic's reward for this case (0 when the topic is unknown)."""
    if case.topic is None:
        return 0
    from gigcx.services import routing

    brand = session.get(Brand, case.brand_id)
    cached = routing.topic_reward(session, brand, case.topic) if brand is not None else None
    if cached is not None:
        return cached
    return rewards.topic_reward(session, case.brand_id, case.topic)


def dispatch(session: Session, outbox: Outbox, case: Case, *, fresh: bool = False) -> list[Offer]:
    """Offer a waiting case to the next best experts, or escalate once `max_offers` rounds failed.

    `fresh`: the case was inserted in this very transaction (an ask), so no other process can
    see it yet: no offer lookups and no guarded round bump are needed."""
    with timed(ROUTING):
        offers = _dispatch(session, outbox, case, fresh)
    if offers:
        OFFERS.labels("offered").inc(len(offers))
        log.info("case offered", extra={"case_id": case.id, "experts": [o.expert_id for o in offers],
                                        "round": case.offer_round})
    return offers


_OFFER = table_of(Offer)
_CASE = table_of(Case)
_INSERT_OFFER = insert(_OFFER).returning(_OFFER.c.id)


def _dispatch(session: Session, outbox: Outbox, case: Case, fresh: bool) -> list[Offer]:
    first = fresh or case.offer_round == 0  # no offer was ever made: nothing to look up
    assert case.id is not None  # a stored row
    if case.status != CaseStatus.matching or (not first and has_open_offer(session, case.id)):
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
    assert brand.id is not None  # a stored row
    pool = presence.available_experts(session, brand.id, routing.topic_pool(brand, case), case.language)
    if routing.no_topic(case):  # none of the brand's topics: its generalists, else its staff
        allowed = routing.generalists(session, brand)
        if not allowed:
            cases.escalate(session, outbox, case, "the question fits none of the brand's topics "
                                                  "and the brand has no generalists")
            return []
        pool = [c for c in pool if c.expert_id in allowed]
    pool = [c for c in pool if c.expert_id not in offered_before]
    chosen, decision = routing.choose(session, brand, case, pool)
    if not chosen:
        case.routing = {**decision, "waiting_since": case.routing.get("waiting_since") or utcnow().isoformat()}
        session.add(case)
        return []
    bumped: int | None
    if fresh:  # invisible to others until commit; the round is written with the routing below
        bumped = case.offer_round + 1
    else:
        bumped = session.execute(update(Case).where(col(Case.id) == case.id, col(Case.status) == CaseStatus.matching,
                                                    col(Case.offer_round) == case.offer_round)
                                 .values(offer_round=col(Case.offer_round) + 1).returning(col(Case.offer_round))
                                 .execution_options(synchronize_session=False)).scalar_one_or_none()
        if bumped is None:
            return []  # another process is dispatching this case right now
        set_committed_value(case, "offer_round", bumped)
    # Core statements below would autoflush pending ORM changes first: the case row is written
    # once, at the end, with its new round and routing decision.
    now = utcnow()
    expires = now + timedelta(seconds=brand.offer_timeout_s)
    reward = reward_for(session, case)
    offers = []
    for pick in chosen:  # Core inserts: every ask makes one (docs/benchmarks.md, "Load")
        offer_id = session.connection().execute(_INSERT_OFFER, {
            "case_id": case.id, "expert_id": pick["expert_id"], "round": bumped, "status": "open",
            "score": pick["score"], "reasons": pick, "created_at": now, "expires_at": expires}).scalar_one()
        offer = Offer(id=offer_id, case_id=case.id, expert_id=pick["expert_id"], round=bumped,
                      status=OfferStatus.open, score=pick["score"], reasons=pick, created_at=now, expires_at=expires)
        offers.append(offer)
        outbox.add("offer", offer_payload(session, offer, case, reward), EXPERT, expert_room(offer.expert_id))
    timers.start_many(session, TimerKind.offer_expiry, [(o.id, expires) for o in offers])  # type: ignore[misc]
    case.offer_round, case.routing = bumped, {**decision, "round": bumped}
    session.add(case)
    webhooks.case_event(session, "case.offered", case, offers=[
        {"expert_id": o.expert_id, "round": o.round, "expires_at": iso(o.expires_at)} for o in offers])
    return offers


def has_open_offer(session: Session, case_id: int) -> bool:
    """Whether some expert currently holds an offer for the case."""
    return session.exec(select(Offer.id).where(Offer.case_id == case_id, Offer.status == OfferStatus.open)).first() is not None


def withdraw_open_offers(session: Session, outbox: Outbox, case: Case, keep: int | None = None) -> None:
    """Withdraw every open offer of the case (but `keep`), telling each expert."""
    assert case.id is not None  # a stored row
    _close_offers(session, outbox, case.id, keep, accepted=False)


# The statements of an accept and of a withdrawal, built once: building them per call (the
# status CASE, the guarded UPDATE of the case) was a third of an accept's server time (py-spy,
# docs/benchmarks.md). Parameters are named apart from the columns: an UPDATE given a parameter
# named like one of its table's columns would also SET that column.
_OPEN_OFFERS = (_OFFER.c.case_id == bindparam("b_case")) & (_OFFER.c.status == OfferStatus.open)
_RETURNED = (_OFFER.c.id, _OFFER.c.expert_id)
_CLOSE_KEEPING = {  # accepted: `keep` becomes accepted and the others withdrawn; else `keep` stays open
    True: update(_OFFER).where(_OPEN_OFFERS).values(
        status=when((_OFFER.c.id == bindparam("b_keep"), "accepted"), else_="withdrawn"),
        responded_at=bindparam("b_now")).returning(*_RETURNED),
    False: update(_OFFER).where(_OPEN_OFFERS, _OFFER.c.id != bindparam("b_keep")).values(
        status="withdrawn", responded_at=bindparam("b_now")).returning(*_RETURNED),
}
_WITHDRAW_ALL = update(_OFFER).where(_OPEN_OFFERS).values(status="withdrawn", responded_at=bindparam("b_now")).returning(*_RETURNED)
_LATEST_OFFER = (select(_OFFER.c.id, _OFFER.c.status, _OFFER.c.expires_at)
                 .where(_OFFER.c.case_id == bindparam("b_case"), _OFFER.c.expert_id == bindparam("b_expert"))
                 .order_by(_OFFER.c.id.desc()).limit(1))
# only while the expert is still in the brand's program: a suspension commits before the
# signal that disconnects them, and an accept racing it must not win the case
_WIN_CASE = (select(Case).from_statement(
    update(_CASE).where(_CASE.c.id == bindparam("b_case"), _CASE.c.status == CaseStatus.matching,
                        select(ExpertProgram.id).where(
                            col(ExpertProgram.expert_id) == bindparam("b_expert"),
                            col(ExpertProgram.brand_id) == _CASE.c.brand_id,
                            col(ExpertProgram.status) == ProgramStatus.approved).exists())
    .values(status=CaseStatus.active, expert_id=bindparam("b_expert"), assigned_at=bindparam("b_now"),
            rev=_CASE.c.rev + 1)
    .returning(*_CASE.c))
    # a Core UPDATE ... RETURNING whose row the ORM loads as the case (the ORM's own bulk UPDATE
    # path cost twice as much); populate_existing: the returned row wins over anything loaded
    .execution_options(populate_existing=True))


def _close_offers(session: Session, outbox: Outbox, case_id: int, keep: int | None, *, accepted: bool,
                  cancel_too: dict[str, list[int]] | None = None) -> None:
    """One UPDATE for all of a case's open offers: `keep` becomes accepted when `accepted`, the
    others withdrawn (each expert told); their expiry timers, and `cancel_too`, are cancelled in
    one more (on PostgreSQL in the same statement)."""
    params: dict[str, Any] = {"b_case": case_id, "b_now": utcnow(), "b_keep": keep}
    q = _WITHDRAW_ALL if keep is None else _CLOSE_KEEPING[accepted]
    conn = session.connection()
    extra = [(kind, ids) for kind, ids in (cancel_too or {}).items() if ids]
    if conn.dialect.name == "postgresql":  # the timers cancelled in the same statement
        for i, (kind, ids) in enumerate(extra):
            params[f"b_kind{i}"], params[f"b_ids{i}"] = kind, list(ids)
        closed = conn.execute(timers.cancel_along(q, TimerKind.offer_expiry, len(extra)), params).all()
    else:
        closed = conn.execute(q, params).all()
        timers.cancel_all(session, {TimerKind.offer_expiry: [offer_id for offer_id, _ in closed], **dict(extra)})
    for offer_id, expert_id in closed:
        if offer_id != keep:
            outbox.add("offer_withdrawn", {"case_id": case_id}, EXPERT, expert_room(expert_id))


def accept(session: Session, outbox: Outbox, expert_id: int, case_id: int) -> Case:
    """Take the case: the first accept wins; the database decides, not process memory."""
    offer = session.connection().execute(_LATEST_OFFER, {"b_case": case_id, "b_expert": expert_id}).first()
    if offer is None:
        raise ApiError("not_found", "no such case")
    now = utcnow()
    if offer.status == OfferStatus.accepted:
        taken = session.get(Case, case_id)
        assert taken is not None  # the accepted offer's case
        return taken
    if offer.status != OfferStatus.open or offer.expires_at <= now:
        code = "already_taken" if offer.status == OfferStatus.withdrawn else "offer_expired"
        raise ApiError(code, "this offer is no longer open", status=409)
    won = session.scalars(_WIN_CASE, {"b_case": case_id, "b_expert": expert_id, "b_now": now}).first()
    if won is None:  # raising rolls the unit of work back
        raise ApiError("already_taken", "another expert took this case", status=409)
    OFFERS.labels("accepted").inc()
    log.info("case accepted", extra={"case_id": case_id, "expert_id": expert_id})
    # this offer accepted, the others withdrawn, and every timer of the offers and the case
    # cancelled: three statements whatever the fan-out
    _close_offers(session, outbox, case_id, offer.id, accepted=True, cancel_too={TimerKind.case_escalate: [case_id]})
    expert = expert_summary(session, expert_id) or {"display_name": "An expert"}
    cases.system_message(session, outbox, won, f"{expert['display_name']} is here to help.")
    outbox.case_changed(session, won, rev_set=True)
    webhooks.case_event(session, "case.accepted", won)
    return won


def release_expert(session: Session, outbox: Outbox, expert_id: int, brand_id: int) -> list[int]:
    """The expert left the brand's program (suspended, rejected): withdraw their open offers of the
    brand's cases and hand the cases they hold back to matching, as if never accepted. They earn
    nothing more from them: the reward goes to whoever resolves the case. Returns the case ids."""
    brand = session.get(Brand, brand_id)
    assert brand is not None
    offered = session.connection().execute(
        update(_OFFER).where(_OFFER.c.expert_id == expert_id, _OFFER.c.status == OfferStatus.open,
                             _OFFER.c.case_id.in_(select(Case.id).where(Case.brand_id == brand_id)))
        .values(status=OfferStatus.withdrawn, responded_at=utcnow()).returning(_OFFER.c.id, _OFFER.c.case_id)).all()
    timers.cancel_all(session, {TimerKind.offer_expiry: [offer_id for offer_id, _ in offered]})
    for _, case_id in offered:
        outbox.add("offer_withdrawn", {"case_id": case_id, "reason": "program_left"}, EXPERT, expert_room(expert_id))
    q = select(Case).where(Case.expert_id == expert_id, Case.brand_id == brand_id,
                           col(Case.status).in_(BUSY_STATUSES)).order_by(col(Case.id))
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update()
    held = list(session.exec(q))
    now = utcnow()
    for case in held:
        assert case.id is not None  # a stored row
        timers.cancel(session, TimerKind.confirm_window, case.id)
        case.status, case.expert_id, case.offer_round = CaseStatus.matching, None, 0
        case.assigned_at = case.proposed_at = case.first_response_at = None
        case.routing = {**case.routing, "released": {"expert_id": expert_id, "at": now.isoformat()}}
        session.add(case)
        timers.schedule(session, TimerKind.case_escalate, case.id, now + timedelta(seconds=brand.escalate_after_s))
        cases.system_message(session, outbox, case, "Your expert is no longer available; "
                                                    "we are finding someone else to help.")
        outbox.case_changed(session, case)
        session.flush()
    released: set[int] = {int(case_id) for _, case_id in offered} | {int(c.id) for c in held}  # type: ignore[arg-type]
    for case_id in sorted(released):
        waiting = session.get(Case, case_id)
        if waiting is not None and waiting.status == CaseStatus.matching:
            dispatch(session, outbox, waiting)
    log.info("expert released", extra={"expert_id": expert_id, "brand_id": brand_id,
                                       "cases": [c.id for c in held], "offers": len(offered)})
    return [int(c.id) for c in held]  # type: ignore[arg-type]


def decline(session: Session, outbox: Outbox, expert_id: int, case_id: int) -> None:
    """Refuse an offer; the case moves on to the next expert at once."""
    offer = session.exec(select(Offer).where(Offer.case_id == case_id, Offer.expert_id == expert_id,
                                             Offer.status == OfferStatus.open)).first()
    if offer is None:
        raise ApiError("offer_expired", "you hold no open offer for this case", status=409)
    offer.status, offer.responded_at = OfferStatus.declined, utcnow()
    OFFERS.labels("declined").inc()
    session.add(offer)
    assert offer.id is not None  # a stored row
    timers.cancel(session, TimerKind.offer_expiry, offer.id)
    session.flush()
    case = session.get(Case, case_id)
    assert case is not None  # the declined offer's case
    dispatch(session, outbox, case)


def offer_expired(session: Session, outbox: Outbox, offer_id: int) -> None:
    offer = session.get(Offer, offer_id)
    if offer is None or offer.status != OfferStatus.open:
        return
    offer.status, offer.responded_at = OfferStatus.expired, utcnow()
    OFFERS.labels("expired").inc()
    session.add(offer)
    outbox.add("offer_withdrawn", {"case_id": offer.case_id, "reason": "expired"}, EXPERT,
               expert_room(offer.expert_id))
    session.flush()
    case = session.get(Case, offer.case_id)
    assert case is not None  # the offer's case
    dispatch(session, outbox, case)


def escalate_unanswered(session: Session, outbox: Outbox, case_id: int) -> None:
    case = session.get(Case, case_id)
    if case is not None and case.status == CaseStatus.matching:
        brand = session.get(Brand, case.brand_id)
        assert brand is not None  # the case's brand
        cases.escalate(session, outbox, case, f"no expert accepted within {brand.escalate_after_s} s")


def confirm_by_silence(session: Session, outbox: Outbox, case_id: int) -> None:
    case = session.get(Case, case_id)
    if case is not None and case.status == CaseStatus.pending_confirmation:
        cases.system_message(session, outbox, case, "Marked as solved: no reply within the confirmation window.")
        cases.mark_resolved(session, outbox, case, by="silence")


def waiting_cases(session: Session, limit: int = 50, brand_ids: list[int] | None = None) -> list[Case]:
    """Cases still matching that nobody holds an offer for (the queue), oldest first."""
    q = select(Case).where(Case.status == CaseStatus.matching,
                           ~exists().where(col(Offer.case_id) == Case.id, col(Offer.status) == OfferStatus.open))
    if brand_ids is not None:
        q = q.where(col(Case.brand_id).in_(brand_ids))
    return list(session.exec(q.order_by(col(Case.created_at)).limit(limit)))


def sweep(uow: UnitOfWork, brand_ids: list[int] | None = None) -> int:
    """Offer queued cases to whoever is available now; returns how many offers went out.

    Several units of work in sequence on `uow`'s session: each case is dispatched (and its
    offers sent) in a transaction of its own, so one bad case rolls back alone and never
    stalls the queue."""
    sent = 0
    with uow:
        for case in waiting_cases(uow.session, brand_ids=brand_ids):
            try:
                with uow:
                    sent += len(dispatch(uow.session, uow.outbox, case))
            except Exception:  # one bad case must not stall the queue
                log.exception("dispatch of case %s failed", case.id)
    return sent


def describe(offer: Offer) -> dict[str, Any]:
    """An offer as brands inspect it (why this expert)."""
    return {"expert_id": offer.expert_id, "round": offer.round, "status": offer.status,
            "score": offer.score, "reasons": offer.reasons}
