"""Persisted deadlines. A due timer is claimed and handled in one transaction, so it fires once
even with several processes polling, and again after a crash that lost the handling."""
from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import ARRAY, Integer, any_, bindparam, insert, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from gigcx.events import Outbox
from gigcx.models import Timer, utcnow
from gigcx.models.base import table_of

log = logging.getLogger(__name__)

Handler = Callable[[Session, Outbox, int], None]
_TIMER = table_of(Timer)
_INSERT = insert(_TIMER)  # Core, on the session's connection: new timers are on every ask's path


def _upsert(dialect_insert: Any) -> Any:
    stmt = dialect_insert(_TIMER)
    return stmt.on_conflict_do_update(index_elements=[_TIMER.c.kind, _TIMER.c.ref_id],
                                      set_={"due_at": stmt.excluded.due_at, "fired_at": None, "claimed_by": None})


# `schedule` in one statement (the (kind, ref_id) unique key decides insert or reset): a lookup and
# an ORM object were a fifth of an expert's resolve (py-spy, docs/benchmarks.md)
_UPSERT = {"sqlite": _upsert(sqlite.insert), "postgresql": _upsert(postgresql.insert)}


def init_app(app: Any, handlers: Mapping[str, Handler]) -> None:
    """The functions that run when a timer of each kind is due, for this app (named in the factory)."""
    app.extensions["gigcx_timers"] = dict(handlers)


def handlers() -> dict[str, Handler]:
    """The current app's timer handlers, by kind."""
    return current_app.extensions["gigcx_timers"]


def schedule(session: Session, kind: str, ref_id: int, due_at: datetime) -> None:
    """Set (or reset) the one timer of this kind for this object; committed with the caller.

    One Core upsert on the session's connection: a Timer of this kind and object loaded in the
    session beforehand is not refreshed (no caller holds one: `fire` loads the timer that fires,
    and its handlers schedule timers of other kinds)."""
    conn = session.connection()
    conn.execute(_UPSERT[conn.dialect.name], {"kind": kind, "ref_id": ref_id, "due_at": due_at})


def start(session: Session, kind: str, ref_id: int, due_at: datetime) -> None:
    """The first timer of this kind for an object created in this transaction (one Core INSERT:
    no lookup, no ORM object; a new case's and a new offer's timers are on every ask's path)."""
    start_many(session, kind, [(ref_id, due_at)])


def start_many(session: Session, kind: str, due: list[tuple[int, datetime]]) -> None:
    """`start` for several new objects in one statement (a dispatch round's offers)."""
    if due:
        session.connection().execute(_INSERT, [{"kind": kind, "ref_id": ref, "due_at": at} for ref, at in due])


def cancel(session: Session, kind: str, ref_id: int) -> None:
    """Drop a pending timer (handlers re-check state anyway, so this only saves work)."""
    cancel_all(session, {kind: [ref_id]})


def cancel_all(session: Session, refs: dict[str, list[int]]) -> None:
    """`cancel` for several kinds and objects in one statement (an accept closes a whole case)."""
    wanted = [(kind, ids) for kind, ids in refs.items() if ids]
    if not wanted:
        return
    conn = session.connection()
    params: dict[str, Any] = {"b_now": utcnow()}
    for i, (kind, ids) in enumerate(wanted):
        params[f"b_kind{i}"], params[f"b_ids{i}"] = kind, list(ids)
    conn.execute(_cancel_statement(len(wanted), conn.dialect.name == "postgresql"), params)


@functools.cache
def _cancel_statement(kinds: int, postgresql: bool) -> Any:
    """The UPDATE of `cancel_all` for this many kinds, built once (every accept and decline cancels
    timers: building it per call was a fifth of an accept's server time). The ids are one array
    parameter on PostgreSQL (statement text independent of their number) and an expanding IN list
    on SQLite."""
    def ids_match(i: int) -> Any:
        if postgresql:
            return _TIMER.c.ref_id == any_(bindparam(f"b_ids{i}", type_=ARRAY(Integer)))
        return _TIMER.c.ref_id.in_(bindparam(f"b_ids{i}", expanding=True))

    wanted = [(_TIMER.c.kind == bindparam(f"b_kind{i}")) & ids_match(i) for i in range(kinds)]
    return (update(_TIMER).where(or_(*wanted), _TIMER.c.fired_at.is_(None))
            .values(fired_at=bindparam("b_now"), claimed_by="cancelled"))


@functools.cache
def cancel_along(changed: Any, kind: str, extra_kinds: int) -> Any:
    """PostgreSQL: `changed` (an UPDATE ... RETURNING whose first column is an object id), the
    cancellation of those objects' `kind` timers and of `extra_kinds` more as in `cancel_all`
    (`b_kind{i}`, `b_ids{i}`, `b_now`), in one statement (data-modifying CTEs: one round trip
    where there were two) that returns `changed`'s rows. Built once per statement."""
    rows = changed.cte("changed")
    wanted = [(_TIMER.c.kind == kind) & _TIMER.c.ref_id.in_(select(rows.c[0]))]
    wanted += [(_TIMER.c.kind == bindparam(f"b_kind{i}")) & (_TIMER.c.ref_id == any_(bindparam(f"b_ids{i}", type_=ARRAY(Integer))))
               for i in range(extra_kinds)]
    cancel = (update(_TIMER).where(or_(*wanted), _TIMER.c.fired_at.is_(None))
              .values(fired_at=bindparam("b_now"), claimed_by="cancelled").returning(_TIMER.c.id).cte("cancelled"))
    return select(*rows.c).add_cte(cancel)


def due(session: Session, limit: int = 100) -> list[int]:
    """Ids of timers whose deadline has passed and that nobody has claimed."""
    rows = session.exec(select(Timer.id).where(col(Timer.fired_at).is_(None), col(Timer.due_at) <= utcnow())
                        .order_by(col(Timer.due_at)).limit(limit))
    return list(rows)  # type: ignore[arg-type]  # primary keys, never NULL


def fire(session: Session, outbox: Outbox, timer_id: int, process_id: str) -> bool:
    """Claim one timer and run its handler in the caller's transaction (one unit of work per
    timer); True if this call fired it."""
    claimed = session.execute(
        update(Timer).where(col(Timer.id) == timer_id, col(Timer.fired_at).is_(None))
        .values(fired_at=utcnow(), claimed_by=process_id))
    # (an UPDATE's result is a CursorResult, typed as the general Result)
    if claimed.rowcount != 1:  # type: ignore[attr-defined]  # another process claimed it; nothing written
        return False
    timer = session.get(Timer, timer_id)
    fn = handlers().get(timer.kind) if timer else None
    if fn is None:
        log.error("no handler for timer %s", timer_id)
    else:
        assert timer is not None  # a handler is only looked up for a timer
        fn(session, outbox, timer.ref_id)
    return True
