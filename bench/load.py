"""Load benchmark: real Socket.IO customers and experts against one `gigcx serve` process.

    python bench/load.py --quick                 # ~30 s of traffic at reduced scale, SQLite
    python bench/load.py                         # target scale: 1,000 customers, 100 experts
    python bench/load.py --database-url postgresql+psycopg://...  --repeats 3

What it does, in one run:
1. Starts `python -m gigcx serve` on a fresh database (SQLite in a temp folder unless
   `--database-url`), rate limits raised through GIGCX_RATE_LIMIT_*; one brand, one topic, M
   experts approved for it (made through the REST API).
2. Starts W client processes (multiprocessing), each holding its share of the customers and
   experts as `socketio.AsyncClient`s on one asyncio loop (websocket transport).
3. Phase "target": open-loop arrivals (scheduled at fixed rates whatever the responses) of asks
   (customers, round-robin) and messages (a random party of a random active conversation).
   Experts accept every offer at once and stay online (max_cases 20).
   * ask->offer: the ask's send time is encoded (in letters, so PII masking leaves it alone) in the
     question; the expert that receives the offer decodes it. Same clock: one machine.
   * message latency: send time encoded in the text, decoded by the other party on receipt.
   * lost: every acknowledged message must reach the other party live AND be returned by a final
     `sync` of its case (seq 1..n with no gap).
4. Phase "ramp": message-only steps of increasing rate over the conversations opened in phase 1,
   to find the highest sustained relay rate (all delivered, p99 <= --ramp-p99-ms).
5. The same ramp against bench/echo_server.py (bare Flask-SocketIO relay, gevent +
   simple-websocket, no database) with the same number of conversations: the ceiling.
Server CPU (% of one core) and RSS are sampled with psutil every second.

Results print as a table and are written as JSON (`--json`).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import psutil
import requests

ROOT = Path(__file__).resolve().parents[1]
ADMIN = "bench-operator-token"
LETTERS = "abcdefghij"
RAMP_DRAIN_S = 2.0
PROFILE: dict[str, str] = {}


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
    """CPU (% of one core) and RSS of a process, once a second, in a thread."""

    def __init__(self, pid: int):
        self.proc = psutil.Process(pid)
        self.samples: list[tuple[float, float, float]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        self.proc.cpu_percent(None)
        while not self.stop.wait(1.0):
            try:
                cpu = self.proc.cpu_percent(None)
                rss = self.proc.memory_info().rss / 2**20
            except psutil.Error:
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
def start_gigcx(folder: Path, database_url: str | None, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ,
           "GIGCX_DATABASE_URL": database_url or f"sqlite:///{folder / 'gigcx.sqlite3'}",
           "GIGCX_INSTANCE_PATH": str(folder / "instance"), "GIGCX_ADMIN_TOKEN": ADMIN,
           "GIGCX_SECRET_KEY": "bench-secret",
           "GIGCX_RATE_LIMIT_ASKS_PER_MIN": "1000000", "GIGCX_RATE_LIMIT_MESSAGES_PER_MIN": "1000000",
           "GIGCX_RATE_LIMIT_AUTH_PER_MIN": "1000000",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    log = open(folder / "server.log", "ab")  # noqa: SIM115 - the child keeps it
    proc = subprocess.Popen([sys.executable, "-m", "gigcx", "serve", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, stdout=log, stderr=log, cwd=ROOT)
    wait_http(f"http://127.0.0.1:{port}/healthz", proc)
    return proc


def start_echo(folder: Path, port: int) -> subprocess.Popen[bytes]:
    log = open(folder / "echo.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / "echo_server.py"), "--port", str(port)],
                            stdout=log, stderr=log, cwd=ROOT)
    wait_http(f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling", proc)
    return proc


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def rest(base: str, method: str, path: str, token: str | None = None, **kw: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = requests.request(method, f"{base}/api/v1{path}", headers=headers, timeout=30, **kw)
    assert r.ok, (path, r.status_code, r.text)
    return r.json() if r.content else None


def seed(base: str, experts: int) -> tuple[str, list[str]]:
    """One brand (long timers, fan-out 1), one topic, `experts` approved experts: (slug, tokens)."""
    slug = "bench" + uuid.uuid4().hex[:6]
    key = rest(base, "POST", "/brands", ADMIN, json={"slug": slug, "name": "Bench"})["api_key"]
    rest(base, "PATCH", "/brand", key, json={"offer_timeout_s": 600, "escalate_after_s": 86400,
                                             "confirm_window_s": 86400})
    rest(base, "PUT", "/topics/cards", key, json={"name": "Cards", "reward_cents": 100,
                                                 "examples": ["where is my card", "my card has not arrived"]})

    def one(i: int) -> str:
        email = f"x{i}-{uuid.uuid4().hex[:6]}@bench.example"
        eid = rest(base, "POST", "/experts", json={"email": email, "password": "password-123",
                                                   "display_name": f"Expert {i}"})["id"]
        token = rest(base, "POST", "/auth/token", json={"email": email, "password": "password-123"})["token"]
        rest(base, "POST", "/experts/me/programs", token, json={"brand": slug, "topics": ["cards"]})
        rest(base, "POST", f"/experts/{eid}/approve", key, json={"topics": ["cards"]})
        return str(token)

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        return slug, list(pool.map(one, range(experts)))


# ---------------------------------------------------------------- client worker
class Worker:
    """One client process: many AsyncClients on one loop, open-loop senders, recorders."""

    def __init__(self, cfg: dict[str, Any]):
        self.cfg = cfg
        self.url = cfg["url"]
        self.errors: dict[str, int] = {}
        self.convs: list[tuple[str, Any, int]] = []  # (role, client, case_id or peer room)
        self.conv_keys: set[tuple[str, int]] = set()
        self.ask_offer: list[float] = []
        self.ask_ack: list[float] = []
        self.phase = "setup"
        self.lat: dict[str, list[float]] = {}  # phase -> message latencies (receipt)
        self.ack_lat: dict[str, list[float]] = {}
        self.sent: dict[str, int] = {}
        self.acked: list[tuple[int, int, str]] = []  # (case_id, message id, sender role)
        self.received: list[tuple[int, int, str]] = []  # (case_id, message id, receiving role)
        self.synced: dict[int, list[int]] = {}
        self.tasks: set[asyncio.Task[Any]] = set()
        self.customers: list[Any] = []
        self.experts: list[Any] = []

    def err(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1

    def spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def connect(self, namespace: str, auth: dict[str, Any], setup: Any) -> Any:
        import socketio

        client = socketio.AsyncClient(reconnection=False)
        setup(client)
        for attempt in range(3):
            try:
                await client.connect(self.url, namespaces=[namespace], auth=auth, transports=["websocket"],
                                     wait_timeout=30)
                return client
            except Exception:
                await asyncio.sleep(0.5 * (attempt + 1))
        self.err("connect")
        return None

    # ---- GigCX roles
    def on_message(self, role: str, data: dict[str, Any]) -> None:
        other = "expert" if role == "customer" else "customer"
        if data.get("sender") != other:
            return
        sent = unstamp(data.get("text", ""))
        if sent is not None:
            self.lat.setdefault(self.phase, []).append(time.time() - sent)
        self.received.append((data["case_id"], data["id"], role))

    def setup_customer(self, client: Any) -> None:
        client.on("message", lambda d: self.on_message("customer", d), namespace="/customer")

        def on_case(d: dict[str, Any]) -> None:
            if d.get("status") == "active" and ("customer", d["id"]) not in self.conv_keys:
                self.conv_keys.add(("customer", d["id"]))
                self.convs.append(("customer", client, d["id"]))

        client.on("case", on_case, namespace="/customer")

    def setup_expert(self, client: Any) -> None:
        client.on("message", lambda d: self.on_message("expert", d), namespace="/expert")

        def on_offer(d: dict[str, Any]) -> None:
            sent = unstamp(d.get("question", ""))
            if sent is not None:
                self.ask_offer.append(time.time() - sent)
            self.spawn(accept(d))

        async def accept(d: dict[str, Any]) -> None:
            try:
                ack = await client.call("accept", {"case_id": d["case_id"]}, namespace="/expert", timeout=30)
            except Exception:
                self.err("accept_timeout")
                return
            if not ack.get("ok"):
                self.err("accept_" + ack["error"]["code"])
                return
            self.conv_keys.add(("expert", d["case_id"]))
            self.convs.append(("expert", client, d["case_id"]))

        client.on("offer", on_offer, namespace="/expert")

    async def ask(self, client: Any, n: int) -> None:
        start = time.time()
        text = f"where is my card please help ts{stamp()} n{LETTERS[n % 10]}"
        try:
            ack = await client.call("ask", {"text": text, "client_id": uuid.uuid4().hex}, namespace="/customer",
                                    timeout=30)
        except Exception:
            self.err("ask_timeout")
            return
        if ack.get("ok"):
            self.ask_ack.append(time.time() - start)
        else:
            self.err("ask_" + ack["error"]["code"])

    async def send_gigcx(self, role: str, client: Any, case_id: int) -> None:
        phase = self.phase
        self.sent[phase] = self.sent.get(phase, 0) + 1
        start = time.time()
        text = f"{role} says hello ts{stamp()}"
        try:
            ack = await client.call("message", {"case_id": case_id, "text": text, "client_id": uuid.uuid4().hex},
                                    namespace="/" + role, timeout=30)
        except Exception:
            self.err("message_timeout")
            return
        if ack.get("ok"):
            self.ack_lat.setdefault(phase, []).append(time.time() - start)
            self.acked.append((case_id, ack["message"]["id"], role))
        else:
            self.err("message_" + ack["error"]["code"])

    # ---- echo pairs
    async def send_echo(self, role: str, client: Any, pair: int) -> None:
        phase = self.phase
        self.sent[phase] = self.sent.get(phase, 0) + 1
        start = time.time()
        mid = uuid.uuid4().int >> 80
        to = f"p{pair}-" + ("b" if role == "a" else "a")
        try:
            ack = await client.call("message", {"to": to, "text": f"{role} says hello ts{stamp()}", "id": mid},
                                    namespace="/echo", timeout=30)
        except Exception:
            self.err("message_timeout")
            return
        if ack.get("ok"):
            self.ack_lat.setdefault(phase, []).append(time.time() - start)
            self.acked.append((pair, mid, role))

    def setup_echo(self, role: str, pair: int) -> Any:
        def setup(client: Any) -> None:
            def on_msg(d: dict[str, Any]) -> None:
                sent = unstamp(d.get("text", ""))
                if sent is not None:
                    self.lat.setdefault(self.phase, []).append(time.time() - sent)
                self.received.append((pair, d["id"], role))

            client.on("message", on_msg, namespace="/echo")

        return setup

    # ---- the run
    async def open_loop(self, rate: float, until: float, fire: Any) -> None:
        """Call fire(i) at rate/s from now until `until`, never waiting for responses."""
        if rate <= 0:
            await asyncio.sleep(max(0.0, until - time.time()))
            return
        start, i = time.time(), 0
        while True:
            due = start + i / rate
            if due >= until:
                return
            delay = due - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            fire(i)
            i += 1

    def fire_message(self, _i: int) -> None:
        if not self.convs:
            self.err("no_active_conversation")
            return
        role, client, ref = random.choice(self.convs)
        self.spawn(self.send_echo(role, client, ref) if self.cfg["mode"] == "echo"
                   else self.send_gigcx(role, client, ref))

    async def main(self, ready: Any, go: Any) -> dict[str, Any]:
        cfg = self.cfg
        sem = asyncio.Semaphore(40)

        async def limited(coro: Any) -> Any:
            async with sem:
                return await coro

        if cfg["mode"] == "echo":
            clients = []
            for pair in cfg["pairs"]:
                for role in ("a", "b"):
                    clients.append(limited(self.connect("/echo", {"room": f"p{pair}-{role}"},
                                                        self.setup_echo(role, pair))))
            made = await asyncio.gather(*clients)
            it = iter(made)
            for pair in cfg["pairs"]:
                a, b = next(it), next(it)
                if a and b:
                    self.convs += [("a", a, pair), ("b", b, pair)]
        else:
            self.experts = list(await asyncio.gather(*[
                limited(self.connect("/expert", {"token": t}, self.setup_expert)) for t in cfg["expert_tokens"]]))
            for e in self.experts:
                if e:
                    await e.call("availability", {"online": True, "max_cases": 20}, namespace="/expert", timeout=30)
            self.customers = [c for c in await asyncio.gather(*[
                limited(self.connect("/customer", {"brand": cfg["brand"]}, self.setup_customer))
                for _ in range(cfg["customers"])]) if c]
        ready.put(("ready", os.getpid()))
        t0 = await asyncio.get_running_loop().run_in_executor(None, go.get)
        await asyncio.sleep(max(0.0, t0 - time.time()))
        marks: dict[str, tuple[float, float]] = {}
        for name, ask_rate, msg_rate, duration in cfg["phases"]:
            self.phase = name
            start = time.time()
            until = start + duration
            jobs = [self.open_loop(msg_rate, until, self.fire_message)]
            if ask_rate and self.customers:
                customers = self.customers
                jobs.append(self.open_loop(ask_rate, until,
                                           lambda i: self.spawn(self.ask(customers[i % len(customers)], i))))
            await asyncio.gather(*jobs)
            marks[name] = (start, until)
            await asyncio.sleep(RAMP_DRAIN_S)  # let the step's messages land before the next
        await asyncio.sleep(1.0)
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=30)
        self.phase = "done"
        if cfg["mode"] == "gigcx":  # the final sync: every acked message is stored, seq has no gap
            for role, client, case_id in list(self.convs):
                if role != "customer":
                    continue
                try:
                    ack = await client.call("sync", {"case_id": case_id, "after_seq": 0}, namespace="/customer",
                                            timeout=30)
                except Exception:
                    self.err("sync_timeout")
                    continue
                seqs = [m["seq"] for m in ack.get("messages", [])]
                if seqs != list(range(1, len(seqs) + 1)):
                    self.err("seq_gap")
                self.synced[case_id] = [m["id"] for m in ack.get("messages", [])]
        clients = [c for c in self.customers + self.experts if c] + [c for _, c, _ in self.convs
                                                                      if self.cfg["mode"] == "echo"]
        await asyncio.gather(*[c.disconnect() for c in set(clients)], return_exceptions=True)
        return {"errors": self.errors, "ask_offer": self.ask_offer, "ask_ack": self.ask_ack, "lat": self.lat,
                "ack_lat": self.ack_lat, "sent": self.sent, "acked": self.acked, "received": self.received,
                "synced": self.synced, "marks": marks, "conversations": len(self.convs)}


def worker_entry(cfg: dict[str, Any], ready: Any, go: Any, out: Any) -> None:
    try:
        out.put(asyncio.run(Worker(cfg).main(ready, go)))
    except BaseException as exc:  # report, don't hang the parent
        ready.put(("failed", repr(exc)))
        out.put({"failed": repr(exc)})


# ---------------------------------------------------------------- driver
def drive(mode: str, url: str, workers: int, phases: list[tuple[str, float, float, float]],
          server_pid: int, brand: str = "", tokens: list[str] | None = None, customers: int = 0,
          pairs: int = 0) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    ready, out = ctx.Queue(), ctx.Queue()
    gos = []
    procs = []
    for w in range(workers):
        share = [(n, r / workers, m / workers, d) for n, r, m, d in phases]
        cfg = {"mode": mode, "url": url, "phases": share, "brand": brand,
               "expert_tokens": (tokens or [])[w::workers],
               "customers": customers // workers + (1 if w < customers % workers else 0),
               "pairs": list(range(pairs))[w::workers]}
        go = ctx.Queue()
        gos.append(go)
        p = ctx.Process(target=worker_entry, args=(cfg, ready, go, out), daemon=True)
        p.start()
        procs.append(p)
    t_setup = time.time()
    for _ in range(workers):
        state, info = ready.get(timeout=600)
        if state != "ready":
            raise RuntimeError(f"worker failed: {info}")
    setup_s = time.time() - t_setup
    sampler = Sampler(server_pid)
    if PROFILE.get("path") and mode == "gigcx":  # py-spy over the target phase
        subprocess.Popen(["py-spy", "record", "-p", str(server_pid), "-d", str(int(phases[0][3]) + 1), "-r", "50",
                          "--format", "raw", "-o", PROFILE["path"]], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    client_samplers = [Sampler(p.pid) for p in procs if p.pid]
    t0 = time.time() + 1.0
    for go in gos:
        go.put(t0)
    results = [out.get(timeout=900) for _ in range(workers)]
    for p in procs:
        p.join(30)
    sampler.stop.set()
    for s in client_samplers:
        s.stop.set()
    failed = [r["failed"] for r in results if "failed" in r]
    if failed:
        raise RuntimeError(f"workers failed: {failed}")
    return analyse(mode, results, phases, sampler, client_samplers, setup_s, t0)


def analyse(mode: str, results: list[dict[str, Any]], phases: list[tuple[str, float, float, float]],
            sampler: Sampler, client_samplers: list[Sampler], setup_s: float, t0: float) -> dict[str, Any]:
    errors: dict[str, int] = {}
    for r in results:
        for k, v in r["errors"].items():
            errors[k] = errors.get(k, 0) + v
    acked = [a for r in results for a in r["acked"]]
    received = {(c, m, role) for r in results for c, m, role in r["received"]}
    other = {"customer": "expert", "expert": "customer", "a": "b", "b": "a"}
    lost_live = [a for a in acked if (a[0], a[1], other[a[2]]) not in received]
    synced: dict[int, set[int]] = {}
    for r in results:
        for case_id, ids in r["synced"].items():
            synced.setdefault(int(case_id), set()).update(ids)
    lost_stored = [a for a in acked if mode == "gigcx" and a[1] not in synced.get(a[0], set())]
    out: dict[str, Any] = {"mode": mode, "setup_s": round(setup_s, 1), "errors": errors,
                           "conversations": sum(r["conversations"] for r in results),
                           "acked_messages": len(acked), "lost_live": len(lost_live),
                           "lost_stored": len(lost_stored), "phases": {}}
    if mode == "gigcx":
        out["ask_offer"] = summary([x for r in results for x in r["ask_offer"]])
        out["ask_ack"] = summary([x for r in results for x in r["ask_ack"]])
    for name, ask_rate, msg_rate, duration in phases:
        lats = [x for r in results for x in r["lat"].get(name, [])]
        acks = [x for r in results for x in r["ack_lat"].get(name, [])]
        sent = sum(r["sent"].get(name, 0) for r in results)
        starts = [r["marks"][name][0] for r in results if name in r["marks"]]
        ends = [r["marks"][name][1] for r in results if name in r["marks"]]
        start, end = (min(starts), max(ends)) if starts else (t0, t0)
        client_cpu = [s.window(start, end).get("cpu_avg_pct", 0.0) for s in client_samplers]
        out["phases"][name] = {"offered_msg_per_s": msg_rate, "ask_per_s": ask_rate, "duration_s": duration,
                               "sent": sent, "delivered": len(lats),
                               "delivered_per_s": round(len(lats) / duration, 1),
                               "message": summary(lats), "message_ack": summary(acks),
                               "server": sampler.window(start, end),
                               "clients_cpu_pct": round(sum(client_cpu), 1)}
    return out


def ceiling(result: dict[str, Any], p99_ms: float) -> float:
    """The highest ramp rate whose messages were all delivered with p99 under the bound."""
    best = 0.0
    for name, ph in result["phases"].items():
        if not name.startswith("ramp"):
            continue
        ok = ph["sent"] > 0 and ph["delivered"] >= 0.99 * ph["sent"] and (ph["message"]["p99_ms"] or 1e9) <= p99_ms
        if ok:
            best = max(best, ph["delivered_per_s"])
    return best


def run_once(args: argparse.Namespace, repeat: int) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="gigcx-load-"))
    report: dict[str, Any] = {"repeat": repeat}
    ramp = [(f"ramp{r}", 0.0, float(r), args.ramp_step_s) for r in args.ramp]
    proc = None
    try:
        port = free_port()
        proc = start_gigcx(folder, args.database_url, port)
        base = f"http://127.0.0.1:{port}"
        t = time.time()
        slug, tokens = seed(base, args.experts)
        report["seed_s"] = round(time.time() - t, 1)
        phases = [("target", args.ask_rate, args.msg_rate, args.duration)] + ramp
        report["gigcx"] = drive("gigcx", base, args.workers, phases, proc.pid, brand=slug, tokens=tokens,
                                customers=args.customers)
        report["gigcx"]["server_rss_end_mib"] = round(psutil.Process(proc.pid).memory_info().rss / 2**20, 1)
    finally:
        stop(proc)
    if not args.no_echo:
        echo = None
        try:
            port = free_port()
            echo = start_echo(folder, port)
            pairs = max(1, report["gigcx"]["conversations"] // 2)
            report["echo"] = drive("echo", f"http://127.0.0.1:{port}", args.workers,
                                   [(n, 0.0, r, d) for n, _, r, d in ramp], echo.pid, pairs=pairs)
        finally:
            stop(echo)
        report["ceiling"] = {"gigcx_msg_per_s": ceiling(report["gigcx"], args.ramp_p99_ms),
                             "echo_msg_per_s": ceiling(report["echo"], args.ramp_p99_ms)}
        e = report["ceiling"]["echo_msg_per_s"]
        report["ceiling"]["ratio"] = round(report["ceiling"]["gigcx_msg_per_s"] / e, 3) if e else None
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)
    else:
        report["folder"] = str(folder)
    return report


def print_report(reports: list[dict[str, Any]], args: argparse.Namespace) -> None:
    def med(path: list[str]) -> Any:
        vals = []
        for r in reports:
            v: Any = r
            for k in path:
                v = v.get(k) if isinstance(v, dict) else None
            if isinstance(v, (int, float)):
                vals.append(v)
        return round(statistics.median(vals), 2) if vals else None

    print(f"\nGigCX load ({len(reports)} repeat(s), medians): {args.customers} customers, {args.experts} experts, "
          f"{args.ask_rate} asks/s, {args.msg_rate} msgs/s for {args.duration}s, {args.workers} client processes, "
          f"database {'PostgreSQL' if args.database_url else 'SQLite'}")
    rows = [
        ("ask->offer p50 / p99 ms", ["gigcx", "ask_offer", "p50_ms"], ["gigcx", "ask_offer", "p99_ms"]),
        ("ask ack p50 / p99 ms", ["gigcx", "ask_ack", "p50_ms"], ["gigcx", "ask_ack", "p99_ms"]),
        ("message p50 / p99 ms", ["gigcx", "phases", "target", "message", "p50_ms"],
         ["gigcx", "phases", "target", "message", "p99_ms"]),
        ("message ack p50 / p99 ms", ["gigcx", "phases", "target", "message_ack", "p50_ms"],
         ["gigcx", "phases", "target", "message_ack", "p99_ms"]),
        ("delivered msgs/s (target)", ["gigcx", "phases", "target", "delivered_per_s"], None),
        ("server CPU avg / max % of a core", ["gigcx", "phases", "target", "server", "cpu_avg_pct"],
         ["gigcx", "phases", "target", "server", "cpu_max_pct"]),
        ("server RSS max MiB (target)", ["gigcx", "phases", "target", "server", "rss_max_mib"], None),
        ("client processes CPU %", ["gigcx", "phases", "target", "clients_cpu_pct"], None),
        ("acked / lost live / lost stored", ["gigcx", "acked_messages"], ["gigcx", "lost_live"]),
        ("relay ceiling gigcx / echo msgs/s", ["ceiling", "gigcx_msg_per_s"], ["ceiling", "echo_msg_per_s"]),
        ("ratio to echo", ["ceiling", "ratio"], None),
    ]
    for label, a, b in rows:
        print(f"  {label:36s} {med(a)!s:>10}" + (f" / {med(b)!s}" if b else ""))
    print(f"  {'lost stored':36s} {med(['gigcx', 'lost_stored'])!s:>10}")
    for r in reports:
        print(f"  repeat {r['repeat']}: errors gigcx={r['gigcx']['errors']} echo={r.get('echo', {}).get('errors')}")
        for mode in ("gigcx", "echo"):
            for name, ph in r.get(mode, {}).get("phases", {}).items():
                if name.startswith("ramp"):
                    print(f"    {mode:5s} {name:9s} sent {ph['sent']:6d} delivered/s {ph['delivered_per_s']:7.1f} "
                          f"p50 {ph['message']['p50_ms']} p99 {ph['message']['p99_ms']} ms "
                          f"server cpu {ph['server'].get('cpu_avg_pct')}% clients cpu {ph['clients_cpu_pct']}%")


def main() -> None:
    parser = argparse.ArgumentParser(description="GigCX load benchmark (see the module docstring).")
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--experts", type=int, default=100)
    parser.add_argument("--ask-rate", type=float, default=20.0, help="asks per second (open loop)")
    parser.add_argument("--msg-rate", type=float, default=200.0, help="messages per second (open loop)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of the target phase")
    parser.add_argument("--workers", type=int, default=2, help="client processes")
    parser.add_argument("--ramp", type=lambda s: [int(x) for x in s.split(",")],
                        default=[200, 300, 400, 500, 600, 800], help="message rates of the ceiling ramp")
    parser.add_argument("--ramp-step-s", type=float, default=6.0)
    parser.add_argument("--ramp-p99-ms", type=float, default=250.0,
                        help="a ramp step counts as sustained when all is delivered with p99 under this")
    parser.add_argument("--database-url", default=None, help="server database (default: SQLite in a temp dir)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--no-echo", action="store_true", help="skip the bare echo ceiling")
    parser.add_argument("--quick", action="store_true",
                        help="~30 s of traffic: 200 customers, 20 experts, 10 asks/s, 100 msgs/s, short ramp")
    parser.add_argument("--json", default=None, help="write the full results here")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (server log)")
    parser.add_argument("--profile", default=None,
                        help="py-spy the server during the target phase; collapsed stacks to this file")
    args = parser.parse_args()
    if args.profile:
        PROFILE["path"] = args.profile
    if args.quick:
        args.customers, args.experts, args.ask_rate, args.msg_rate = 200, 20, 10.0, 100.0
        args.duration, args.ramp, args.ramp_step_s = 12.0, [200, 400], 4.0
    reports = []
    for i in range(args.repeats):
        reports.append(run_once(args, i + 1))
        if args.json:
            Path(args.json).write_text(json.dumps(reports, indent=1))
    print_report(reports, args)


if __name__ == "__main__":
    main()
