"""The case lifecycle: ask, messages, sync, resolution, ratings, escalation."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Row, bindparam, func, insert, literal, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from gigcx.db import DriverStatement
from gigcx.errors import ApiError
from gigcx.events import (
    Outbox,
    case_payload,
    expert_in_conversation,
    message_payload,
    remember_expert_summary,
)
from gigcx.models import (
    OPEN_STATUSES,
    Brand,
    Case,
    CaseStatus,
    Expert,
    Message,
    OfferStatus,
    Rating,
    Sender,
    Timer,
    TimerKind,
    utcnow,
)
from gigcx.models.base import table_of
from gigcx.services import timers, webhooks
from gigcx.uow import discard, transact_core, transact_driver

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Actor:
    """Who acts on a case: a `customer`, an `expert`, or a brand's `staff`."""

    role: str
    id: int
    brand_id: int | None = None


_LOAD_CASE = select(Case).where(col(Case.id) == bindparam("b_case"))
_LOAD_CASE_LOCKED = _LOAD_CASE.with_for_update()  # (PostgreSQL: SQLite's BEGIN IMMEDIATE already serialises)


def load_case(session: Session, actor: Actor, case_id: int, *, lock: bool = False) -> Case:
    """The case if this actor may see it; `not_found` otherwise (existence is not leaked).

    The statements are built once: building them was a tenth of a resolve's server CPU."""
    q = _LOAD_CASE_LOCKED if lock and session.get_bind().dialect.name == "postgresql" else _LOAD_CASE
    case = session.exec(q, params={"b_case": case_id}).first()
    if case is None or not can_see(session, actor, case):
        raise ApiError("not_found", "no such case")
    return case


def _resolution_statement() -> Any:
    """The case, its brand and its expert's summary (`expert_summary`'s display name and mean
    CSAT) in one statement, where a resolution event read them in three (the summary, an average
    over all the expert's ratings, was a seventh of a resolve's server CPU: docs/benchmarks.md)."""
    rated = aliased(Case)
    mean = (select(func.avg(Rating.csat)).join(rated, col(rated.id) == Rating.case_id)
            .where(col(Rating.expert_id) == Case.expert_id, col(rated.escalated_at).is_(None))
            .correlate(Case).scalar_subquery())
    name = select(Expert.display_name).where(col(Expert.id) == Case.expert_id).correlate(Case).scalar_subquery()
    return (select(Case, Brand, name.label("expert_name"), mean.label("expert_rating"))
            .join(Brand, col(Brand.id) == Case.brand_id).where(col(Case.id) == bindparam("b_case")))


_LOAD_RESOLUTION = _resolution_statement()
_LOAD_RESOLUTION_LOCKED = _LOAD_RESOLUTION.with_for_update(of=Case)


def _load_for_resolution(session: Session, actor: Actor, case_id: int) -> tuple[Case, Brand]:
    """`load_case(lock=True)` for a resolution event, with the case's brand (held by the caller:
    the session's identity map keeps it only while something refers to it) and the expert's
    summary remembered for this session's case payloads. Nothing a resolution does changes an
    expert's name or ratings, so the summary read here is the one the payloads would read."""
    q = _LOAD_RESOLUTION_LOCKED if session.get_bind().dialect.name == "postgresql" else _LOAD_RESOLUTION
    row = session.execute(q, {"b_case": case_id}).first()
    if row is None or not can_see(session, actor, row[0]):
        raise ApiError("not_found", "no such case")
    case, brand, name, rating = row
    if case.expert_id is not None and name is not None:
        remember_expert_summary(session, case.expert_id, name, rating)
    return case, brand


def can_see(session: Session | Connection, actor: Actor, case: Case | Row[Any]) -> bool:
    """A customer sees their cases, an expert those offered or assigned, staff their brand's
    (`session` may be a Core connection)."""
    if actor.role == Sender.customer:
        return case.customer_id == actor.id
    if actor.role == Sender.staff:
        return case.brand_id == actor.brand_id
    if case.expert_id == actor.id:
        return expert_in_conversation(case)  # the expert who escalated has left the conversation
    from gigcx.models import Offer

    return session.execute(select(Offer.id).where(Offer.case_id == case.id, Offer.expert_id == actor.id,
                                                  Offer.status == OfferStatus.open)).first() is not None


