"""The database: one engine per app, short sessions, and Alembic migrations applied on start."""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, event
from sqlmodel import Session

MIGRATIONS = Path(__file__).parent / "migrations"
JOURNAL_SIZE_LIMIT = 64 * 2**20  # bytes of write-ahead log file kept when the log starts over


def make_engine(url: str) -> Engine:
    """Build an engine tuned for the backend: SQLite serialised per process, PostgreSQL pooled."""
    if url.startswith("sqlite"):
        # One connection per process: SQLite has one writer anyway, and under gevent a
        # second connection waiting on the file lock would block the whole hub.
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            hide_parameters=True,  # errors and logs never carry message text (docs/security.md)
            pool_size=1,
            max_overflow=0,
            pool_timeout=60,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA synchronous=NORMAL")
            # erased and redacted text is overwritten in the file, not left in free pages where a
            # copy of the database (a backup) would still carry it
            cur.execute("PRAGMA secure_delete=ON")
            if getattr(engine, "gigcx_background_checkpoint", False):
                cur.execute("PRAGMA wal_autocheckpoint=0")  # WalCheckpointer does it off the loop
            # when the log starts over, its file is cut back to this (a burst of writes, a bulk
            # import, leaves no file of its size behind)
            cur.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # IMMEDIATE takes the write lock up front, so two processes never deadlock
            # upgrading read locks (SQLite would answer "database is locked" at once). On the
            # driver's connection: through SQLAlchemy's statement machinery (a cursor, an
            # execution context, result setup) this constant statement was 7 % of a chat
            # message's server CPU (docs/benchmarks.md, "The message path").
            conn.connection.driver_connection.execute("BEGIN IMMEDIATE")

        return engine
    # No pre-ping: it is a round trip on every checkout, during which a serving process's greenlet
    # waits for the hub again (docs/benchmarks.md, "Scale-out"). A connection the server dropped
    # (a restart) fails the one statement that finds it out; SQLAlchemy then recycles every
    # connection of the pool, and that event's client gets `internal` and retries.
    return create_engine(url, pool_size=20, max_overflow=20, pool_timeout=30, pool_recycle=3600,
                         hide_parameters=True)


class DriverStatement:
    """A Core statement compiled once for the engine's dialect and run on the driver's own
    connection (sqlite3, psycopg).

    The same SQL SQLAlchemy would send, its parameters through the same type processors (a
    statement's constants included), and rows with the same column names and values; without
    SQLAlchemy's per-statement machinery (an execution context, a cursor wrapper, result
    metadata), which was a third of a chat message's server CPU on SQLite (docs/benchmarks.md,
    "The message path, third pass"). Only for a statement whose cost matters that much; the
    connection is one in a transaction of `gigcx.uow.transact_driver`."""

    __slots__ = ("sql", "_names", "_slots", "_procs", "_positional", "_row", "_results")

    def __init__(self, statement: Any, dialect: Any, column_keys: list[str] | None = None) -> None:
        from collections import namedtuple

        compiled = statement.compile(dialect=dialect, column_keys=column_keys)
        self.sql = str(compiled)
        self._positional = compiled.positional
        binds = compiled.binds
        # the parameters as the SQL names them: in order (qmark), or each once (pyformat)
        self._names = list(compiled.positiontup or ()) if self._positional else \
            list(dict.fromkeys(compiled.bind_names.values()))
        # each parameter: the caller's key to read, or a constant of the statement (a literal compared to)
        self._slots = [(name, None) if binds[name].required else (None, binds[name].effective_value)
                       for name in self._names]
        self._procs = [binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in self._names]
        columns = list(statement.exported_columns)
        self._row: Any = namedtuple("DriverRow", [c.key for c in columns])  # type: ignore[misc]
        self._results = [(i, proc) for i, c in enumerate(columns)
                         if (proc := c.type.dialect_impl(dialect).result_processor(dialect, None)) is not None]

    def params(self, values: dict[str, Any]) -> list[Any] | dict[str, Any]:
        """The driver's parameters for these named values, processed as SQLAlchemy would."""
        out = [values[key] if key is not None else const for key, const in self._slots]
        for i, proc in enumerate(self._procs):
            if proc is not None:
                out[i] = proc(out[i])
        return out if self._positional else dict(zip(self._names, out))

    def first(self, dbc: Any, values: dict[str, Any]) -> Any:
        """Run on the driver connection `dbc`; its first row (a named tuple), or None. Every row
        is fetched: the statement is done when this returns."""
        rows = dbc.execute(self.sql, self.params(values)).fetchall()
        if not rows:
            return None
        raw = rows[0]
        if self._results:
            raw = list(raw)
            for i, proc in self._results:
                raw[i] = proc(raw[i])
        return self._row._make(raw)


