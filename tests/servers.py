"""Real `gigcx serve` processes and real Socket.IO clients for end-to-end tests."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
import socketio

ADMIN_TOKEN = "test-operator-token"
#: The checkout under test: server processes import its `gigcx`, not an installed copy elsewhere.
REPO_ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """One `gigcx serve` process; `kill()` sends SIGKILL, `start()` brings it back on the same port."""

    def __init__(self, database_url: str, instance: Path, redis_url: str | None = None,
                 env: dict[str, str] | None = None, port: int | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.instance = instance
        self.env = {**os.environ, "GIGCX_DATABASE_URL": database_url, "GIGCX_ADMIN_TOKEN": ADMIN_TOKEN,
                    "GIGCX_INSTANCE_PATH": str(instance), "GIGCX_SECRET_KEY": "e2e-secret",
                    "GIGCX_TIMER_POLL_S": "0.1", "PYTHONUNBUFFERED": "1",
                    # Tests sign many experts up from one address; the limits get their own test.
                    "GIGCX_RATE_LIMIT_AUTH_PER_MIN": "100000", "GIGCX_RATE_LIMIT_ASKS_PER_MIN": "100000",
                    "GIGCX_RATE_LIMIT_MESSAGES_PER_MIN": "100000", "GIGCX_RATE_LIMIT_CUSTOMERS_PER_MIN": "100000",
                    # CI shares 2 cores between these servers, Chromium and pytest: a server starved
                    # for a moment must not shed a test's ask. Shedding has its own tests.
                    "GIGCX_SHED_LAG_MS": "5000",
                    # Tests resolve a case and ask again at once: check model versions every time.
                    "GIGCX_MODEL_CHECK_S": "0", "GIGCX_ROSTER_CACHE_S": "0",
                    "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
                    **(env or {})}
        if redis_url:
            self.env["GIGCX_REDIS_URL"] = redis_url
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = instance / f"server-{self.port}.log"

    def start(self, timeout: float = 90) -> Server:
        """Start and wait until the API answers (a loaded 2-core machine can take 30 s and more:
        migrations, then the matching stack's imports).

        The port was free when it was chosen, but the server binds it only once it has started:
        meanwhile another process (CI runs two test passes side by side) can take it. Then the
        other process's server would answer here, and this one exits on its bind: the server is
        started again on a new port."""
        for _ in range(3):
            if self._start(timeout):
                return self
            self.port = free_port()
            self.url = f"http://127.0.0.1:{self.port}"
        raise RuntimeError(f"server found its port taken three times: {self.log()}")

    def _start(self, timeout: float) -> bool:
        """True once this process answers; False if another process holds the port."""
        self.instance.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen([sys.executable, "-m", "gigcx", "serve", "--host", "127.0.0.1",
                                          "--port", str(self.port)], env=self.env, stdout=log, stderr=log,
                                         cwd=REPO_ROOT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                if self._port_taken():
                    return False
                raise RuntimeError(f"server exited: {self.log()}")
            try:
                if requests.get(self.url + "/api/v1/openapi.json", timeout=1).ok and self._listening():
                    return True
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.kill()  # a module-scoped fixture whose start failed would never stop it
        raise RuntimeError(f"server did not start: {self.log()}")

    def _listening(self) -> bool:
        """Whether the process listening on the port is this server (not another one that took it)."""
        import psutil

        assert self.proc is not None
        try:
            conns = psutil.Process(self.proc.pid).net_connections(kind="tcp")
        except psutil.Error:
            return False
        return any(c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == self.port for c in conns)

    def _port_taken(self) -> bool:
        tail = self.log()
        return "Address already in use" in tail or "EADDRINUSE" in tail

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:] if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: no clean-up, as in a crash."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    # REST helpers
    def rest(self, method: str, path: str, token: str | None = None, **kw: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.request(method, self.url + "/api/v1" + path, headers=headers, timeout=10, **kw)

    def brand(self, slug: str | None = None, **settings: Any) -> tuple[str, str]:
        """A new brand (with settings patched); returns (slug, api_key)."""
        slug = slug or "b" + uuid.uuid4().hex[:8]
        r = self.rest("POST", "/brands", ADMIN_TOKEN, json={"slug": slug, "name": slug.title()})
        assert r.status_code == 201, r.text
        key = r.json()["api_key"]
        if settings:
            assert self.rest("PATCH", "/brand", key, json=settings).ok
        return slug, key

    def topic(self, key: str, slug: str, reward: int = 300, examples: list[str] | None = None) -> None:
        r = self.rest("PUT", f"/topics/{slug}", key, json={"name": slug, "reward_cents": reward,
                                                          "examples": examples or []})
        assert r.ok, r.text

    def expert(self, brand_slug: str, brand_key: str, topics: list[str], name: str = "Ex",
               languages: list[str] | None = None) -> tuple[int, str]:
        """A new expert approved for the topics; returns (id, token)."""
        email = f"{uuid.uuid4().hex[:10]}@example.com"
        body: dict[str, Any] = {"email": email, "password": "password-123", "display_name": name}
        if languages:
            body["languages"] = languages
        r = self.rest("POST", "/experts", json=body)
        assert r.status_code == 201, r.text
        token = self.rest("POST", "/auth/token", json={"email": email, "password": "password-123"}).json()["token"]
        assert self.rest("POST", "/experts/me/programs", token, json={"brand": brand_slug, "topics": topics}).ok
        expert_id = r.json()["id"]
        assert self.rest("POST", f"/experts/{expert_id}/approve", brand_key, json={"topics": topics}).ok
        return expert_id, token


class Peer:
    """A python-socketio client on one namespace that records every event it receives."""

    def __init__(self, url: str, namespace: str, auth: dict[str, Any]):
        self.namespace = namespace
        self.events: list[tuple[str, Any]] = []
        self.cond = threading.Condition()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("*", self._record, namespace=namespace)
        refusals: list[Any] = []
        self.sio.on("connect_error", refusals.append, namespace=namespace)
        try:
            self.sio.connect(url, namespaces=[namespace], auth=auth, transports=["websocket"], wait_timeout=10)
        except socketio.exceptions.ConnectionError as exc:  # say why the server refused
            raise socketio.exceptions.ConnectionError(f"{exc} (server said: {refusals})") from exc

    def _record(self, event: str, data: Any = None) -> None:
        with self.cond:
            self.events.append((event, data))
            self.cond.notify_all()

    def call(self, event: str, data: Any = None, timeout: float = 10) -> Any:
        """Emit and wait for the acknowledgement."""
        return self.sio.call(event, data, namespace=self.namespace, timeout=timeout)

    def wait_for(self, event: str, pred: Callable[[Any], bool] = lambda d: True, timeout: float = 10) -> Any:
        """The first recorded `event` whose payload satisfies `pred` (waiting for it if needed)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for name, data in self.events:
                    if name == event and pred(data):
                        return data
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {event} matching within {timeout}s; got {self.events[-10:]}")
                self.cond.wait(left)

    def received(self, event: str) -> list[Any]:
        with self.cond:
            return [d for n, d in self.events if n == event]

    def close(self) -> None:
        # websocket-client waits up to 3 s for the server's close frame, which engine.io's own
        # CLOSE packet has usually made moot; browsers do not wait, and neither do the tests.
        ws = getattr(self.sio.eio, "ws", None)
        if ws is not None:
            close = ws.close
            ws.close = lambda *a, **k: close(*a, **{**k, "timeout": 0.1})
        try:
            self.sio.disconnect()
        except Exception:  # already gone (server killed): nothing to close
            pass
        if ws is not None:  # the server went away first: engine.io leaves the socket open
            ws.shutdown()


def open_conversation(customer_server: Server, expert_server: Server, peers: Any, slug: str,
                      token: str) -> tuple[Peer, Peer, int, str]:
    """An expert online on `expert_server` and a new customer on `customer_server` (the same one,
    or two processes) in an accepted case: (customer, expert, case id, the customer's token)."""
    expert = peers(expert_server.url, "/expert", {"token": token})
    expert.call("availability", {"online": True})
    customer = peers(customer_server.url, "/customer", {"brand": slug})
    customer_token = customer.wait_for("session")["token"]
    case_id = customer.call("ask", {"text": "where is my card", "client_id": "q"})["case"]["id"]
    expert.wait_for("offer", lambda d: d["case_id"] == case_id)
    assert expert.call("accept", {"case_id": case_id})["ok"]
    return customer, expert, case_id, customer_token