_CASE = table_of(Case)
_MSG = table_of(Message)
_TIMER = table_of(Timer)
# what a new case's row holds besides what `ask` sets: the model's defaults (the same row a
# `Case(...)` flushed by the ORM wrote)
_NEW_CASE_DEFAULTS: dict[str, Any] = {
    "status": CaseStatus.matching, "expert_id": None, "offer_round": 0, "rev": 1, "deflected": False,
    "escalation_reason": None, "assigned_at": None, "first_response_at": None, "proposed_at": None,
    "resolved_at": None, "resolved_by": None, "escalated_at": None, "closed_at": None, "reward_cents": 0,
    "review_verdict": None, "review_note": None, "reviewed_at": None, "redacted_at": None}


def _insert_case(postgres: bool) -> Any:
    """The new case's INSERT ... RETURNING, loaded by the ORM as a `Case` (parameters `v_<column>`).

    PostgreSQL: with its first message (`m_*`) and escalation timer (`t_*`) inserted from the new
    row in data-modifying CTEs of the same statement. Parameters are named apart from the columns."""
    ins = insert(_CASE).values({c.name: bindparam(f"v_{c.name}", type_=c.type) for c in _CASE.c if c.name != "id"})
    if not postgres:
        return select(Case).from_statement(ins.returning(*_CASE.c))
    new = ins.returning(*_CASE.c).cte("new_case")
    msg = insert(_MSG).from_select(
        ["case_id", "seq", "sender", "sender_id", "text", "client_id", "sent_at"],
        select(new.c.id, literal(1, _MSG.c.seq.type),
               *(bindparam(f"m_{c.name}", type_=c.type) for c in (_MSG.c.sender, _MSG.c.sender_id, _MSG.c.text,
                                                                 _MSG.c.client_id, _MSG.c.sent_at)))
    ).cte("new_message")
    timer = insert(_TIMER).from_select(
        ["kind", "ref_id", "due_at"],
        select(bindparam("t_kind", type_=_TIMER.c.kind.type), new.c.id,
               bindparam("t_due_at", type_=_TIMER.c.due_at.type))).cte("new_timer")
    return select(Case).from_statement(select(*new.c).add_cte(msg, timer))


_INSERT_CASE = {False: _insert_case(False), True: _insert_case(True)}


