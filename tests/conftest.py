"""Shared fixtures: a fresh database per test (SQLite file, or a PostgreSQL schema), the app, clients."""
from __future__ import annotations

import atexit
import os
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from gigcx import create_app
from gigcx.config import Settings
from gigcx.uow import install_commit_guard

install_commit_guard()  # any commit of the app's sessions not issued by the unit of work fails

ADMIN_TOKEN = "test-operator-token"
PG_URL = os.environ.get("GIGCX_TEST_DATABASE_URL", "")


def _schema_url(base: str, schema: str) -> str:
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


@contextmanager
def fresh_database(folder: Path) -> Iterator[str]:
    """A brand-new empty database: SQLite in `folder`, or a fresh schema on $GIGCX_TEST_DATABASE_URL."""
    if not PG_URL:
        yield f"sqlite:///{folder / 'gigcx.sqlite3'}"
        return
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(PG_URL, poolclass=sa.pool.NullPool)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _schema_url(PG_URL, schema)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


class _MigratedTemplate:
    """The schema at head, migrated once per test run and then copied into each test's empty
    database (a file copy on SQLite, the migrations' recorded statements replayed on PostgreSQL).
    Migrating from scratch costs ~0.3 s per test; the app's own upgrade on start then finds the
    schema at head. Migrations themselves are tested from empty (tests/test_migrations.py)."""

    def __init__(self) -> None:
        self._sqlite_file: Path | None = None
        self._statements: list[tuple[str, Any]] | None = None

    def fill(self, url: str) -> None:
        """Bring the empty database at `url` to head."""
        if url.startswith("sqlite:///"):
            target = Path(url.removeprefix("sqlite:///"))
            assert not target.exists(), "only an empty database is filled"
            shutil.copyfile(self._sqlite(), target)
        else:
            self._replay(url)

    def _sqlite(self) -> Path:
        if self._sqlite_file is None:
            from gigcx import db

            folder = Path(tempfile.mkdtemp(prefix="gigcx-schema-"))
            atexit.register(shutil.rmtree, folder, True)
            path = folder / "head.sqlite3"
            db.upgrade(f"sqlite:///{path}")
            with sqlite3.connect(path) as conn:  # everything in the main file, none in the WAL
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._sqlite_file = path
        return self._sqlite_file

    def _replay(self, url: str) -> None:
        if self._statements is None:  # the first database is migrated, and the statements kept
            self._statements = self._record(url)
            return
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        try:
            with engine.begin() as conn:
                cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
                for statement, parameters in self._statements:
                    cursor.execute(statement, parameters or None)
        finally:
            engine.dispose()

    @staticmethod
    def _record(url: str) -> list[tuple[str, Any]]:
        """Migrate `url` from empty, keeping every statement that writes (not the reads of
        reflection, nor the advisory lock's SELECTs)."""
        from gigcx import db

        statements: list[tuple[str, Any]] = []
        target = sa.engine.make_url(url)

        def keep(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
            if conn.engine.url != target:
                return
            assert not many, "the migrations run no executemany"
            if not statement.lstrip().upper().startswith(("SELECT", "SHOW")):
                statements.append((statement, parameters))

        sa.event.listen(sa.engine.Engine, "before_cursor_execute", keep)
        try:
            db.upgrade(url)
        finally:
            sa.event.remove(sa.engine.Engine, "before_cursor_execute", keep)
        return statements


TEMPLATE = _MigratedTemplate()


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database for one test (the `settings` fixture brings it to head)."""
    with fresh_database(tmp_path) as url:
        yield url


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Settings of a test instance, its database at head."""
    TEMPLATE.fill(database_url)
    s = Settings(instance_path=str(tmp_path / "instance"), database_url=database_url,
                 admin_token=ADMIN_TOKEN, secret_key="test-secret", model_check_s=0, roster_cache_s=0)
    return s.finish()


@pytest.fixture
def app(settings: Settings) -> Iterator[Any]:
    """A fresh app on a fresh database."""
    app = create_app({"GIGCX": settings, "TESTING": True})
    yield app
    app.extensions["gigcx_engine"].dispose()


@pytest.fixture
def client(app: Any) -> Any:
    """Flask's test client."""
    return app.test_client()


class Api:
    """A tiny REST helper over the test client: `api.post(path, json, token)`."""

    def __init__(self, client: Any):
        self.client = client

    def call(self, method: str, path: str, token: str | None = None, **kw: Any) -> Any:
        headers = kw.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.client.open("/api/v1" + path, method=method, headers=headers, **kw)

    def get(self, path: str, token: str | None = None, **kw: Any) -> Any:
        return self.call("GET", path, token, **kw)

    def post(self, path: str, token: str | None = None, **kw: Any) -> Any:
        return self.call("POST", path, token, **kw)

    def put(self, path: str, token: str | None = None, **kw: Any) -> Any:
        return self.call("PUT", path, token, **kw)

    def patch(self, path: str, token: str | None = None, **kw: Any) -> Any:
        return self.call("PATCH", path, token, **kw)

    def delete(self, path: str, token: str | None = None, **kw: Any) -> Any:
        return self.call("DELETE", path, token, **kw)

    # Builders for the common set-up steps.
    def brand(self, slug: str = "acme", name: str = "Acme") -> str:
        r = self.post("/brands", ADMIN_TOKEN, json={"slug": slug, "name": name})
        assert r.status_code == 201, r.json
        return r.json["api_key"]  # type: ignore[no-any-return]

    def topic(self, key: str, slug: str, reward: int = 300, examples: list[str] | None = None) -> Any:
        r = self.put(f"/topics/{slug}", key, json={"name": slug.title(), "reward_cents": reward,
                                                   "examples": examples or []})
        assert r.status_code == 200, r.json
        return r.json

    def expert(self, email: str = "ex@example.com", password: str = "correct horse",
               name: str = "Ex", languages: list[str] | None = None) -> tuple[int, str]:
        body: dict[str, Any] = {"email": email, "password": password, "display_name": name}
        if languages is not None:
            body["languages"] = languages
        r = self.post("/experts", json=body)
        assert r.status_code == 201, r.json
        t = self.post("/auth/token", json={"email": email, "password": password})
        assert t.status_code == 200, t.json
        return r.json["id"], t.json["token"]


@pytest.fixture
def api(client: Any) -> Api:
    """The REST helper."""
    return Api(client)


def assert_error(resp: Any, status: int, code: str) -> None:
    """The response is the contract's error with this status and code."""
    assert resp.status_code == status, (resp.status_code, resp.get_data(as_text=True))
    body = resp.get_json()
    assert set(body) == {"error"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


@pytest.fixture
def servers(tmp_path: Path, database_url: str) -> Iterator[Any]:
    """A factory of real `gigcx serve` processes on the test database; all stopped at the end."""
    from tests.servers import Server

    started: list[Server] = []

    def make(**kw: Any) -> Server:
        server = Server(database_url, tmp_path / "instance", **kw)
        started.append(server)
        return server.start()

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def own_server(servers: Any) -> Any:
    """A real server process on a database of this test's own (for kill/restart tests)."""
    return servers()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real server process shared by a test module; tests keep apart by using their own brands."""
    from tests.servers import Server

    folder = tmp_path_factory.mktemp("server")
    with fresh_database(folder) as url:
        live = Server(url, folder / "instance").start()
        yield live
        live.stop()


@pytest.fixture
def peers() -> Iterator[Any]:
    """A factory of Socket.IO clients, all disconnected at the end."""
    from tests.servers import Peer

    made: list[Peer] = []

    def make(url: str, namespace: str, auth: dict[str, Any]) -> Peer:
        peer = Peer(url, namespace, auth)
        made.append(peer)
        return peer

    yield make
    # Close all at once: a websocket client waits up to 3 s for the server's close frame.
    import concurrent.futures as cf

    with cf.ThreadPoolExecutor(max(len(made), 1)) as pool:
        list(pool.map(lambda p: p.close(), made))
