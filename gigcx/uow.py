"""The unit of work: the one transaction boundary of the app.

A `UnitOfWork` holds a database session and an `Outbox`. Edges (REST views, Socket.IO handlers,
CLI commands, background loops, the demo) open one around the service calls of one change:

    with unit_of_work() as uow:
        cases.resolve(uow.session, uow.outbox, actor, case_id=...)

On a clean exit it commits and *then* emits the outbox's events (a client never hears of a
change a crash could take back); on an exception it rolls back and drops them. Services take the
session and outbox they are given and never commit, roll back or begin a transaction of their own;
a race they expect (a unique key taken meanwhile) is isolated in a savepoint (`uow.savepoint()`,
or `session.begin_nested()` where only the session is at hand).

A job that must span several transactions (a payout run calls Stripe between recording its intent
and its outcome; senders claim rows, send with no transaction open, then record) ends each step with
`uow.commit()`: every step is a unit of work of its own, committed (and its events emitted) before
the next begins, in the same session.

This module is the only code that calls `Session.commit()` or `Session.rollback()` (a test scans
for others; `install_commit_guard` makes the test suite fail on any commit issued elsewhere).
"""
from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, TypeVar

from flask import g
from sqlalchemy import Connection, Engine, event
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Session

from gigcx import db
from gigcx.events import Outbox

R = TypeVar("R")
_COMMITTING = "gigcx.uow_committing"


class UnitOfWork:
    """Transactions of one session, each gathering the events to emit once it commits.

    Every `with uow:` block is one transaction: committed on a clean exit (then its events are
    emitted), rolled back on an exception (its events dropped). Blocks may nest and follow one
    another on the same session (a multi-step job); the session is closed when the outermost
    block of a unit of work that made it ends. A session handed in (the request's) stays open."""

    def __init__(self, session: Session | None = None, *, engine: Engine | None = None):
        self._given = session
        self._engine = engine
        self._depth = 0
        # typed for the `with` block, where it is always set; None outside it if the unit of work opens its own
        self.session: Session = session  # type: ignore[assignment]
        self.outbox = Outbox()

    def __enter__(self) -> UnitOfWork:
        if self.session is None:
            self.session = db.new_session(self._engine)
        self._depth += 1
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._depth -= 1
        try:
            if exc_type is None:
                self._commit()
            else:
                self._rollback()
        finally:
            if self._depth == 0 and self._given is None:
                self.session.close()
                self.session = None  # type: ignore[assignment]

    def _commit(self) -> None:
        """Commit, then emit the events gathered so far."""
        self.session.info[_COMMITTING] = True
        try:
            self.session.commit()
        finally:
            self.session.info.pop(_COMMITTING, None)
        outbox, self.outbox = self.outbox, Outbox()
        outbox.flush()

    def _rollback(self) -> None:
        """Roll back and drop the events gathered so far."""
        self.outbox = Outbox()
        self.session.rollback()

    def savepoint(self) -> SessionTransaction:
        """A nested transaction (SAVEPOINT) for a statement that may lose a race: on an error
        leaving its `with` block, only the savepoint's work is undone."""
        return self.session.begin_nested()


def discard(session: Session) -> None:
    """Abandon the transaction so far and go on in a fresh one.

    Only for a hot path whose first write lost a race that aborts the transaction (PostgreSQL)
    and that wrote nothing before it: a savepoint would cost every call two round trips."""
    session.rollback()


def unit_of_work(engine: Engine | None = None) -> UnitOfWork:
    """A unit of work on a new session of the current app's engine (or `engine`)."""
    return UnitOfWork(engine=engine)


@contextmanager
def transaction(engine: Engine | None = None) -> Iterator[Session]:
    """A unit of work for callers that need only its session (CLI commands, background loops)."""
    with UnitOfWork(engine=engine) as uow:
        yield uow.session


def transact(work: Callable[[Session, Outbox], R]) -> R:
    """Run `work(session, outbox)` in a unit of work: commit, then emit its events."""
    with unit_of_work() as uow:
        return work(uow.session, uow.outbox)