def ask(session: Session, outbox: Outbox, *, brand: Brand, customer_id: int, text: str,
        client_id: str, language: str | None) -> tuple[Case, bool]:
    """Open a case for a question (idempotent by client_id); returns (case, created).

    A repeated client_id is found by the unique index, not by a lookup first: repeats are rare
    (a resend after a lost ack) and every ask would pay for the lookup.

    The case is written by a prebuilt Core INSERT ... RETURNING that the ORM loads as the case
    (`_INSERT_CASE`), not by constructing a `Case` and flushing it: the pydantic constructor and
    the unit of work's flush were a sixth of an ask's server CPU on PostgreSQL (py-spy,
    docs/benchmarks.md). On PostgreSQL the question and the escalation timer are inserted in the
    same statement (data-modifying CTEs): one round trip where there were three."""
    from gigcx.services import routing

    topic, confidence = routing.classify(session, brand, text)
    assert brand.id is not None  # a stored row
    now = utcnow()
    values = {**_NEW_CASE_DEFAULTS, "brand_id": brand.id, "customer_id": customer_id, "client_id": client_id,
              "question": text, "language": (language or "en").lower(), "topic": topic,
              "topic_confidence": confidence, "last_seq": 1,  # the question is message 1, inserted with it
              "suggestions": routing.suggest(session, brand, text), "routing": {}, "created_at": now}
    due = now + timedelta(seconds=brand.escalate_after_s)
    conn = session.connection()
    postgres = conn.dialect.name == "postgresql"
    params = {f"v_{k}": v for k, v in values.items()}
    if postgres:  # the question and the escalation timer in the same statement
        params |= {"m_sender": "customer", "m_sender_id": customer_id, "m_text": text, "m_client_id": client_id,
                   "m_sent_at": now, "t_kind": TimerKind.case_escalate, "t_due_at": due}
    try:
        case = session.scalars(_INSERT_CASE[postgres], params).one()
    except IntegrityError:  # this client_id was asked before (a resend, or a race between tabs)
        discard(session)  # nothing was written before the case; a savepoint would tax every ask
        again = session.exec(select(Case).where(Case.customer_id == customer_id,
                                                Case.client_id == client_id)).one()
        return again, False
    assert case.id is not None  # a stored row
    set_committed_value(case, "created_at", now)  # aware, as given (SQLite hands back naive UTC)
    if not postgres:
        _insert_message(session, case.id, "customer", customer_id, text, client_id, seq=1)
        timers.start(session, TimerKind.case_escalate, case.id, due)
    outbox.case_changed(session, case, rev_set=True)  # inserted with rev 1
    webhooks.case_event(session, "case.created", case)
    log.info("case opened", extra={"case_id": case.id, "brand_id": brand.id, "topic": topic,
                                   "topic_confidence": confidence})
    return case, True



# The chat hot path's statements, built once: building them per message (column comparisons,
# generative .where/.values) was a fifth of a message's server time (py-spy, docs/benchmarks.md).
_NEXT_SEQ = (update(_CASE).where(_CASE.c.id == bindparam("b_case"))
             .values(last_seq=_CASE.c.last_seq + 1).returning(_CASE.c.last_seq))
_NEXT_SEQ_RESPONDED = (update(_CASE).where(_CASE.c.id == bindparam("b_case"))
                       .values(last_seq=_CASE.c.last_seq + 1,
                               first_response_at=func.coalesce(_CASE.c.first_response_at, bindparam("b_now", type_=_CASE.c.first_response_at.type)))
                       .returning(_CASE.c.last_seq))
_INSERT_MSG = insert(_MSG).returning(*_MSG.c)


def _insert_after_seq(responded: bool) -> Any:
    """PostgreSQL: the seq bump and the insert in one statement (`WITH s AS (UPDATE ... RETURNING
    last_seq) INSERT ... SELECT`), one round trip instead of two."""
    bump = (_NEXT_SEQ_RESPONDED if responded else _NEXT_SEQ).cte("next_seq")
    # parameters named apart from the case's columns: an UPDATE given a parameter named like one of
    # its table's columns would also SET that column
    values = select(bindparam("v_case_id", type_=_MSG.c.case_id.type), bump.c.last_seq,
                    *(bindparam(f"v_{c.name}", type_=c.type) for c in (_MSG.c.sender, _MSG.c.sender_id,
                                                                       _MSG.c.text, _MSG.c.client_id, _MSG.c.sent_at)))
    cols = ["case_id", "seq", "sender", "sender_id", "text", "client_id", "sent_at"]
    return insert(_MSG).from_select(cols, values).returning(*_MSG.c)


_INSERT_NEXT = {False: _insert_after_seq(False), True: _insert_after_seq(True)}
# The case a message goes to, and (prior_id) the sender's message with this client_id if it was
# already stored: one statement where two were. sqlmodel's select() is typed for at most four columns.
_CASE_OF_MESSAGE = (select(_CASE.c.id, _CASE.c.customer_id, _CASE.c.expert_id,  # type: ignore[call-overload]
                           _CASE.c.brand_id, _CASE.c.status, _CASE.c.escalated_at, _MSG.c.id.label("prior_id"))
                    .select_from(_CASE.outerjoin(_MSG, (_MSG.c.case_id == _CASE.c.id)
                                                 & (_MSG.c.sender == bindparam("b_sender"))
                                                 & (_MSG.c.sender_id == bindparam("b_sender_id"))
                                                 & (_MSG.c.client_id == bindparam("b_client"))))
                    .where(_CASE.c.id == bindparam("b_case")))
