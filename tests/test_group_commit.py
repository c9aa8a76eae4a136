"""GroupCommit: the driver transactions of one loop turn committed together, each caller's
outcome as if it had been alone (gigcx.uow)."""
from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import gevent
import pytest

from gigcx.db import make_engine
from gigcx.uow import GroupCommit, transact_driver


@pytest.fixture
def engine(tmp_path: Path) -> Any:
    engine = make_engine(f"sqlite:///{tmp_path / 'g.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)")
    engine.gigcx_group_commit = GroupCommit(engine)
    yield engine
    engine.dispose()


def _insert(k: str, v: int = 1) -> Any:
    def work(dbc: Any, outbox: Any) -> str:
        dbc.execute("INSERT INTO t (k, v) VALUES (?, ?)", (k, v))
        return k
    return work


def _rows(engine: Any) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(conn.exec_driver_sql("SELECT k, v FROM t").all())


def _run_all(engine: Any, works: list[Any]) -> list[Any]:
    """Each work from a greenlet of its own, all scheduled in the same turn of the loop."""
    def call(work: Any) -> Any:
        try:
            return transact_driver(work, engine)
        except BaseException as exc:  # noqa: BLE001 - the outcome is what the test looks at
            return exc
    greenlets = [gevent.spawn(call, w) for w in works]
    gevent.joinall(greenlets, timeout=10, raise_error=True)
    return [g.value for g in greenlets]


def test_callers_of_one_turn_share_one_transaction(engine: Any) -> None:
    group = engine.gigcx_group_commit
    assert _run_all(engine, [_insert(f"k{i}") for i in range(10)]) == [f"k{i}" for i in range(10)]
    assert _rows(engine) == {f"k{i}": 1 for i in range(10)}
    assert (group.groups, group.grouped) == (1, 10)


def test_a_group_is_no_larger_than_its_limit(engine: Any) -> None:
    group = engine.gigcx_group_commit
    group.limit = 4
    _run_all(engine, [_insert(f"k{i}") for i in range(10)])
    assert len(_rows(engine)) == 10
    assert group.grouped == 10 and group.groups == 3  # 4 + 4 + 2


def test_one_callers_error_is_its_own(engine: Any) -> None:
    """A work that fails rolls the group back; the others run again alone and are committed."""
    def dup(dbc: Any, outbox: Any) -> None:
        dbc.execute("INSERT INTO t (k, v) VALUES ('k1', 2)")  # k1 is another caller's key
    out = _run_all(engine, [_insert("k0"), _insert("k1"), dup, _insert("k3")])
    assert out[0] == "k0" and out[1] == "k1" and out[3] == "k3"
    assert isinstance(out[2], sqlite3.IntegrityError)
    assert _rows(engine) == {"k0": 1, "k1": 1, "k3": 1}
    assert engine.gigcx_group_commit.groups == 0  # nothing was committed as a group


def test_a_failed_work_leaves_nothing_of_its_own(engine: Any) -> None:
    def half(dbc: Any, outbox: Any) -> None:
        dbc.execute("INSERT INTO t (k, v) VALUES ('half', 1)")
        raise ValueError("refused after a write")
    out = _run_all(engine, [_insert("a"), half])
    assert out[0] == "a" and isinstance(out[1], ValueError)
    assert _rows(engine) == {"a": 1}


def test_events_are_dropped_when_a_group_is_rolled_back(engine: Any) -> None:
    """A work that ran in a group rolled back runs again: only that run's events are sent."""
    seen: list[int] = []

    def counting(dbc: Any, outbox: Any) -> int:
        dbc.execute("INSERT INTO t (k, v) VALUES ('c', 1)")
        outbox.end_sessions([], "test")  # something gathered for after the commit
        seen.append(len(outbox.ended))
        return len(outbox.ended)

    def fails(dbc: Any, outbox: Any) -> None:
        raise RuntimeError("no")
    out = _run_all(engine, [counting, fails])
    assert out[0] == 1 and seen == [1, 1]  # ran twice; the second run gathered one event, not two


def test_a_lone_caller_commits_alone(engine: Any) -> None:
    assert _run_all(engine, [_insert("only")]) == ["only"]
    assert _rows(engine) == {"only": 1}
    assert engine.gigcx_group_commit.groups == 0


def test_the_benchmark_runs(tmp_path: Path) -> None:
    """bench/group_commit.py end to end at a tiny size: it must not rot between measurements."""
    import json
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[1]
    out = tmp_path / "g.json"
    subprocess.run([sys.executable, str(repo / "bench" / "group_commit.py"), "--rounds", "1", "--messages", "30",
                    "--sizes", "1,3", "--json", str(out)], cwd=repo, check=True, capture_output=True, timeout=120)
    summary = json.loads(out.read_text())["summary"]
    assert set(summary) == {"alone 1", "group 1", "alone 3", "group 3"}
    assert all(s["median_us"] > 0 for s in summary.values())