def transact_core(work: Callable[[Connection, Outbox], R], engine: Engine | None = None) -> R:
    """`transact` for work that runs Core statements only (a chat message): on a connection of
    the engine instead of an ORM session, whose transaction bookkeeping was a tenth of a message's
    server CPU (docs/benchmarks.md, "The message path"). Same contract: committed on a clean
    return and then its events emitted (after the connection went back to the pool); rolled back
    on an exception and its events dropped."""
    outbox = Outbox()
    with (engine or db.engine()).connect() as conn, conn.begin():
        result = work(conn, outbox)
    outbox.flush()
    return result


def transact_driver(work: Callable[[Any, Outbox], R], engine: Engine) -> R:
    """`transact_core` on the driver's own connection (sqlite3, psycopg), for `db.DriverStatement`s:
    the pool's connection, a transaction (SQLite: BEGIN IMMEDIATE, as every transaction here;
    psycopg begins one itself), COMMIT, then the events; ROLLBACK and no events on an exception.
    Without SQLAlchemy's Connection and its transaction objects, which were a fifth of a chat
    message's server CPU on SQLite (docs/benchmarks.md, "The message path, third pass").

    A serving process on SQLite commits these in groups (`GroupCommit`), with the same contract."""
    group: GroupCommit | None = getattr(engine, "gigcx_group_commit", None)
    if group is not None:
        return group.run(work)
    outbox = Outbox()
    result = _on_driver(work, engine, outbox)
    outbox.flush()
    return result


def _on_driver(work: Callable[[Any, Outbox], R], engine: Engine, outbox: Outbox) -> R:
    """`work` in a transaction of its own on the driver's connection, committed; no events sent."""
    pooled = engine.raw_connection()
    try:
        dbc: Any = pooled.driver_connection
        if engine.dialect.name == "sqlite":
            dbc.execute("BEGIN IMMEDIATE")
        try:
            result = work(dbc, outbox)
        except BaseException:
            dbc.rollback()
            raise
        dbc.commit()
    finally:
        pooled.close()  # back to the pool (which rolls back whatever a failed COMMIT left open)
    return result


class _Pending:
    """One caller's work in a group: its outcome once the group has committed."""

    __slots__ = ("work", "outbox", "result", "error", "done")

    def __init__(self, work: Callable[[Any, Outbox], Any], done: Any) -> None:
        self.work, self.done = work, done
        self.outbox = Outbox()  # made now: its delivery time counts the wait for the group
        self.result: Any = None
        self.error: BaseException | None = None


def _scheduled() -> bool:
    """Whether other greenlets are scheduled to run in this turn of gevent's loop (its callbacks,
    where a handler spawned for an event waits to start). Where gevent does not say, assume so."""
    from gevent import get_hub

    callbacks = getattr(get_hub().loop, "_callbacks", None)
    return callbacks is None or len(callbacks) > 0