class WalCheckpointer:
    """Checkpoints a SQLite database's write-ahead log from an OS thread.

    By default the connection whose commit crosses 1,000 WAL pages copies them into the
    database file and fsyncs it, inside that commit: under load that was a 10-50 ms stall of
    the whole event loop every few seconds (the server's SQLite connection runs on the gevent
    hub). A serving process turns automatic checkpoints off on its connections and runs a
    PASSIVE checkpoint every `interval_s` here instead, on its own connection in a real
    thread: Python's sqlite3 releases the GIL while SQLite works, and a PASSIVE checkpoint
    never blocks writers, so the loop keeps serving while pages are copied and synced.

    SQLite writes the log from its start again only when a transaction begins while every page
    of it has been checkpointed. Under steady writes that never happens after a PASSIVE
    checkpoint (the loop commits more while it copies), so the log grew without end: 720 MiB in
    a 10-minute soak. Once the log holds `restart_pages`, a RESTART checkpoint follows the
    PASSIVE one: it takes the write lock for as long as copying the few pages committed in
    between takes, and the next transaction starts the log over (its file is then cut to
    `JOURNAL_SIZE_LIMIT`). It waits for nothing: while a transaction holds the write lock, or a
    reader still reads from the log, it gives up and is tried again next time."""

    RESTART_PAGES = 4096  # 16 MiB of 4-KiB pages

    def __init__(self, engine: Engine, interval_s: float = 1.0, restart_pages: int = RESTART_PAGES):
        self.engine, self.interval_s, self.restart_pages = engine, interval_s, restart_pages
        self.path = engine.url.database or ""
        self._conn: Any = None
        self.checkpoints = 0
        self.restarts = 0
        self.pages = 0

    def enable(self) -> None:
        """Turn automatic checkpoints off for the engine's connections (new ones get it too)."""
        self.engine.gigcx_background_checkpoint = True  # type: ignore[attr-defined]
        self.engine.dispose()  # the pooled connection is reopened with wal_autocheckpoint=0

    def checkpoint(self) -> tuple[int, int, int]:
        """One PASSIVE checkpoint: (busy, pages in the log, pages checkpointed). Blocking; call
        it in a thread (`call_blocking`)."""
        import sqlite3

        if self._conn is None:
            # no busy wait: a PASSIVE checkpoint never waits, and a RESTART must not keep the
            # write lock while it waits for a reader (the loop's next transaction would wait too)
            self._conn = sqlite3.connect(self.path, timeout=0, check_same_thread=False, isolation_level=None)
        busy, log_pages, done = self._pragma("PASSIVE")
        self.checkpoints += 1
        self.pages += max(done, 0)
        if not busy and log_pages >= self.restart_pages:
            restart_busy, log_pages, restart_done = self._pragma("RESTART")
            self.pages += max(restart_done - done, 0)
            done = restart_done
            if not restart_busy:
                self.restarts += 1
        return int(busy), int(log_pages), int(done)

    def _pragma(self, mode: str) -> tuple[int, int, int]:
        """`PRAGMA wal_checkpoint(mode)`'s row. SQLite answers some contention (another connection
        checkpointing or opening the log, a writer holding a lock it needs) with an error, BUSY or
        LOCKED, instead of the busy flag: that is busy too, with -1 for the pages, as
        sqlite3_wal_checkpoint_v2 reports when it could not run; it is tried again next time."""
        import sqlite3

        try:
            busy, log_pages, done = self._conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorcode", 0) & 0xFF not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                raise
            return 1, -1, -1
        return busy, log_pages, done

    def run(self, sleep: Callable[[float], object]) -> None:
        """Checkpoint forever (a background task of the serving process)."""
        from gigcx.concurrency import call_blocking
        from gigcx.observability import WAL_CHECKPOINTS

        log = logging.getLogger(__name__)
        while True:
            sleep(self.interval_s)
            try:
                with WAL_CHECKPOINTS.time():  # here, not in the thread: metrics use gevent's locks
                    call_blocking(self.checkpoint)
            except Exception:  # a locked or vanished file: try again next time
                log.exception("WAL checkpoint of %s failed; retrying", self.path)


def init_app(app: Flask) -> None:
    """Create the engine, apply migrations, and close request sessions on teardown."""
    settings = app.config["GIGCX"]
    app.extensions["gigcx_engine"] = make_engine(settings.database_url)
    if app.config.get("GIGCX_MIGRATE", True):
        upgrade(settings.database_url)
    app.teardown_appcontext(_close_request_session)


def engine() -> Engine:
    """The current app's engine."""
    return current_app.extensions["gigcx_engine"]


def new_session(bind: Engine | None = None) -> Session:
    """A session of the current app's engine (or `bind`); `gigcx.uow` commits it, nothing else."""
    return Session(bind or engine(), expire_on_commit=False)


def request_session() -> Session:
    """The session of the current request (created on first use, closed at teardown); the
    request's unit of work (`gigcx.uow.for_request`) commits it."""
    if "db_session" not in g:
        g.db_session = new_session()
    return g.db_session


def _close_request_session(_exc: BaseException | None) -> None:
    sess = g.pop("db_session", None)
    if sess is not None:
        sess.close()


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session for reading outside requests (Socket.IO events, timers); closing it ends (rolls
    back) its transaction. Changes go through a unit of work (`gigcx.uow`) instead."""
    sess = new_session()
    try:
        yield sess
    finally:
        sess.close()


def alembic_config(url: str) -> Config:
    """Alembic configuration pointing at the packaged migrations."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the schema to `revision`; safe to run from several processes at once."""
    command.upgrade(alembic_config(url), revision)
