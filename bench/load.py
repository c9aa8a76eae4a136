"""Load benchmark: real Socket.IO customers and experts against one `gigcx serve` process.

    python bench/load.py --quick                 # ~30 s of traffic at reduced scale, SQLite
    python bench/load.py                         # target scale: 1,000 customers, 100 experts
    python bench/load.py --database-url postgresql+psycopg://...  --repeats 3
    python bench/load.py --soak 10               # the target mix for 10 minutes, minute by minute

What it does, in one run:
1. Starts `python -m gigcx serve` on a fresh database (SQLite in a temp folder unless
   `--database-url`), rate limits raised through GIGCX_RATE_LIMIT_*; one brand, one topic, M
   experts approved for it (made through the REST API).
2. Starts W client processes (multiprocessing), each holding its share of the customers and
   experts as `socketio.AsyncClient`s on one asyncio loop (websocket transport).
3. Phase "warmup": asks only, at the target ask rate, to open conversations. Experts accept every
   offer at once and stay online (max_cases 20).
   * ask->offer: the ask's send time is encoded (in letters, so PII masking leaves it alone) in the
     question; the expert that receives the offer decodes it. Same clock: one machine.
4. Phase "target": open-loop arrivals (scheduled at fixed rates whatever the responses) of asks
   (customers, round-robin) and messages, at the target rates, for --duration seconds.
   * message latency: send time encoded in the text, decoded by the other party on receipt;
     every record is counted in the phase it was SENT in.
   * lost: every acknowledged message must reach the other party live AND be returned by a final
     `sync` of its case (seq 1..n with no gap).
5. Phase "ramp" (after the target: it ends by overloading the server on purpose): message-only
   steps of increasing rate over those conversations (a random party of a random conversation
   sends), stopping at the first step that is not sustained (all delivered, no error, p99 <=
   --ramp-p99-ms): the relay ceiling.
6. The same ramp against bench/echo_server.py (bare Flask-SocketIO relay, gevent +
   simple-websocket, no database) with as many conversations: the ceiling, and the ratio.
7. `--soak M` replaces steps 4-6: the target mix for M minutes, reported per minute (latency, CPU,
   RSS: does anything drift?). Conversations end: after `--resolve-after` messages the expert
   proposes a resolution and the customer confirms, which frees capacity and credits the ledger as
   in real use; every case is synced at the end (nothing acknowledged lost).
Server CPU (% of one core) and RSS are sampled with psutil every second; `--profile FILE` runs
py-spy on the server during the target phase.

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
           "GIGCX_RATE_LIMIT_AUTH_PER_MIN": "1000000", "GIGCX_RATE_LIMIT_CUSTOMERS_PER_MIN": "1000000",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    log = open(folder / "server.log", "ab")
    proc = subprocess.Popen([sys.executable, "-m", "gigcx", "serve", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, stdout=log, stderr=log, cwd=ROOT)
    wait_http(f"http://127.0.0.1:{port}/healthz", proc)
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
    """One client process: many AsyncClients on one loop, open-loop senders, recorders.

    It connects its share of the clients, then obeys the parent's commands one phase at a time
    (so the parent can stop a ramp at the first step that is not sustained) and reports what it
    recorded since the last report. Every record carries the send time, so a message is counted
    in the phase it was *sent* in, however late it arrives."""

    def __init__(self, cfg: dict[str, Any]):
        self.cfg = cfg
        self.url = cfg["url"]
        self.errors: list[tuple[float, str]] = []
        self.convs: list[tuple[str, Any, int]] = []  # (role, client, case_id or echo pair)
        self.conv_keys: set[tuple[str, int]] = set()
        self.ask_offer: list[tuple[float, float]] = []  # (sent at, latency)
        self.ask_ack: list[tuple[float, float]] = []
        self.msg_lat: list[tuple[float, float]] = []
        self.ack_lat: list[tuple[float, float]] = []
        self.sent: list[float] = []
        self.acked: list[tuple[int, int, str]] = []  # (case_id, message id, sender role)
        self.received: list[tuple[int, int, str]] = []  # (case_id, message id, receiving role)
        self.synced: dict[int, list[int]] = {}
        self.tasks: set[asyncio.Task[Any]] = set()
        self.customers: list[Any] = []
        self.experts: list[Any] = []
        self.reported: dict[str, int] = {}
        self.tokens: dict[int, str] = {}  # customer client -> its resume token
        self.finishing = False
        # soak: conversations end after `resolve_after` messages (expert proposes, customer confirms)
        self.resolve_after = int(cfg.get("resolve_after") or 0)
        self.counts: dict[int, int] = {}  # case -> messages seen by its expert
        self.proposing: set[int] = set()
        self.expert_of: dict[int, Any] = {}  # case -> expert client
        self.customer_cases: dict[int, Any] = {}  # every case this worker's customers talked in
        self.resolved = 0
        self.closed_races = 0  # a message sent just as its conversation was resolved (refused, not lost)

    def err(self, what: str) -> None:
        self.errors.append((time.time(), what))

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
            self.msg_lat.append((sent, time.time() - sent))
        self.received.append((data["case_id"], data["id"], role))
        if role == "expert":
            self.count(data["case_id"])

    def count(self, case_id: int) -> None:
        """Soak: the expert proposes a resolution once the conversation had its messages."""
        self.counts[case_id] = self.counts.get(case_id, 0) + 1
        client = self.expert_of.get(case_id)
        if self.resolve_after and self.counts[case_id] >= self.resolve_after and case_id not in self.proposing \
                and client is not None:
            self.proposing.add(case_id)
            self.spawn(self.propose(client, case_id))

    def drop(self, role: str, client: Any, case_id: int) -> None:
        if (role, case_id) in self.conv_keys:
            self.conv_keys.discard((role, case_id))
            self.convs = [c for c in self.convs if not (c[0] == role and c[2] == case_id)]

    async def call_ok(self, client: Any, what: str, event: str, data: dict[str, Any], namespace: str) -> bool:
        """Call an event; on a timeout or an error ack record `<what>_timeout` / `<what>_<code>`."""
        try:
            ack = await client.call(event, data, namespace=namespace, timeout=60)
        except Exception:
            self.err(f"{what}_timeout")
            return False
        if not ack.get("ok"):
            self.err(f"{what}_{ack['error']['code']}")
            return False
        return True

    async def propose(self, client: Any, case_id: int) -> None:
        if await self.call_ok(client, "resolve", "resolve", {"case_id": case_id}, "/expert"):
            self.drop("expert", client, case_id)

    async def confirm(self, client: Any, case_id: int) -> None:
        await self.call_ok(client, "confirm", "resolve", {"case_id": case_id, "resolved": True}, "/customer")

    def setup_customer(self, client: Any) -> None:
        client.on("message", lambda d: self.on_message("customer", d), namespace="/customer")
        client.on("session", lambda d: self.tokens.__setitem__(id(client), d["token"]), namespace="/customer")
        client.on("disconnect", lambda *a: self.err("disconnected") if not self.finishing else None,
                  namespace="/customer")

        def on_case(d: dict[str, Any]) -> None:
            status = d.get("status")
            if status == "active" and ("customer", d["id"]) not in self.conv_keys \
                    and d["id"] not in self.customer_cases:
                self.conv_keys.add(("customer", d["id"]))
                self.convs.append(("customer", client, d["id"]))
                self.customer_cases[d["id"]] = client
            elif status == "pending_confirmation" and self.resolve_after:
                self.spawn(self.confirm(client, d["id"]))
            elif status in ("resolved", "closed"):
                self.resolved += status == "resolved"
                self.drop("customer", client, d["id"])

        client.on("case", on_case, namespace="/customer")

    def setup_expert(self, client: Any) -> None:
        client.on("message", lambda d: self.on_message("expert", d), namespace="/expert")
        client.on("disconnect", lambda *a: self.err("disconnected") if not self.finishing else None,
                  namespace="/expert")

        def on_offer(d: dict[str, Any]) -> None:
            sent = unstamp(d.get("question", ""))
            if sent is not None:
                self.ask_offer.append((sent, time.time() - sent))
            self.spawn(accept(d))

        async def accept(d: dict[str, Any]) -> None:
            if not await self.call_ok(client, "accept", "accept", {"case_id": d["case_id"]}, "/expert"):
                return
            self.conv_keys.add(("expert", d["case_id"]))
            self.convs.append(("expert", client, d["case_id"]))
            self.expert_of[d["case_id"]] = client

        client.on("offer", on_offer, namespace="/expert")

    async def ask(self, client: Any, n: int) -> None:
        start = time.time()
        text = f"where is my card please help ts{stamp()} n{LETTERS[n % 10]}"
        try:
            ack = await client.call("ask", {"text": text, "client_id": uuid.uuid4().hex}, namespace="/customer",
                                    timeout=60)
        except Exception:
            self.err("ask_timeout")
            return
        if ack.get("ok"):
            self.ask_ack.append((start, time.time() - start))
        else:
            self.err("ask_" + ack["error"]["code"])

    async def send_gigcx(self, role: str, client: Any, case_id: int) -> None:
        start = time.time()
        self.sent.append(start)
        text = f"{role} says hello ts{stamp()}"
        try:
            ack = await client.call("message", {"case_id": case_id, "text": text, "client_id": uuid.uuid4().hex},
                                    namespace="/" + role, timeout=60)
        except Exception:
            self.err("message_timeout")
            return
        if ack.get("ok"):
            self.ack_lat.append((start, time.time() - start))
            self.acked.append((case_id, ack["message"]["id"], role))
            if role == "expert":
                self.count(case_id)
        elif ack["error"]["code"] == "case_closed" and self.resolve_after:
            self.closed_races += 1
        else:
            self.err("message_" + ack["error"]["code"])

    # ---- echo pairs
    async def send_echo(self, role: str, client: Any, pair: int) -> None:
        start = time.time()
        self.sent.append(start)
        mid = uuid.uuid4().int >> 80
        to = f"p{pair}-" + ("b" if role == "a" else "a")
        try:
            ack = await client.call("message", {"to": to, "text": f"{role} says hello ts{stamp()}", "id": mid},
                                    namespace="/echo", timeout=60)
        except Exception:
            self.err("message_timeout")
            return
        if ack.get("ok"):
            self.ack_lat.append((start, time.time() - start))
            self.acked.append((pair, mid, role))

    def setup_echo(self, role: str, pair: int) -> Any:
        def setup(client: Any) -> None:
            def on_msg(d: dict[str, Any]) -> None:
                sent = unstamp(d.get("text", ""))
                if sent is not None:
                    self.msg_lat.append((sent, time.time() - sent))
                self.received.append((pair, d["id"], role))

            client.on("message", on_msg, namespace="/echo")

        return setup

    # ---- the run
    async def open_loop(self, rate: float, start: float, until: float, fire: Any) -> None:
        """Call fire(i) at rate/s from `start` until `until`, never waiting for responses."""
        if rate <= 0:
            return
        i = 0
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

    def increment(self) -> dict[str, Any]:
        """Records since the last report."""
        out = {}
        for name in ("errors", "ask_offer", "ask_ack", "msg_lat", "ack_lat", "sent"):
            rows = getattr(self, name)
            out[name] = rows[self.reported.get(name, 0):]
            self.reported[name] = len(rows)
        out["conversations"] = len(self.convs)
        out["resolved"] = self.resolved
        out["closed_races"] = self.closed_races
        return out

    async def setup(self) -> None:
        cfg = self.cfg
        sem = asyncio.Semaphore(40)

        async def limited(coro: Any) -> Any:
            async with sem:
                return await coro

        if cfg["mode"] == "echo":
            made = await asyncio.gather(*[limited(self.connect("/echo", {"room": f"p{pair}-{role}"},
                                                               self.setup_echo(role, pair)))
                                          for pair in cfg["pairs"] for role in ("a", "b")])
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

    async def phase(self, ask_rate: float, msg_rate: float, start: float, duration: float, drain: float) -> None:
        await asyncio.sleep(max(0.0, start - time.time()))
        until = start + duration
        jobs = [self.open_loop(msg_rate, start, until, self.fire_message)]
        if ask_rate and self.customers:
            customers = self.customers
            jobs.append(self.open_loop(ask_rate, start, until,
                                       lambda i: self.spawn(self.ask(customers[i % len(customers)], i))))
        await asyncio.gather(*jobs)
        if self.tasks:  # wait for this phase's answers (an overloaded one may take long)
            await asyncio.wait(list(self.tasks), timeout=drain)
        await asyncio.sleep(RAMP_DRAIN_S)  # and for the deliveries that follow the last acks

    async def finish(self) -> dict[str, Any]:
        self.finishing = True
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=120)
        await asyncio.sleep(RAMP_DRAIN_S)
        if self.cfg["mode"] == "gigcx":  # the final sync: every acked message is stored, seq has no gap
            sem = asyncio.Semaphore(10)

            async def sync(client: Any, case_id: int) -> None:
                # Like a real client after any drop: reconnect, resume by token, sync. A soak has
                # thousands of finished cases: those are synced over the customer's own connection.
                async with sem:
                    fresh = client if self.resolve_after else await self.connect(
                        "/customer", {"brand": self.cfg["brand"], "token": self.tokens.get(id(client))},
                        lambda c: None)
                    if fresh is None:
                        self.err("sync_connect")
                        return
                    try:
                        ack = await fresh.call("sync", {"case_id": case_id, "after_seq": 0}, namespace="/customer",
                                               timeout=120)
                    except Exception:
                        self.err("sync_timeout")
                        return
                    finally:
                        if fresh is not client:
                            await fresh.disconnect()
                if not ack.get("ok"):
                    self.err("sync_" + ack["error"]["code"])
                    return
                seqs = [m["seq"] for m in ack.get("messages", [])]
                if seqs != list(range(1, len(seqs) + 1)):
                    self.err("seq_gap")
                self.synced[case_id] = [m["id"] for m in ack.get("messages", [])]

            await asyncio.gather(*[sync(c, cid) for cid, c in self.customer_cases.items()])
        clients = {c for c in self.customers + self.experts if c} | {c for _, c, _ in self.convs}
        await asyncio.gather(*[c.disconnect() for c in clients], return_exceptions=True)
        return {**self.increment(), "acked": self.acked, "received": self.received, "synced": self.synced}

    async def main(self, ready: Any, go: Any) -> None:
        await self.setup()
        ready.put(("ready", os.getpid()))
        loop = asyncio.get_running_loop()
        while True:
            cmd = await loop.run_in_executor(None, go.get)
            if cmd[0] == "stop":
                ready.put(("final", await self.finish()))
                return
            _, ask_rate, msg_rate, start, duration, drain = cmd
            await self.phase(ask_rate, msg_rate, start, duration, drain)
            ready.put(("phase", self.increment()))


def worker_entry(cfg: dict[str, Any], ready: Any, go: Any) -> None:
    import logging

    logging.getLogger("engineio.client").setLevel(logging.CRITICAL)  # "packet queue is empty" on close
    try:
        asyncio.run(Worker(cfg).main(ready, go))
    except BaseException as exc:  # report, don't hang the parent
        ready.put(("failed", repr(exc)))


# ---------------------------------------------------------------- driver
class Fleet:
    """The client processes of one server, driven phase by phase."""

    def __init__(self, mode: str, url: str, workers: int, server_pid: int, brand: str = "",
                 tokens: list[str] | None = None, customers: int = 0, pairs: int = 0, resolve_after: int = 0):
        ctx = mp.get_context("spawn")
        self.mode, self.workers = mode, workers
        self.ready = ctx.Queue()
        self.gos = []
        self.procs = []
        for w in range(workers):
            cfg = {"mode": mode, "url": url, "brand": brand, "expert_tokens": (tokens or [])[w::workers],
                   "customers": customers // workers + (1 if w < customers % workers else 0),
                   "pairs": list(range(pairs))[w::workers], "resolve_after": resolve_after}
            go = ctx.Queue()
            self.gos.append(go)
            p = ctx.Process(target=worker_entry, args=(cfg, self.ready, go), daemon=True)
            p.start()
            self.procs.append(p)
        t = time.time()
        self.collect("ready", timeout=900)
        self.setup_s = time.time() - t
        self.sampler = Sampler(server_pid)
        self.client_samplers = [Sampler(p.pid) for p in self.procs if p.pid]
        self.records: dict[str, list[Any]] = {k: [] for k in ("errors", "ask_offer", "ask_ack", "msg_lat",
                                                                "ack_lat", "sent")}
        self.conversations = self.resolved = self.closed_races = 0
        self.phases: dict[str, dict[str, Any]] = {}

    def collect(self, kind: str, timeout: float) -> list[Any]:
        out = []
        for _ in range(self.workers):
            state, info = self.ready.get(timeout=timeout)
            if state == "failed":
                raise RuntimeError(f"worker failed: {info}")
            assert state == kind, (state, kind)
            out.append(info)
        return out

    def absorb(self, increments: list[dict[str, Any]]) -> None:
        for inc in increments:
            for k in self.records:
                self.records[k].extend(inc[k])
        self.conversations = sum(inc["conversations"] for inc in increments)
        self.resolved = sum(inc.get("resolved", 0) for inc in increments)
        self.closed_races = sum(inc.get("closed_races", 0) for inc in increments)

    def run_phase(self, name: str, ask_rate: float, msg_rate: float, duration: float, drain: float = 60) -> dict[str, Any]:
        start = time.time() + 0.5
        for go in self.gos:
            go.put(("phase", ask_rate / self.workers, msg_rate / self.workers, start, duration, drain))
        self.absorb(self.collect("phase", timeout=duration + drain + 120))
        end = start + duration
        self.phases[name] = stats = self.window(start, end)
        stats.update(offered_msg_per_s=msg_rate, ask_per_s=ask_rate, duration_s=duration,
                     server=self.sampler.window(start, end),
                     clients_cpu_pct=round(sum(s.window(start, end).get("cpu_avg_pct", 0.0)
                                               for s in self.client_samplers), 1))
        return stats

    def window(self, start: float, end: float) -> dict[str, Any]:
        def within(rows: list[Any]) -> list[float]:
            return [lat for sent, lat in rows if start <= sent < end]

        lats = within(self.records["msg_lat"])
        sent = len([t for t in self.records["sent"] if start <= t < end])
        errors: dict[str, int] = {}
        for t, what in self.records["errors"]:
            if start <= t < end + 60:
                errors[what] = errors.get(what, 0) + 1
        timeline = []  # message p99 and ask->offer p99 per 5 s of sending: does it drift or collapse?
        if end - start >= 20:
            for t0 in range(int(start), int(end), 5):
                m = [lat for sent_at, lat in self.records["msg_lat"] if t0 <= sent_at < t0 + 5]
                a = [lat for sent_at, lat in self.records["ask_offer"] if t0 <= sent_at < t0 + 5]
                timeline.append((round(t0 - start), _ms(pct(m, 99)), _ms(pct(a, 99))))
        return {"timeline": timeline, "sent": sent, "delivered": len(lats),
                "delivered_per_s": round(len(lats) / (end - start), 1),
                "message": summary(lats), "message_ack": summary(within(self.records["ack_lat"])),
                "ask_offer": summary(within(self.records["ask_offer"])),
                "ask_ack": summary(within(self.records["ask_ack"])), "errors": errors}

    def stop(self) -> dict[str, Any]:
        for go in self.gos:
            go.put(("stop",))
        finals = self.collect("final", timeout=900)
        self.absorb(finals)
        for p in self.procs:
            p.join(30)
        self.sampler.stop.set()
        for s in self.client_samplers:
            s.stop.set()
        acked = [a for f in finals for a in f["acked"]]
        received = {(c, m, role) for f in finals for c, m, role in f["received"]}
        other = {"customer": "expert", "expert": "customer", "a": "b", "b": "a"}
        lost_live = [a for a in acked if (a[0], a[1], other[a[2]]) not in received]
        synced: dict[int, set[int]] = {}
        for f in finals:
            for case_id, ids in f["synced"].items():
                synced.setdefault(int(case_id), set()).update(ids)
        checked = [a for a in acked if self.mode == "gigcx" and a[0] in synced]
        lost_stored = [a for a in checked if a[1] not in synced[a[0]]]
        errors: dict[str, int] = {}
        for _, what in self.records["errors"]:
            errors[what] = errors.get(what, 0) + 1
        return {"mode": self.mode, "setup_s": round(self.setup_s, 1), "errors": errors,
                "resolved": self.resolved, "closed_races": self.closed_races,
                "conversations": self.conversations, "acked_messages": len(acked), "lost_live": len(lost_live),
                "checked_by_sync": len(checked), "lost_stored": len(lost_stored), "phases": self.phases}


def gc_pauses(base: str) -> dict[str, Any]:
    """The server's garbage-collector pauses over the whole run, from its /metrics histogram:
    per generation the count, total ms and how many took over 10 and 50 ms."""
    out: dict[str, Any] = {}
    for line in requests.get(f"{base}/metrics", headers={"Authorization": f"Bearer {ADMIN}"}, timeout=30).text.splitlines():
        if not line.startswith("gigcx_gc_pause_seconds"):
            continue
        name, value = line.rsplit(" ", 1)
        gen = name.split('generation="')[1].split('"')[0]
        row = out.setdefault(gen, {})
        if name.startswith("gigcx_gc_pause_seconds_count"):
            row["count"] = int(float(value))
        elif name.startswith("gigcx_gc_pause_seconds_sum"):
            row["total_ms"] = round(float(value) * 1000, 1)
        elif 'le="0.01"' in name:
            row["le_10ms"] = int(float(value))
        elif 'le="0.05"' in name:
            row["le_50ms"] = int(float(value))
    for row in out.values():
        row["over_10ms"] = row.get("count", 0) - row.pop("le_10ms", 0)
        row["over_50ms"] = row.get("count", 0) - row.pop("le_50ms", 0)
    return out


def sustained(stats: dict[str, Any], p99_ms: float) -> bool:
    return (stats["sent"] > 0 and stats["delivered"] >= 0.99 * stats["sent"]
            and (stats["message"]["p99_ms"] or 1e9) <= p99_ms and not stats["errors"])


def ramp(fleet: Fleet, rates: list[int], step_s: float, p99_ms: float) -> float:
    """Message-only steps of increasing rate until one is not sustained; the best sustained rate."""
    best = 0.0
    for rate in rates:
        for attempt in (1, 2):  # a shared machine: one noisy step gets a second chance
            name = f"ramp{rate}" if attempt == 1 else f"ramp{rate}-again"
            stats = fleet.run_phase(name, 0.0, float(rate), step_s, drain=20)
            ok = sustained(stats, p99_ms)
            stats["sustained"] = ok
            if ok:
                break
        print(f"  {fleet.mode:5s} ramp {rate:5d}/s: delivered {stats['delivered_per_s']:7.1f}/s "
              f"p50 {stats['message']['p50_ms']} p99 {stats['message']['p99_ms']} ms "
              f"server cpu {stats['server'].get('cpu_avg_pct')}% {'ok' if ok else 'NOT sustained'}", flush=True)
        if not ok:
            break
        best = max(best, stats["delivered_per_s"])
    return best


def soak(fleet: Fleet, args: argparse.Namespace) -> dict[str, Any]:
    """The target mix for `--soak` minutes, reported minute by minute: does latency or memory drift?
    Conversations end (expert proposes after `--resolve-after` messages, customer confirms), so
    experts' capacity is recycled and the ledger is credited as in real use."""
    windows = []
    for minute in range(1, int(args.soak) + 1):
        stats = fleet.run_phase(f"soak{minute}", args.ask_rate, args.msg_rate, 60.0, drain=10)
        row = {"minute": minute, "ask_offer_p99_ms": stats["ask_offer"]["p99_ms"],
               "message_p50_ms": stats["message"]["p50_ms"], "message_p99_ms": stats["message"]["p99_ms"],
               "sent": stats["sent"], "delivered": stats["delivered"], "errors": stats["errors"],
               "cpu_avg_pct": stats["server"].get("cpu_avg_pct"), "rss_max_mib": stats["server"].get("rss_max_mib"),
               "open_conversation_ends": fleet.conversations, "resolved": fleet.resolved}
        windows.append(row)
        print(f"  soak minute {minute:3d}: ask->offer p99 {row['ask_offer_p99_ms']} ms, message p50/p99 "
              f"{row['message_p50_ms']}/{row['message_p99_ms']} ms, cpu {row['cpu_avg_pct']}%, rss "
              f"{row['rss_max_mib']} MiB, resolved {row['resolved']}, errors {row['errors']}", flush=True)
    rss = [w["rss_max_mib"] for w in windows if w["rss_max_mib"]]
    return {"windows": windows, "rss_first_mib": rss[0] if rss else None, "rss_last_mib": rss[-1] if rss else None,
            "message_p99_ms_median": statistics.median([w["message_p99_ms"] for w in windows
                                                        if w["message_p99_ms"] is not None] or [0])}


