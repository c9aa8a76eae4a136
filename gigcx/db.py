"""The database: one engine per app, short sessions, and Alembic migrations applied on start."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, event
from sqlmodel import Session

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str) -> Engine:
    """Build an engine tuned for the backend: SQLite serialised per process, PostgreSQL pooled."""
    if url.startswith("sqlite"):
        # One connection per process: SQLite has one writer anyway, and under gevent a
        # second connection waiting on the file lock would block the whole hub.
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
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
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # IMMEDIATE takes the write lock up front, so two processes never deadlock
            # upgrading read locks (SQLite would answer "database is locked" at once).
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=20, max_overflow=20, pool_timeout=30)


def init_app(app: Flask) -> None:
    """Create the engine, apply migrations, and close request sessions on teardown."""
    settings = app.config["GIGCX"]
    app.extensions["gigcx_engine"] = make_engine(settings.database_url)
    if app.config.get("GIGCX_MIGRATE", True):
        upgrade(settings.database_url)
    app.teardown_appcontext(_close_request_session)


def engine() -> Engine:
    """The current app's engine."""
    return current_app.extensions["gigcx_engine"]  # type: ignore[no-any-return]


def request_session() -> Session:
    """The session of the current request (created on first use, closed at teardown)."""
    if "db_session" not in g:
        g.db_session = Session(engine(), expire_on_commit=False)
    return g.db_session  # type: ignore[no-any-return]


def _close_request_session(_exc: BaseException | None) -> None:
    sess = g.pop("db_session", None)
    if sess is not None:
        sess.close()


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session outside requests (Socket.IO events, timers); rolls back on error."""
    sess = Session(engine(), expire_on_commit=False)
    try:
        yield sess
    except BaseException:
        sess.rollback()
        raise
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
