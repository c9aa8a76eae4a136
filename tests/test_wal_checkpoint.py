"""SQLite's write-ahead log is checkpointed by a background thread in serving processes, never
inside a commit on the event loop (docs/architecture.md, "Tuned for many connections")."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from gigcx.db import WalCheckpointer, make_engine
from tests.polling import wait_for_metric


@pytest.fixture
def engine(tmp_path: Path) -> Any:
    eng = make_engine(f"sqlite:///{tmp_path / 'wal.sqlite3'}")
    with eng.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)"))
    yield eng
    eng.dispose()


def _autocheckpoint(engine: Any) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar())


def _write(engine: Any, rows: int) -> None:
    for i in range(rows):
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t (body) VALUES (:b)"), {"b": f"row {i} " + "x" * 2000})


def test_commits_leave_the_log_to_the_checkpointer(engine: Any, tmp_path: Path) -> None:
    assert _autocheckpoint(engine) == 1000  # SQLite's default: the committing connection checkpoints
    checkpointer = WalCheckpointer(engine)
    checkpointer.enable()
    assert _autocheckpoint(engine) == 0  # reopened connections too

    _write(engine, 1500)  # ~1,500 pages: past the 1,000 at which a commit would checkpoint
    wal = tmp_path / "wal.sqlite3-wal"
    busy, log_pages, done = checkpointer.checkpoint()
    assert busy == 0 and log_pages > 1000 and done == log_pages  # nothing had been checkpointed
    assert checkpointer.checkpoints == 1 and checkpointer.pages == done

    size = wal.stat().st_size
    _write(engine, 200)  # after a full checkpoint the log is reused from its start, not grown
    assert wal.stat().st_size == size
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 1700


def test_without_the_checkpointer_sqlite_checkpoints_itself(engine: Any, tmp_path: Path) -> None:
    """CLI commands and tests run no checkpointer: their connections keep SQLite's default."""
    _write(engine, 1500)
    busy, log_pages, done = WalCheckpointer(engine).checkpoint()
    assert log_pages < 1000  # the log was checkpointed and restarted by commits along the way


def test_a_serving_process_checkpoints_in_the_background(servers: Any, database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite only")
    server = servers()
    slug, key = server.brand()
    for i in range(3):
        server.topic(key, f"topic-{i}")
    wait_for_metric(server, "gigcx_sqlite_checkpoint_seconds_count")  # the first runs a second after start-up


def test_the_log_starts_over_under_steady_writes(engine: Any, tmp_path: Path) -> None:
    """Commits land while a PASSIVE checkpoint copies, so it never leaves the log fully copied at
    the start of a transaction, and SQLite never wrote the log from its start again: the file
    grew with everything ever written. Past `restart_pages` a RESTART checkpoint follows, and
    the log stays bounded."""
    import threading

    checkpointer = WalCheckpointer(engine, restart_pages=64)
    checkpointer.enable()
    wal = tmp_path / "wal.sqlite3-wal"
    done = threading.Event()

    def writer() -> None:
        try:
            _write(engine, 3000)  # ~3,000 pages, 12 MiB of log
        finally:
            done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    largest = 0
    while not done.is_set():
        checkpointer.checkpoint()
        largest = max(largest, wal.stat().st_size if wal.exists() else 0)
    thread.join()
    assert checkpointer.restarts > 0
    assert largest < 6 * 2**20, largest  # not the ~12 MiB everything written would take
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 3000


def test_a_restart_gives_up_at_once_while_a_transaction_writes(engine: Any, tmp_path: Path) -> None:
    """The RESTART never waits: with another connection in a write transaction it returns busy
    at once, having copied what it could, and the writer's transaction commits as usual."""
    import time

    checkpointer = WalCheckpointer(engine, restart_pages=1)
    checkpointer.enable()
    _write(engine, 20)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t (body) VALUES ('held')"))  # BEGIN IMMEDIATE: the write lock is held
        start = time.monotonic()
        busy, log_pages, done = checkpointer.checkpoint()
        assert time.monotonic() - start < 1.0
    assert checkpointer.restarts == 0 and log_pages > 0
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 21


def test_a_checkpoint_that_sqlite_refuses_as_locked_is_busy(engine: Any, tmp_path: Path) -> None:
    """SQLite answers some contention with `database is locked` instead of the busy flag (here a
    connection holding the file in exclusive locking mode; in CI, a writer's commit at the wrong
    moment): the checkpoint reports busy, as when a transaction holds the lock, and the next one
    goes through."""
    import sqlite3

    _write(engine, 5)
    engine.dispose()  # the pool's connection closed: exclusive locking mode needs the file alone
    checkpointer = WalCheckpointer(engine)
    holder = sqlite3.connect(tmp_path / "wal.sqlite3", isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("INSERT INTO t (body) VALUES ('held')")  # takes and keeps the exclusive lock
    assert checkpointer.checkpoint() == (1, -1, -1)
    holder.close()  # lets go of the file
    busy, log_pages, done = checkpointer.checkpoint()
    assert busy == 0 and done == log_pages
    assert checkpointer.checkpoints == 2
