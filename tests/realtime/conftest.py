"""Fixtures of the real-time tests: a two-process cluster on PostgreSQL and Redis."""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import PG_URL, _schema_url
from tests.servers import Server

PG = PG_URL or "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REDIS = os.environ.get("GIGCX_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _reachable() -> str | None:
    try:
        import redis

        redis.Redis.from_url(REDIS, socket_timeout=2).ping()
        sa.create_engine(PG, poolclass=sa.pool.NullPool).connect().close()
    except Exception as exc:  # noqa: BLE001 - any failure means "not here"
        return str(exc)
    return None


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    """Two `gigcx serve` processes sharing one PostgreSQL schema and one Redis channel."""
    problem = _reachable()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL and Redis are required in CI: {problem}")
        pytest.skip(f"needs PostgreSQL and Redis: {problem}")
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(PG, poolclass=sa.pool.NullPool)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    env = {"GIGCX_REDIS_CHANNEL": "gigcx-test-" + schema}
    url = _schema_url(PG, schema)
    a = Server(url, tmp_path / "a", redis_url=REDIS, env=env)
    b = Server(url, tmp_path / "b", redis_url=REDIS, env=env)
    try:
        a.start()
        b.start()
        yield a, b
    finally:
        a.stop()
        b.stop()
        # printed only when a test fails (pytest captures it): what each process logged
        for name, server in (("A", a), ("B", b)):
            print(f"--- process {name} log (tail) ---\n{server.log()}")
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