_CASE_OF_MESSAGE_LOCKED = _CASE_OF_MESSAGE.with_for_update(of=_CASE)
# (sqlmodel's select() is typed for models and columns; a Core table selects its columns)
_PRIOR_MSG = select(_MSG).where(  # type: ignore[call-overload]
    _MSG.c.case_id == bindparam("b_case"), _MSG.c.sender == bindparam("b_sender"),
    _MSG.c.sender_id == bindparam("b_sender_id"), _MSG.c.client_id == bindparam("b_client"))


def _insert_message(session: Session | Connection, case_id: int, sender: str, sender_id: int | None, text: str,
                    client_id: str | None, *, first_response: bool = False, seq: int | None = None) -> Row[Any]:
    """Store a message with the next gap-free seq of its case (the row update serialises writers).

    Core statements on the session's connection, not the ORM: this is the hot path of every
    chat message, and ORM unit-of-work handling was most of its cost (docs/benchmarks.md,
    "Load"). `first_response` also stamps the case's first response time if it has none. `seq`
    is given only for a case inserted in this transaction with `last_seq` already set. Returns
    the stored row (the message's columns)."""
    now = utcnow()
    conn = session if isinstance(session, Connection) else session.connection()
    row = {"case_id": case_id, "sender": sender, "sender_id": sender_id, "text": text, "client_id": client_id,
           "sent_at": now}
    if seq is None and conn.dialect.name == "postgresql":
        return conn.execute(_INSERT_NEXT[first_response],
                            {**{f"v_{k}": v for k, v in row.items()}, "b_case": case_id, "b_now": now}).one()
    if seq is None:
        seq = conn.execute(_NEXT_SEQ_RESPONDED if first_response else _NEXT_SEQ,
                           {"b_case": case_id, "b_now": now}).scalar_one()
    return conn.execute(_INSERT_MSG, {**row, "seq": seq}).one()


def _append(session: Session, case: Case, sender: str, sender_id: int | None, text: str,
            client_id: str | None) -> Row[Any]:
    """`_insert_message` for a case loaded through the ORM (keeps its `last_seq` current)."""
    assert case.id is not None  # a stored row
    msg = _insert_message(session, case.id, sender, sender_id, text, client_id)
    set_committed_value(case, "last_seq", msg.seq)  # what the row now holds; not a pending change
    return msg


# The whole message in one attempt: bump the case's seq only if this actor may post in it now and
# did not already store this client_id, returning what delivering the message needs. Built once per
# (dialect, role). On PostgreSQL the message insert rides in the same statement (one round trip,
# `WITH s AS (UPDATE ... RETURNING) , i AS (INSERT ... SELECT FROM s RETURNING) SELECT FROM i, s`);
# SQLite, which has no data-modifying CTEs, inserts in a second statement. When the UPDATE matches
# no row (unknown case, not allowed, closed, a resend) nothing was written, and the checked path
# below says why, with the same errors as always.
_PRIOR_EXISTS = (select(_MSG.c.id).where(
    _MSG.c.case_id == bindparam("b_case"), _MSG.c.sender == bindparam("b_sender"),
    _MSG.c.sender_id == bindparam("b_sender_id"), _MSG.c.client_id == bindparam("b_client")).exists())
_DELIVERY_COLS = ("customer_id", "expert_id", "brand_id", "status", "escalated_at")  # what message_posted reads