class GroupCommit:
    """`transact_driver`'s transactions of one turn of the event loop, committed together (SQLite
    under gevent, where a process has one connection and every transaction holds it alone).

    The first caller of a turn leads: it yields once, so the handlers gevent already scheduled
    (chat messages read from other sockets) run up to their own `run` and join its group (when
    nothing else is scheduled it does not yield: it commits alone at once); then it
    runs every work of the group in order in one transaction (BEGIN IMMEDIATE ... COMMIT), emits
    each work's events in that order, and wakes the others with their results. Each caller gets
    what `transact_driver` alone would give: its result once its writes are committed, its events
    sent after the commit and never before. If any work raises, or the COMMIT fails, the group's
    transaction is rolled back and each work runs again in a transaction of its own, so one
    caller's error (or refusal) never touches another's writes.

    BEGIN, COMMIT (the write-ahead log's pages: a group's messages share the pages they change)
    and the pool's checkout and checkin are then paid once per group instead of once per message
    (docs/benchmarks.md, "Relay ceiling: group commit")."""

    def __init__(self, engine: Engine, limit: int = 64) -> None:
        from gevent import sleep
        from gevent.event import Event

        from gigcx.observability import COMMIT_GROUPS

        self.engine, self.limit = engine, limit
        self._sleep, self._event, self._sizes = sleep, Event, COMMIT_GROUPS
        self._open: list[_Pending] | None = None  # the group its leader will commit
        self.groups = 0  # committed together, for the tests and the benchmark
        self.grouped = 0  # works in those groups

    def run(self, work: Callable[[Any, Outbox], R]) -> R:
        """Commit `work` in the current group, then send its events; its result (or its error)."""
        group = self._open
        if group is not None and len(group) < self.limit:
            item = _Pending(work, self._event())
            group.append(item)
            item.done.wait()
        elif not _scheduled():  # nobody else runs in this turn: nobody could join
            item = _Pending(work, None)
            self._commit([item])
        else:
            item = _Pending(work, None)
            group = self._open = [item]
            try:
                self._sleep(0)  # the handlers already scheduled in this turn join the group
            finally:
                if self._open is group:
                    self._open = None
                self._commit(group)
        if item.error is not None:
            raise item.error
        result: R = item.result
        return result

    def _commit(self, group: list[_Pending]) -> None:
        try:
            if len(group) > 1 and self._together(group):
                self._sizes.observe(len(group))
            else:
                for item in group:
                    self._alone(item)
                    self._sizes.observe(1)
            for item in group:  # committed: the events, in commit order
                if item.error is None:
                    try:
                        item.outbox.flush()
                    except Exception as exc:  # noqa: BLE001 - that caller's error, as alone
                        item.error = exc
        finally:
            for item in group:
                if item.done is not None:
                    item.done.set()

    def _together(self, group: list[_Pending]) -> bool:
        """Every work of the group in one transaction; False (all rolled back) if anything failed."""
        try:
            results = _on_driver(lambda dbc, _: [item.work(dbc, item.outbox) for item in group],
                                 self.engine, Outbox())
        except BaseException:  # noqa: BLE001 - rolled back; each runs again alone
            for item in group:
                item.outbox.discard()
            return False
        for item, result in zip(group, results):
            item.result = result
        self.groups += 1
        self.grouped += len(group)
        return True

    def _alone(self, item: _Pending) -> None:
        try:
            item.result = _on_driver(item.work, self.engine, item.outbox)
        except BaseException as exc:  # noqa: BLE001 - raised in that caller's own greenlet
            item.outbox.discard()
            item.error = exc


# ---- REST: one unit of work per request ----------------------------------------------------------

def for_request() -> UnitOfWork:
    """The current request's unit of work, on the request's session."""
    if "uow" not in g:
        g.uow = UnitOfWork(db.request_session())
    return g.uow


def transactional(view: Callable[..., R]) -> Callable[..., R]:
    """Run a view in the request's unit of work: committed (then its events emitted) when the
    view returns, rolled back when it raises. Views that only read commit an empty transaction,
    which costs what closing it would."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> R:
        with for_request():
            return view(*args, **kwargs)

    return wrapper


def wrap_views(app: Any, prefix: str) -> None:
    """Give every view of the blueprint `prefix` (an endpoint prefix such as "api.") the request's
    unit of work."""
    for endpoint, view in list(app.view_functions.items()):
        if endpoint.startswith(prefix) and not getattr(view, "_gigcx_transactional", False):
            wrapped = transactional(view)
            wrapped._gigcx_transactional = True  # type: ignore[attr-defined]
            app.view_functions[endpoint] = wrapped


# ---- the guard -----------------------------------------------------------------------------------

class StrayCommit(RuntimeError):
    """A commit issued by the app's code other than the unit of work."""


_PACKAGE = str(Path(__file__).parent) + os.sep


def _guard(session: OrmSession) -> None:
    if session.info.get(_COMMITTING) or session.in_nested_transaction():  # a savepoint's release
        return
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and (frame.f_code.co_filename.startswith("<")
                                 or f"{os.sep}site-packages{os.sep}" in frame.f_code.co_filename):
        frame = frame.f_back  # SQLAlchemy's own frames, up to the caller of commit()
    if frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        raise StrayCommit(f"commit outside the unit of work at {frame.f_code.co_filename}:{frame.f_lineno}: "
                          "only gigcx.uow commits")


def install_commit_guard() -> None:
    """Make any commit issued by the app's code other than a UnitOfWork raise (the test suite
    installs it). Commits by other code (tests' fixtures, Alembic) are left alone."""
    if not event.contains(OrmSession, "before_commit", _guard):
        event.listen(OrmSession, "before_commit", _guard)
