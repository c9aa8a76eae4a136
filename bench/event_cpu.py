"""Server CPU per event type: how much of a core one ask, accept, message and resolution cost.

    python bench/event_cpu.py [--backend sqlite|postgres] [--experts 100] [--rounds 4] [--batch 40]
    python bench/event_cpu.py --history 20000    # the brand first gets 20,000 finished cases

One `gigcx serve` process, `--experts` experts online on one topic, and conversations driven one
event at a time (each waits for its ack, so nothing queues and the process never saturates), in
`--rounds` rounds after one uncounted warm-up round: `--batch` customers ask, the offered experts accept, each conversation exchanges `--messages`
messages, the experts resolve and the customers confirm. The server's CPU time (user + system,
from /proc via psutil) is read before and after each kind of event in a round, and the idle
rate (timers, sweeps, the lag monitor) measured beforehand is subtracted: what is left is the
CPU the events themselves cost (`resolve` is the expert's proposal and the customer's
confirmation together; `propose` and `confirm` each alone). It still varies by up to 1.6x between identical runs on the
shared 2-core machines here (docs/benchmarks.md, "CPU per event type"): compare two builds by
alternating them in one sitting.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.loadgen.common import (  # noqa: E402
    free_port,
    give_history,
    history_topics,
    postgres_schema,
    seed,
    server_database_url,
    start_gigcx,
    stop,
)
from tests.servers import Peer  # noqa: E402


class Client(Peer):
    """A test-suite peer whose calls must succeed, and that takes the events it waits for."""

    def call(self, event: str, data: Any = None, timeout: float = 60) -> Any:
        ack = super().call(event, data, timeout)
        if not ack.get("ok"):
            raise RuntimeError(f"{event}: {ack}")
        return ack

    def take(self, event: str, case_id: int, timeout: float = 30) -> Any:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i, (name, data) in enumerate(self.events):
                    if name == event and data.get("case_id") == case_id:
                        del self.events[i]
                        return data
                if not self.cond.wait(max(deadline - time.monotonic(), 0)):
                    raise RuntimeError(f"no {event} for case {case_id}")


def cpu_s(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system


def run_once(args: argparse.Namespace, database_url: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        port = free_port()
        server = start_gigcx(Path(tmp), database_url, port, {"GIGCX_SHED_LAG_MS": "0"})
        stack.callback(stop, server)
        url = f"http://127.0.0.1:{port}"
        proc = psutil.Process(server.pid)
        slug, tokens = seed(url, args.experts, history_topics() if args.history is not None else None)
        if args.history:
            give_history(server_database_url(Path(tmp), database_url), slug, args.history)
        experts = [Client(url, "/expert", {"token": t}) for t in tokens]
        for e in experts:
            stack.callback(e.close)
            e.call("availability", {"online": True})
        customers = [Client(url, "/customer", {"brand": slug}) for _ in range(args.batch)]
        for c in customers:
            stack.callback(c.close)
        time.sleep(2)
        if args.profile:  # py-spy over the events (stacks collapsed, one line per stack)
            import shutil
            import subprocess

            spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
            spy_proc = subprocess.Popen([spy, "record", "-p", str(server.pid), "-r", "200", "--format", "raw",
                                         "-o", args.profile], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            stack.callback(spy_proc.wait, 30)
            stack.callback(spy_proc.send_signal, 2)
            time.sleep(1)
        idle_start, t0 = cpu_s(proc), time.monotonic()
        time.sleep(args.idle_s)
        idle_rate = (cpu_s(proc) - idle_start) / (time.monotonic() - t0)  # CPU s per s with no events

        totals: dict[str, list[float]] = {k: [0.0, 0.0] for k in ("ask", "accept", "message", "resolve",
                                                                   "propose", "confirm")}

        counting = [False]

        def measure(kind: str, work: Any) -> Any:
            before, start = cpu_s(proc), time.monotonic()
            out = work()
            wall = time.monotonic() - start
            if counting[0]:
                # the expert's proposal and the customer's confirmation also count together, as `resolve`
                for k in (kind, "resolve") if kind in ("propose", "confirm") else (kind,):
                    totals[k][0] += cpu_s(proc) - before - idle_rate * wall
                    totals[k][1] += 1
            return out

        for r in range(args.rounds + 1):
            counting[0] = r > 0  # the first round warms up (models loaded, caches filled): not counted
            cases = []
            for i, c in enumerate(customers):
                ack = measure("ask", lambda c=c, i=i, r=r: c.call("ask", {
                    "text": "where is my card, it has not arrived", "client_id": f"r{r}-{i}-{uuid.uuid4().hex[:6]}"}))
                cases.append((c, ack["case"]["id"]))
            pairs = []
            for c, case_id in cases:
                expert = next(e for e in experts if any(n == "offer" and d.get("case_id") == case_id
                                                        for n, d in list(e.events)))
                expert.take("offer", case_id)
                measure("accept", lambda e=expert, k=case_id: e.call("accept", {"case_id": k}))
                pairs.append((c, expert, case_id))
            for j in range(args.messages):
                for c, e, case_id in pairs:
                    who = c if j % 2 == 0 else e
                    measure("message", lambda w=who, k=case_id, j=j: w.call("message", {
                        "case_id": k, "text": f"message {j} about the card", "client_id": f"m{j}-{k}"}))
            for c, e, case_id in pairs:
                measure("propose", lambda e=e, k=case_id: e.call("resolve", {"case_id": k}))
                measure("confirm", lambda c=c, k=case_id: c.call("resolve", {"case_id": k, "resolved": True}))
            for e in experts:  # drop what the rounds left (messages, case updates)
                with e.cond:
                    e.events.clear()
            for c in customers:
                with c.cond:
                    c.events.clear()
        return {k: round(1000 * v[0] / v[1], 3) for k, v in totals.items()} | {"idle_cpu_pct": round(100 * idle_rate, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    ap.add_argument("--experts", type=int, default=100)
    ap.add_argument("--batch", type=int, default=40, help="conversations per round")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--messages", type=int, default=10, help="messages per conversation")
    ap.add_argument("--idle-s", type=float, default=5.0)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--history", type=int, default=None,
                    help="give the brand this many finished cases first (seven topics instead of one; "
                         "--history 0: those topics, no history)")
    ap.add_argument("--json", default=None)
    ap.add_argument("--profile", default=None, help="py-spy the server over the run; collapsed stacks to this file")
    args = ap.parse_args()
    runs = []
    for i in range(args.repeats):
        with ExitStack() as stack:
            url = stack.enter_context(postgres_schema(args.postgres_url)) if args.backend == "postgres" else None
            result = run_once(args, url)
        print(f"run {i + 1}: CPU ms per event {result}", flush=True)
        runs.append(result)
    if len(runs) > 1:
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        print(f"median of {len(runs)}: {med}")
    if args.json:
        Path(args.json).write_text(json.dumps(runs, indent=1))


if __name__ == "__main__":
    main()