def _may_post(role: str) -> Any:
    """The SQL form of post_message's checks for an actor of this role (bound: b_actor, b_brand)."""
    if role == Sender.customer:
        who = _CASE.c.customer_id == bindparam("b_actor")
    elif role == Sender.expert:  # assigned and still in the conversation (expert_in_conversation)
        who = ((_CASE.c.expert_id == bindparam("b_actor")) & _CASE.c.escalated_at.is_(None)
               & (_CASE.c.status != CaseStatus.escalated))
    else:  # staff: their brand's escalated cases
        who = (_CASE.c.brand_id == bindparam("b_brand")) & (_CASE.c.status == CaseStatus.escalated)
    return (who & (_CASE.c.status != CaseStatus.resolved) & (_CASE.c.status != CaseStatus.closed)
            & ~_PRIOR_EXISTS)


def _fast_post(postgres: bool, role: str) -> Any:
    seq = {"last_seq": _CASE.c.last_seq + 1}
    if role == Sender.expert:  # an expert's message is the case's first response if it has none
        seq["first_response_at"] = func.coalesce(_CASE.c.first_response_at, bindparam("b_now", type_=_CASE.c.first_response_at.type))
    bump = (update(_CASE).where(_CASE.c.id == bindparam("b_case"), _may_post(role)).values(**seq)
            .returning(_CASE.c.last_seq, *(_CASE.c[c] for c in _DELIVERY_COLS)))
    if not postgres:
        return bump
    s = bump.cte("next_seq")
    values = select(bindparam("v_case_id", type_=_MSG.c.case_id.type), s.c.last_seq,
                    *(bindparam(f"v_{c.name}", type_=c.type) for c in (_MSG.c.sender, _MSG.c.sender_id,
                                                                       _MSG.c.text, _MSG.c.client_id, _MSG.c.sent_at)))
    cols = ["case_id", "seq", "sender", "sender_id", "text", "client_id", "sent_at"]
    i = insert(_MSG).from_select(cols, values).returning(*_MSG.c).cte("new_message")
    return select(*i.c, *(s.c[c] for c in _DELIVERY_COLS)).select_from(i.join(s, true()))


_FAST_POST: dict[tuple[bool, str], Any] = {}


def post_message(session: Session | Connection, outbox: Outbox, actor: Actor, *, case_id: int, text: str,
                 client_id: str) -> Row[Any]:
    """Store a chat message once (idempotent by client_id) and deliver it after commit. Core
    statements only: `session` may be a Core connection (`gigcx.uow.transact_core`).

    One statement on PostgreSQL, two on SQLite, when the message is stored; a refusal or a resend
    takes `_post_checked`, which also answers why."""
    conn = session if isinstance(session, Connection) else session.connection()
    postgres = conn.dialect.name == "postgresql"
    q = _FAST_POST.get((postgres, actor.role))
    if q is None:
        q = _FAST_POST[(postgres, actor.role)] = _fast_post(postgres, actor.role)
    now = utcnow()
    row = conn.execute(q, _post_keys(postgres, actor, case_id, text, client_id, now)).first()
    if row is None:
        return _post_checked(conn, outbox, actor, case_id=case_id, text=text, client_id=client_id)
    if postgres:  # the message's columns and the case's delivery columns, in one row
        outbox.message_posted(row, row)
        return row
    msg = conn.execute(_INSERT_MSG, _insert_keys(actor, case_id, row.last_seq, text, client_id, now)).one()
    outbox.message_posted(row, msg)
    return msg


def _post_keys(postgres: bool, actor: Actor, case_id: int, text: str, client_id: str, now: Any) -> dict[str, Any]:
    """The parameters of `_fast_post`'s statement (on PostgreSQL with the message's own)."""
    keys = {"b_case": case_id, "b_sender": actor.role, "b_sender_id": actor.id, "b_client": client_id,
            "b_actor": actor.id, "b_brand": actor.brand_id, "b_now": now}
    if postgres:
        keys.update(v_case_id=case_id, v_sender=actor.role, v_sender_id=actor.id, v_text=text,
                    v_client_id=client_id, v_sent_at=now)
    return keys


def _insert_keys(actor: Actor, case_id: int, seq: int, text: str, client_id: str, now: Any) -> dict[str, Any]:
    """The parameters of `_INSERT_MSG` (SQLite's second statement)."""
    return {"case_id": case_id, "seq": seq, "sender": actor.role, "sender_id": actor.id, "text": text,
            "client_id": client_id, "sent_at": now}


