"""Load benchmark helpers: timestamps in text, percentiles, CPU/RSS sampling, servers, seeding."""
from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
import requests

ROOT = Path(__file__).resolve().parents[2]
ADMIN = "bench-operator-token"
LETTERS = "abcdefghij"
RAMP_DRAIN_S = 2.0


# ---------------------------------------------------------------- helpers
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stamp() -> str:
    """Now, in microseconds, written with letters (masking treats digit runs as PII)."""
    return "".join(LETTERS[int(d)] for d in str(int(time.time() * 1e6)))


def unstamp(text: str) -> float | None:
    for word in text.split():
        if word.startswith("ts") and len(word) > 12 and all(c in LETTERS for c in word[2:]):
            return int("".join(str(LETTERS.index(c)) for c in word[2:])) / 1e6
    return None


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def summary(values: list[float]) -> dict[str, Any]:
    return {"n": len(values), "p50_ms": _ms(pct(values, 50)), "p99_ms": _ms(pct(values, 99)),
            "max_ms": _ms(max(values) if values else None)}


def _ms(v: float | None) -> float | None:
    return None if v is None else round(v * 1000, 2)


class Sampler:
    """CPU (% of one core) and RSS of a process, once a second, in a thread. With `names`
    instead of a pid: the sum over every process of that name (PostgreSQL's backends, Redis),
    found again every second, only read."""

    def __init__(self, pid: int | None = None, names: tuple[str, ...] = ()):
        self.proc = psutil.Process(pid) if pid else None
        self.names = names
        self.group: dict[int, psutil.Process] = {}
        self.samples: list[tuple[float, float, float]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def members(self) -> list[psutil.Process]:
        if self.proc is not None:
            return [self.proc]
        seen = {p.pid: p for p in psutil.process_iter(["name"]) if p.info["name"] in self.names}
        for pid in list(self.group):
            if pid not in seen:
                del self.group[pid]
        for pid, p in seen.items():
            if pid not in self.group:
                try:
                    p.cpu_percent(None)  # the first reading of a process is its baseline
                except psutil.Error:  # gone already (a backend that just closed)
                    continue
                self.group[pid] = p
        return list(self.group.values())

    def run(self) -> None:
        if self.proc is not None:
            self.proc.cpu_percent(None)
        while not self.stop.wait(1.0):
            cpu = rss = 0.0
            for p in self.members():
                try:
                    cpu += p.cpu_percent(None)
                    rss += p.memory_info().rss / 2**20
                except psutil.Error:
                    if p is self.proc:
                        return
            self.samples.append((time.time(), cpu, rss))

    def window(self, start: float, end: float) -> dict[str, Any]:
        rows = [(c, r) for t, c, r in self.samples if start <= t <= end]
        if not rows:
            return {}
        cpus = [c for c, _ in rows]
        return {"cpu_avg_pct": round(statistics.mean(cpus), 1), "cpu_max_pct": round(max(cpus), 1),
                "rss_max_mib": round(max(r for _, r in rows), 1)}


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: server exited with {proc.returncode}")
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer in {timeout}s")


# ---------------------------------------------------------------- servers
def server_database_url(folder: Path, database_url: str | None) -> str:
    """The database a server started by `start_gigcx` uses (a SQLite file in `folder` by default)."""
    return database_url or f"sqlite:///{folder / 'gigcx.sqlite3'}"


def start_gigcx(folder: Path, database_url: str | None, port: int,
                extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    env = {**os.environ, **(extra_env or {}),
           "GIGCX_DATABASE_URL": server_database_url(folder, database_url),
           "GIGCX_INSTANCE_PATH": str(folder / "instance"), "GIGCX_ADMIN_TOKEN": ADMIN,
           "GIGCX_SECRET_KEY": "bench-secret",
           "GIGCX_RATE_LIMIT_ASKS_PER_MIN": "1000000", "GIGCX_RATE_LIMIT_MESSAGES_PER_MIN": "1000000",
           "GIGCX_RATE_LIMIT_AUTH_PER_MIN": "1000000", "GIGCX_RATE_LIMIT_CUSTOMERS_PER_MIN": "1000000",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    log = open(folder / f"server-{port}.log", "ab")
    proc = subprocess.Popen([sys.executable, "-m", "gigcx", "serve", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, stdout=log, stderr=log, cwd=ROOT)
    wait_http(f"http://127.0.0.1:{port}/healthz", proc)
    return proc


def haproxy_config(ports: list[int], listen: int, maxconn: int | None = None) -> str:
    """deploy/haproxy.cfg with its `bind` on `listen` and one `server` line per port (each
    backend's `gigcx1` line is the pattern; the others are dropped): the deployed balancing,
    health checks and timeouts, on this machine's ports. `maxconn`: lower the global limit to
    what this shell's open-file limit allows (HAProxy refuses to start above it)."""
    out = []
    for line in (ROOT / "deploy" / "haproxy.cfg").read_text().splitlines():
        stripped = line.strip()
        if maxconn and stripped.startswith("maxconn "):
            line = line[:line.index("maxconn ")] + f"maxconn {maxconn}"
        elif stripped.startswith("bind "):
            line = line[:line.index("bind ")] + f"bind 127.0.0.1:{listen}"
        elif stripped.startswith("server gigcx"):
            if not stripped.startswith("server gigcx1 "):
                continue
            for i, port in enumerate(ports, 1):
                out.append(line.replace("127.0.0.1:8001", f"127.0.0.1:{port}").replace("gigcx1", f"gigcx{i}"))
            continue
        out.append(line)
    return "\n".join(out) + "\n"


def start_haproxy(folder: Path, ports: list[int], listen: int) -> subprocess.Popen[bytes]:
    cfg = folder / "haproxy.cfg"
    import resource

    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    cfg.write_text(haproxy_config(ports, listen, maxconn=(soft - 1000) // 2 if soft > 2000 else None))
    log = open(folder / "haproxy.log", "ab")
    haproxy = os.environ.get("HAPROXY", "/usr/sbin/haproxy")
    proc = subprocess.Popen([haproxy, "-db", "-f", str(cfg)], stdout=log, stderr=log)
    wait_http(f"http://127.0.0.1:{listen}/healthz", proc)
    return proc


def start_echo(folder: Path, port: int) -> subprocess.Popen[bytes]:
    log = open(folder / "echo.log", "ab")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / "echo_server.py"), "--port", str(port)],
                            env=env, stdout=log, stderr=log, cwd=ROOT)
    wait_http(f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling", proc)
    return proc


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextmanager
def postgres_schema(base_url: str) -> Iterator[str]:
    """A fresh schema on `base_url` for one run, dropped after: the URL that uses it."""
    import sqlalchemy as sa

    schema = "bench_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(base_url, poolclass=sa.pool.NullPool)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        sep = "&" if "?" in base_url else "?"
        yield f"{base_url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def rest(base: str, method: str, path: str, token: str | None = None, **kw: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = requests.request(method, f"{base}/api/v1{path}", headers=headers, timeout=30, **kw)
    assert r.ok, (path, r.status_code, r.text)
    return r.json() if r.content else None


def seed(base: str, experts: int, topics: list[tuple[str, str, int, list[str]]] | None = None) -> tuple[str, list[str]]:
    """One brand (long timers, fan-out 1), one topic (or `topics`: (slug, name, reward_cents,
    examples) each), `experts` experts approved for every topic: (slug, tokens)."""
    slug = "bench" + uuid.uuid4().hex[:6]
    key = rest(base, "POST", "/brands", ADMIN, json={"slug": slug, "name": "Bench"})["api_key"]
    rest(base, "PATCH", "/brand", key, json={"offer_timeout_s": 600, "escalate_after_s": 86400,
                                             "confirm_window_s": 86400})
    topics = topics or [("cards", "Cards", 100, ["where is my card", "my card has not arrived"])]
    for topic, name, reward, examples in topics:
        rest(base, "PUT", f"/topics/{topic}", key, json={"name": name, "reward_cents": reward, "examples": examples})
    slugs = [t[0] for t in topics]

    def one(i: int) -> str:
        email = f"x{i}-{uuid.uuid4().hex[:6]}@bench.example"
        eid = rest(base, "POST", "/experts", json={"email": email, "password": "password-123",
                                                   "display_name": f"Expert {i}"})["id"]
        token = rest(base, "POST", "/auth/token", json={"email": email, "password": "password-123"})["token"]
        rest(base, "POST", "/experts/me/programs", token, json={"brand": slug, "topics": slugs})
        rest(base, "POST", f"/experts/{eid}/approve", key, json={"topics": slugs})
        return str(token)

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        return slug, list(pool.map(one, range(experts)))


def history_topics() -> list[tuple[str, str, int, list[str]]]:
    """The bench brand's topics when it has a history (`seed(..., topics=...)`): `cards`, the
    topic of the load's questions, and six more, with examples from the shipped BANKING77 subset."""
    from bench.loadgen.history import TOPICS
    from gigcx.demo import banking77_topics, topic_name

    bank = banking77_topics(20)
    out = []
    for slug, intent, reward in TOPICS:
        examples = bank[intent][:12]
        if slug == "cards":  # what the load's questions say
            examples = ["where is my card", "my card has not arrived", *examples]
        out.append((slug, "Cards" if slug == "cards" else topic_name(intent), reward, examples))
    return out


def give_history(database_url: str, slug: str, n: int) -> dict[str, Any]:
    """`n` finished cases for the brand (bench/loadgen/history.py), printed as it goes."""
    from bench.loadgen.history import seed_history

    print(f"  history: writing {n} finished cases for {slug}...", flush=True)
    done = seed_history(database_url, slug, n)
    print(f"  history: {done}", flush=True)
    return done