def run_once(args: argparse.Namespace, repeat: int) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="gigcx-load-"))
    report: dict[str, Any] = {"repeat": repeat}
    proc = None
    try:
        port = free_port()
        proc = start_gigcx(folder, args.database_url, port)
        base = f"http://127.0.0.1:{port}"
        t = time.time()
        slug, tokens = seed(base, args.experts)
        report["seed_s"] = round(time.time() - t, 1)
        fleet = Fleet("gigcx", base, args.workers, proc.pid, brand=slug, tokens=tokens, customers=args.customers,
                      resolve_after=args.resolve_after if args.soak else 0)
        print(f"  gigcx: {args.customers} customers and {args.experts} experts connected in {fleet.setup_s:.1f}s",
              flush=True)
        warm = fleet.run_phase("warmup", args.ask_rate, 0.0, args.warmup)  # conversations to talk in
        print(f"  gigcx warmup: ask->offer p50 {warm['ask_offer']['p50_ms']} p99 {warm['ask_offer']['p99_ms']} ms, "
              f"{fleet.conversations} conversation ends", flush=True)
        if args.soak:
            report["soak"] = soak(fleet, args)
            report["gigcx"] = fleet.stop()
            report["gigcx"]["gc_pauses"] = gc_pauses(base)
            return report
        # The target mix before the ramp: the ramp ends by overloading the server on purpose, and
        # the target is a steady-state requirement, not a measure of recovery from that.
        if PROFILE.get("path"):  # py-spy over the target phase
            spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
            subprocess.Popen([spy, "record", "-p", str(proc.pid), "-d", str(int(args.duration) + 1),
                              "-r", "50", "--format", "raw", "-o", PROFILE["path"]],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        target = fleet.run_phase("target", args.ask_rate, args.msg_rate, args.duration, drain=120)
        print(f"  gigcx target: ask->offer p99 {target['ask_offer']['p99_ms']} ms, message p99 "
              f"{target['message']['p99_ms']} ms, server cpu {target['server'].get('cpu_avg_pct')}%", flush=True)
        print(f"  gigcx target, per 5 s (s, message p99 ms, ask->offer p99 ms): {target['timeline']}", flush=True)
        ceiling_gigcx = ramp(fleet, args.ramp, args.ramp_step_s, args.ramp_p99_ms)
        report["gigcx"] = fleet.stop()
        report["gigcx"]["gc_pauses"] = gc_pauses(base)
        report["gigcx"]["server_rss_end_mib"] = round(psutil.Process(proc.pid).memory_info().rss / 2**20, 1)
        pairs = max(1, report["gigcx"]["conversations"] // 2)
    finally:
        stop(proc)
    report["ceiling"] = {"gigcx_msg_per_s": ceiling_gigcx}
    if not args.no_echo:
        echo = None
        try:
            port = free_port()
            echo = start_echo(folder, port)
            fleet = Fleet("echo", f"http://127.0.0.1:{port}", args.workers, echo.pid, pairs=pairs)
            ceiling_echo = ramp(fleet, args.ramp + args.echo_ramp, args.ramp_step_s, args.ramp_p99_ms)
            report["echo"] = fleet.stop()
        finally:
            stop(echo)
        report["ceiling"]["echo_msg_per_s"] = ceiling_echo
        report["ceiling"]["ratio"] = round(ceiling_gigcx / ceiling_echo, 3) if ceiling_echo else None
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
          f"target {args.ask_rate} asks/s + {args.msg_rate} msgs/s for {args.duration}s, {args.workers} client "
          f"processes, database {'PostgreSQL' if args.database_url else 'SQLite'}")
    t = ["gigcx", "phases", "target"]
    rows = [
        ("warmup ask->offer p50 / p99 ms", ["gigcx", "phases", "warmup", "ask_offer", "p50_ms"],
         ["gigcx", "phases", "warmup", "ask_offer", "p99_ms"]),
        ("target ask->offer p50 / p99 ms", t + ["ask_offer", "p50_ms"], t + ["ask_offer", "p99_ms"]),
        ("target ask ack p50 / p99 ms", t + ["ask_ack", "p50_ms"], t + ["ask_ack", "p99_ms"]),
        ("target message p50 / p99 ms", t + ["message", "p50_ms"], t + ["message", "p99_ms"]),
        ("target message ack p50 / p99 ms", t + ["message_ack", "p50_ms"], t + ["message_ack", "p99_ms"]),
        ("target sent / delivered msgs", t + ["sent"], t + ["delivered"]),
        ("target server CPU avg / max %", t + ["server", "cpu_avg_pct"], t + ["server", "cpu_max_pct"]),
        ("target server RSS max MiB", t + ["server", "rss_max_mib"], None),
        ("target client processes CPU %", t + ["clients_cpu_pct"], None),
        ("acked / lost live", ["gigcx", "acked_messages"], ["gigcx", "lost_live"]),
        ("checked by sync / lost stored", ["gigcx", "checked_by_sync"], ["gigcx", "lost_stored"]),
        ("relay ceiling gigcx / echo msgs/s", ["ceiling", "gigcx_msg_per_s"], ["ceiling", "echo_msg_per_s"]),
        ("ratio to echo", ["ceiling", "ratio"], None),
    ]
    if args.soak:  # no target, ramp or echo phases: the per-minute lines and the summary below say it
        rows = [r for r in rows if r[0].startswith(("warmup", "acked", "checked"))]
    for label, a, b in rows:
        print(f"  {label:36s} {med(a)!s:>10}" + (f" / {med(b)!s}" if b else ""))
    if args.soak:
        for r in reports:
            sk = r["soak"]
            print(f"  soak repeat {r['repeat']}: {len(sk['windows'])} minutes, RSS first/last minute "
                  f"{sk['rss_first_mib']}/{sk['rss_last_mib']} MiB, median of per-minute message p99 "
                  f"{sk['message_p99_ms_median']} ms, conversations resolved {r['gigcx']['resolved']}, "
                  f"messages refused because their conversation had just closed {r['gigcx']['closed_races']}")
    for r in reports:
        print(f"  repeat {r['repeat']}: server GC pauses by generation {r['gigcx'].get('gc_pauses')}")
        print(f"  repeat {r['repeat']}: errors gigcx={r['gigcx']['errors']} echo={r.get('echo', {}).get('errors')}")


def main() -> None:
    parser = argparse.ArgumentParser(description="GigCX load benchmark (see the module docstring).")
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--experts", type=int, default=100)
    parser.add_argument("--ask-rate", type=float, default=20.0, help="asks per second (open loop)")
    parser.add_argument("--msg-rate", type=float, default=200.0, help="messages per second (open loop)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of the target phase")
    parser.add_argument("--workers", type=int, default=2, help="client processes")
    parser.add_argument("--ramp", type=lambda s: [int(x) for x in s.split(",")],
                        default=[50, 100, 150, 200, 300, 400, 600, 800], help="message rates of the ceiling ramp")
    parser.add_argument("--ramp-step-s", type=float, default=5.0)
    parser.add_argument("--echo-ramp", type=lambda s: [int(x) for x in s.split(",")], default=[1200, 1600, 2400],
                        help="further steps for the echo server only")
    parser.add_argument("--warmup", type=float, default=15.0, help="seconds of asks that open the conversations")
    parser.add_argument("--ramp-p99-ms", type=float, default=250.0,
                        help="a ramp step counts as sustained when all is delivered with p99 under this")
    parser.add_argument("--database-url", default=None, help="server database (default: SQLite in a temp dir)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--soak", type=float, default=0,
                        help="minutes of the target mix, reported per minute, instead of ramps and echo")
    parser.add_argument("--resolve-after", type=int, default=8,
                        help="soak: messages after which the expert resolves a conversation")
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
        args.duration, args.ramp, args.ramp_step_s, args.warmup = 12.0, [50, 100, 200, 400], 4.0, 6.0
        args.echo_ramp = [800]
    reports = []
    for i in range(args.repeats):
        reports.append(run_once(args, i + 1))
        if args.json:
            Path(args.json).write_text(json.dumps(reports, indent=1))
    print_report(reports, args)


if __name__ == "__main__":
    main()