def send_message(engine: Engine, actor: Actor, *, case_id: int, text: str, client_id: str) -> dict[str, Any]:
    """A chat message in a unit of work of its own: stored once, delivered after the commit; its
    `message` payload (as its writer sees it).

    A message that is stored takes the driver's connection with post_message's statements compiled
    once (`DriverStatement`, `transact_driver`): SQLAlchemy's per-statement and per-transaction
    work was half of what storing a message cost on SQLite. When the conditional UPDATE matches
    nothing (nothing was written: unknown, not allowed, closed, a resend), `post_message` runs in a
    unit of work of its own and says why, or answers the resend."""
    stored = transact_driver(lambda dbc, outbox: _post_on_driver(
        engine, dbc, outbox, actor, case_id=case_id, text=text, client_id=client_id), engine)
    if stored is not None:
        return stored
    return transact_core(lambda c, o: message_payload(post_message(
        c, o, actor, case_id=case_id, text=text, client_id=client_id)), engine)


_MSG_INSERT_KEYS = ["case_id", "seq", "sender", "sender_id", "text", "client_id", "sent_at"]
# by (dialect, driver, role): what the compiled SQL and its type processors depend on
_DRIVER_POST: dict[tuple[str, str, str], tuple[DriverStatement, DriverStatement | None]] = {}


def _post_on_driver(engine: Engine, dbc: Any, outbox: Outbox, actor: Actor, *, case_id: int, text: str,
                    client_id: str) -> dict[str, Any] | None:
    """post_message's stored case on the driver's connection: the message's payload, or None
    (nothing written) when the case's conditional UPDATE matched no row."""
    postgres = engine.dialect.name == "postgresql"
    which = (engine.dialect.name, engine.dialect.driver, actor.role)
    statements = _DRIVER_POST.get(which)
    if statements is None:
        statements = _DRIVER_POST[which] = (
            DriverStatement(_fast_post(postgres, actor.role), engine.dialect),
            None if postgres else DriverStatement(_INSERT_MSG, engine.dialect, _MSG_INSERT_KEYS))
    post, insert_msg = statements
    now = utcnow()
    row = post.first(dbc, _post_keys(postgres, actor, case_id, text, client_id, now))
    if row is None:
        return None
    if insert_msg is None:  # PostgreSQL: the message's columns and the case's delivery columns, in one row
        msg = row
    else:
        msg = insert_msg.first(dbc, _insert_keys(actor, case_id, row.last_seq, text, client_id, now))
    return outbox.message_posted(row, msg)


def _post_checked(conn: Connection, outbox: Outbox, actor: Actor, *, case_id: int, text: str,
                  client_id: str) -> Row[Any]:
    """post_message reading the case first: the resend's stored message, or why it is refused."""
    sender = actor.role
    # on PostgreSQL the row lock serialises writers of this case before the idempotency check
    # (SQLite's BEGIN IMMEDIATE already did)
    q = _CASE_OF_MESSAGE_LOCKED if conn.dialect.name == "postgresql" else _CASE_OF_MESSAGE
    keys = {"b_case": case_id, "b_sender": sender, "b_sender_id": actor.id, "b_client": client_id}
    case = conn.execute(q, keys).first()
    if case is None or not can_see(conn, actor, case):  # a Row has the columns can_see reads
        raise ApiError("not_found", "no such case")
    if case.prior_id is not None:  # a resend: answer with what was stored
        return conn.execute(_PRIOR_MSG, keys).one()
    if actor.role == Sender.expert and case.expert_id != actor.id:
        raise ApiError("forbidden", "accept the offer before writing in this case")
    if case.status in (CaseStatus.resolved, CaseStatus.closed):
        raise ApiError("case_closed", "this case is closed", status=409)
    if actor.role == Sender.staff and case.status != CaseStatus.escalated:
        raise ApiError("conflict", "staff answer escalated cases only")
    msg = _insert_message(conn, case_id, sender, actor.id, text, client_id,
                          first_response=actor.role == Sender.expert)
    outbox.message_posted(case, msg)
    return msg


