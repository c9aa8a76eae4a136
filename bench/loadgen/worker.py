"""Load benchmark: one client process (many AsyncClients on one loop)."""
from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from typing import Any

from bench.loadgen.common import LETTERS, RAMP_DRAIN_S, stamp, unstamp


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
                url = self.cfg.get("urls", {}).get(namespace, self.url)  # a role may have its own process
                await client.connect(url, namespaces=[namespace], auth=auth, transports=["websocket"],
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