def system_message(session: Session, outbox: Outbox, case: Case, text: str) -> Row[Any]:
    """A notice in the conversation from GigCX itself."""
    msg = _append(session, case, Sender.system, None, text, None)
    outbox.message_posted(case, msg)
    return msg


# rows, not Message entities (message_payload reads either); built once: every accept syncs
_MESSAGES_AFTER = (select(_MSG).where(_MSG.c.case_id == bindparam("b_case"),  # type: ignore[call-overload]
                                      _MSG.c.seq > bindparam("b_after")).order_by(_MSG.c.seq))


def sync(session: Session, actor: Actor, *, case_id: int, after_seq: int, case: Case | None = None) -> dict[str, Any]:
    """The case and every message after `after_seq` (masked for experts); `case` when the caller
    already holds it and has checked the actor may see it."""
    case = case if case is not None else load_case(session, actor, case_id)
    msgs = session.connection().execute(_MESSAGES_AFTER, {"b_case": case_id, "b_after": after_seq}).all()
    masked = actor.role == Sender.expert
    payload = case_payload(session, case, full=True, internal=actor.role == Sender.staff)
    if masked:
        from gigcx.pii import mask

        payload["question"] = mask(case.question)
    return {"case": payload, "messages": [message_payload(m, masked=masked) for m in msgs]}


def propose_resolution(session: Session, outbox: Outbox, actor: Actor, *, case_id: int) -> Case:
    """The expert says the case is solved; the customer has `confirm_window_s` to deny it."""
    case, brand = _load_for_resolution(session, actor, case_id)
    if case.expert_id != actor.id:
        raise ApiError("forbidden", "only the assigned expert can propose a resolution")
    if case.status == CaseStatus.pending_confirmation:
        return case
    if case.status != CaseStatus.active:
        raise ApiError("case_closed" if case.status not in OPEN_STATUSES else "conflict",
                       f"a {case.status} case cannot be resolved", status=409)
    case.status, case.proposed_at = CaseStatus.pending_confirmation, utcnow()
    session.add(case)
    assert case.id is not None  # a stored row
    timers.schedule(session, TimerKind.confirm_window, case.id,
                    case.proposed_at + timedelta(seconds=brand.confirm_window_s))
    system_message(session, outbox, case, "The expert marked this question as solved.")
    outbox.case_changed(session, case)
    return case


def customer_resolve(session: Session, outbox: Outbox, actor: Actor, *, case_id: int,
                     resolved: bool) -> Case:
    """The customer confirms (case resolved, reward credited) or denies (back to active)."""
    # the brand is held for the whole event: the session's identity map keeps objects only while
    # something refers to them, and the credit, the trust checks, the case payloads and the answer
    # each read it
    case, brand = _load_for_resolution(session, actor, case_id)
    if case.status == CaseStatus.resolved and resolved:
        return case
    if case.status != CaseStatus.pending_confirmation:
        raise ApiError("conflict", "nothing to confirm: the expert has not proposed a resolution")
    if resolved:
        mark_resolved(session, outbox, case, by="customer")
        from gigcx.services import answers

        answers.record(session, case)  # confirmed by the customer: the answer may help others
    else:
        case.status, case.proposed_at = CaseStatus.active, None
        session.add(case)
        system_message(session, outbox, case, "The customer says it is not solved yet.")
        outbox.case_changed(session, case)
    del brand
    return case


def mark_resolved(session: Session, outbox: Outbox, case: Case, by: str | None = None) -> None:
    """Resolve the case and credit the expert's pending reward; `by` says who confirmed it
    (`customer`, or `silence` when the confirmation window passed)."""
    from gigcx.services import earnings

    case.status, case.resolved_at, case.resolved_by = CaseStatus.resolved, utcnow(), by
    # case_changed's rev bump, made before the credit: the trust checks flush the case, and the
    # bump then rides in that UPDATE instead of a second one at commit
    case.rev += 1
    session.add(case)
    earnings.credit_resolved_case(session, case)
    outbox.case_changed(session, case, rev_set=True)
    webhooks.case_event(session, "case.resolved", case)
    log.info("case resolved", extra={"case_id": case.id, "expert_id": case.expert_id})


def deflect(session: Session, outbox: Outbox, actor: Actor, *, case_id: int) -> Case:
    """The customer says a suggested answer solved it: closed as deflected, no reward."""
    case = load_case(session, actor, case_id, lock=True)
    if case.status != CaseStatus.matching:
        raise ApiError("conflict", "only a case still waiting for an expert can be deflected")
    from gigcx.services import dispatch

    dispatch.withdraw_open_offers(session, outbox, case)
    case.status, case.deflected, case.closed_at = CaseStatus.closed, True, utcnow()
    session.add(case)
    outbox.case_changed(session, case)
    return case


def escalate(session: Session, outbox: Outbox, case: Case, reason: str) -> None:
    """Hand the case to the brand's staff; escalated cases earn no reward."""
    from gigcx.services import dispatch

    dispatch.withdraw_open_offers(session, outbox, case)
    case.status, case.escalated_at, case.escalation_reason = CaseStatus.escalated, utcnow(), reason
    log.info("case escalated", extra={"case_id": case.id})  # the reason is free text: never logged
    session.add(case)
    system_message(session, outbox, case, "This question was handed to the brand's support team. "
                                          "They will answer here.")
    outbox.case_changed(session, case)
    webhooks.case_event(session, "case.escalated", case)


def expert_escalate(session: Session, outbox: Outbox, actor: Actor, *, case_id: int, reason: str,
                    message: str | None = None) -> Case:
    """The assigned expert hands the case to staff and leaves the conversation.

    `reason` is internal: staff read it (`/brand`, REST), the customer never does. `message`, if
    given, is the expert's last word to the customer, posted before the handover notice."""
    q = select(Case).where(Case.id == case_id)
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update()
    case = session.exec(q).first()
    if case is not None and case.expert_id == actor.id and case.escalated_at is not None:
        return case  # a resend: the expert already left, say so again
    case = load_case(session, actor, case_id, lock=True) if case is not None else None
    if case is None:
        raise ApiError("not_found", "no such case")
    if case.expert_id != actor.id:
        raise ApiError("forbidden", "only the assigned expert can escalate")
    if case.status not in OPEN_STATUSES:
        raise ApiError("case_closed", "this case is closed", status=409)
    if message:
        outbox.message_posted(case, _append(session, case, "expert", actor.id, message, None))
    escalate(session, outbox, case, reason)
    return case


def rate(session: Session, outbox: Outbox, actor: Actor, *, case_id: int, csat: int,
         nps: int | None, comment: str | None) -> Rating:
    """The customer rates a finished case once."""
    case = load_case(session, actor, case_id, lock=True)
    if case.status in OPEN_STATUSES:
        raise ApiError("conflict", "rate the case once it is resolved")
    if session.exec(select(Rating).where(Rating.case_id == case_id)).first() is not None:
        raise ApiError("conflict", "this case is already rated")
    rating = Rating(case_id=case_id, expert_id=case.expert_id, csat=csat, nps=nps, comment=comment)
    session.add(rating)
    session.flush()
    if case.status == CaseStatus.resolved:
        from gigcx.services import earnings

        earnings.apply_rating_bonus(session, case, csat)
    from gigcx.services import trust

    trust.on_rating(session, case)  # quality score; rating rings raise a signal
    outbox.case_changed(session, case)
    webhooks.case_event(session, "case.rated", case)
    return rating


def close(session: Session, outbox: Outbox, case: Case) -> None:
    """Close an escalated case once staff are done."""
    case.status, case.closed_at = CaseStatus.closed, utcnow()
    session.add(case)
    outbox.case_changed(session, case)
