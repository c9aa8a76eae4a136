"""Load benchmark: real Socket.IO customers and experts against one `gigcx serve` process.

    python bench/load.py --quick                 # ~30 s of traffic at reduced scale, SQLite
    python bench/load.py                         # target scale: 1,000 customers, 100 experts
    python bench/load.py --database-url postgresql+psycopg://...  --repeats 3
    python bench/load.py --soak 10               # the target mix for 10 minutes, minute by minute

What it does, in one run:
1. Starts `python -m gigcx serve` on a fresh database (SQLite in a temp folder unless
   `--database-url`), rate limits raised through GIGCX_RATE_LIMIT_*; one brand, one topic, M
   experts approved for it (made through the REST API). `--history N` gives the brand seven topics
   and N finished cases (resolved, escalated, deflected; messages, ratings, ledger credits,
   reusable answers) over the past six months, written straight into the database in bulk
   (bench/loadgen/history.py) before any client connects: what a brand's past costs.
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
   --ramp-p99-ms): the relay ceiling. Unless `--no-echo`, steps beyond `--ramp` (`--ramp-factor`x each, 1.25) are
   added until one fails, so a ceiling is never the end of the listed steps.
6. The same ramp against bench/echo_server.py (bare Flask-SocketIO relay, gevent +
   simple-websocket, no database) with as many conversations, also run until a step fails: the
   ceiling, the ratio, and beside it the server CPU per relayed message of each at its ceiling
   (`cpu_ratio` = echo's / GigCX's: the share of a bare relay's efficiency GigCX keeps).
   With `--paired` both servers stay up and the two ramps run step by step in turn (GigCX at a
   rate, then the echo at the same rate, each until it fails): on a shared machine whose speed
   drifts over minutes, the two ceilings then meet the same drift. It also reports the CPU ratio
   at the highest rate both sustained (the same work within seconds, neither at its limit).
7. `--soak M` replaces steps 4-6: the target mix for M minutes, reported per minute (latency, CPU,
   RSS: does anything drift?). Conversations end: after `--resolve-after` messages the expert
   proposes a resolution and the customer confirms, which frees capacity and credits the ledger as
   in real use; every case is synced at the end (nothing acknowledged lost).
Server CPU (% of one core) and RSS are sampled with psutil every second; `--profile FILE` runs
py-spy on the server during the target phase (with `--soak`: over each minute, to FILE.minuteN).

Scale-out: `--backend postgres` runs on a fresh schema of --postgres-url (dropped after);
`--processes 1,2` runs the whole measurement once per process count and reports the scaling
ratio (relay ceiling at N processes / at 1). With more than one process they share Redis
(--redis-url, a channel of their own per run) and, with `--route haproxy` (the default), the
clients connect through HAProxy configured from deploy/haproxy.cfg (fresh WebSockets go to the
least loaded process, so a conversation's customer and expert are on the same process or not, as
it falls); `--route split` connects every customer to the first process and every expert to the
second, so every delivery crosses Redis (the worst case). CPU of each server process, of all
`postgres` processes and of `redis-server` is sampled (read only).

Results print as a table and are written as JSON (`--json`).
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.loadgen.common import (
    free_port,
    give_history,
    history_topics,
    postgres_schema,
    seed,
    server_database_url,
    start_echo,
    start_gigcx,
    start_haproxy,
    stop,
)
from bench.loadgen.fleet import Fleet, commit_groups, gc_pauses, paired_ramp, ramp, soak

PROFILE: dict[str, str] = {}


def py_spy(pid: int, seconds: int, path: str) -> None:
    """Sample process `pid` for `seconds` in the background (50 Hz; collapsed stacks to `path`,
    for bench/stack_tree.py)."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    subprocess.Popen([spy, "record", "-p", str(pid), "-d", str(seconds), "-r", "50", "--format", "raw", "-o", path],
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run_once(args: argparse.Namespace, repeat: int, processes: int = 1) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="gigcx-load-"))
    report: dict[str, Any] = {"repeat": repeat, "processes": processes, "backend": args.backend,
                              "route": args.route if processes > 1 else None,
                              "loadavg_start": [round(x, 2) for x in psutil.getloadavg()]}
    procs: list[subprocess.Popen[bytes]] = []
    balancer = echo_proc = None
    paired: dict[str, Any] = {}
    stack = ExitStack()  # the PostgreSQL schema, dropped after the servers stop
    try:
        database_url = args.database_url
        if args.backend == "postgres" and not database_url:
            database_url = stack.enter_context(postgres_schema(args.postgres_url))
        extra = {}
        if processes > 1:
            extra = {"GIGCX_REDIS_URL": args.redis_url, "GIGCX_REDIS_CHANNEL": "bench-" + uuid.uuid4().hex[:8]}
        ports = []
        for _ in range(processes):  # one after the other: the first creates the schema
            ports.append(free_port())
            procs.append(start_gigcx(folder, database_url, ports[-1], extra))
        proc = procs[0]
        direct = [f"http://127.0.0.1:{p}" for p in ports]
        base, urls = direct[0], {}
        if processes > 1 and args.route == "haproxy":
            port = free_port()
            balancer = start_haproxy(folder, ports, port)
            base = f"http://127.0.0.1:{port}"
        elif processes > 1:
            urls = {"/customer": direct[0], "/expert": direct[1]}
        services = {"redis": ("redis-server",)} if processes > 1 else {}
        if database_url and database_url.startswith("postgresql"):
            services["postgres"] = ("postgres",)
        if balancer is not None:
            services["haproxy"] = ("haproxy",)
        t = time.time()
        slug, tokens = seed(base, args.experts, history_topics() if args.history is not None else None)
        report["seed_s"] = round(time.time() - t, 1)
        if args.history:
            report["history"] = give_history(server_database_url(folder, database_url), slug, args.history)
        fleet = Fleet("gigcx", base, args.workers, [p.pid for p in procs], brand=slug, tokens=tokens,
                      customers=args.customers, resolve_after=args.resolve_after if args.soak else 0, urls=urls,
                      services=services)
        print(f"  gigcx: {args.customers} customers and {args.experts} experts connected in {fleet.setup_s:.1f}s",
              flush=True)
        warm = fleet.run_phase("warmup", args.ask_rate, 0.0, args.warmup)  # conversations to talk in
        print(f"  gigcx warmup: ask->offer p50 {warm['ask_offer']['p50_ms']} p99 {warm['ask_offer']['p99_ms']} ms, "
              f"{fleet.conversations} conversation ends", flush=True)
        if args.soak:
            report["soak"] = soak(fleet, args, profile=(lambda minute: py_spy(proc.pid, 60, f"{PROFILE['path']}.minute{minute}"))
                                  if PROFILE.get("path") else None)
            report["gigcx"] = fleet.stop()
            report["gigcx"]["gc_pauses"] = [gc_pauses(u) for u in direct]
            report["gigcx"]["commit_groups"] = [commit_groups(u) for u in direct]
            return report
        # The target mix before the ramp: the ramp ends by overloading the server on purpose, and
        # the target is a steady-state requirement, not a measure of recovery from that.
        if PROFILE.get("path"):  # py-spy over the target phase
            py_spy(proc.pid, int(args.duration) + 1, PROFILE["path"])
        target = fleet.run_phase("target", args.ask_rate, args.msg_rate, args.duration, drain=120)
        print(f"  gigcx target: ask->offer p99 {target['ask_offer']['p99_ms']} ms, message p99 "
              f"{target['message']['p99_ms']} ms, server cpu {target['server'].get('cpu_avg_pct')}%", flush=True)
        print(f"  gigcx target, per 5 s (s, message p99 ms, ask->offer p99 ms): {target['timeline']}", flush=True)
        if args.paired and not args.no_echo and processes == 1:
            echo_port = free_port()
            echo_proc = start_echo(folder, echo_port)
            echo_fleet = Fleet("echo", f"http://127.0.0.1:{echo_port}", args.workers, echo_proc.pid,
                               pairs=max(1, fleet.conversations // 2))
            paired = paired_ramp({"gigcx": fleet, "echo": echo_fleet}, args.ramp, args.ramp_step_s,
                                 args.ramp_p99_ms, factor=args.ramp_factor, max_extra=args.ramp_max_extra)
            ceiling_gigcx, cpu_ms_gigcx = paired["best"]["gigcx"], paired["cpu_ms"]["gigcx"]
            report["echo"] = echo_fleet.stop()
            report["paired_steps"] = paired["steps"]
        else:
            ceiling_gigcx, cpu_ms_gigcx = ramp(fleet, args.ramp, args.ramp_step_s, args.ramp_p99_ms,
                                               until_failure=not args.no_echo, factor=args.ramp_factor,
                                               max_extra=args.ramp_max_extra)
        report["gigcx"] = fleet.stop()
        report["gigcx"]["gc_pauses"] = [gc_pauses(u) for u in direct]
        report["gigcx"]["commit_groups"] = [commit_groups(u) for u in direct]
        report["gigcx"]["server_rss_end_mib"] = [round(psutil.Process(p.pid).memory_info().rss / 2**20, 1)
                                                 for p in procs]
        pairs = max(1, report["gigcx"]["conversations"] // 2)
    finally:
        stop(balancer)
        stop(echo_proc)
        for p in procs:
            stop(p)
        stack.close()
    report["ceiling"] = {"gigcx_msg_per_s": ceiling_gigcx, "gigcx_cpu_ms_per_msg": cpu_ms_gigcx}
    report["loadavg_end"] = [round(x, 2) for x in psutil.getloadavg()]
    if paired:
        echo_best, echo_cpu = paired["best"]["echo"], paired["cpu_ms"]["echo"]
        report["ceiling"].update(echo_msg_per_s=echo_best, echo_cpu_ms_per_msg=echo_cpu, paired=True,
                                 never_failed=paired["never_failed"],  # the steps ran out first: a floor
                                 ratio=round(ceiling_gigcx / echo_best, 3) if echo_best else None,
                                 cpu_ratio=round(echo_cpu / cpu_ms_gigcx, 3) if echo_cpu and cpu_ms_gigcx else None)
        # server CPU per message at the highest rate both sustained: the same work, the same minute
        both = [row for row in report["paired_steps"]
                if row.get("gigcx", {}).get("sustained") and row.get("echo", {}).get("sustained")]
        if both and both[-1]["gigcx"]["cpu_avg_pct"] and both[-1]["echo"]["cpu_avg_pct"]:
            top = both[-1]
            report["ceiling"]["same_rate"] = {"rate": top["rate"],
                                              "cpu_ratio": round(top["echo"]["cpu_avg_pct"] / top["gigcx"]["cpu_avg_pct"], 3)}
    elif not args.no_echo and processes == 1:
        echo = None
        try:
            port = free_port()
            echo = start_echo(folder, port)
            fleet = Fleet("echo", f"http://127.0.0.1:{port}", args.workers, echo.pid, pairs=pairs)
            ceiling_echo, cpu_ms_echo = ramp(fleet, args.ramp + args.echo_ramp, args.ramp_step_s, args.ramp_p99_ms,
                                             factor=args.ramp_factor, max_extra=args.ramp_max_extra)
            report["echo"] = fleet.stop()
        finally:
            stop(echo)
        report["ceiling"]["echo_msg_per_s"] = ceiling_echo
        report["ceiling"]["ratio"] = round(ceiling_gigcx / ceiling_echo, 3) if ceiling_echo else None
        # server CPU per relayed message at each one's ceiling: echo / gigcx (1.0: as cheap as a bare relay)
        report["ceiling"]["echo_cpu_ms_per_msg"] = cpu_ms_echo
        report["ceiling"]["cpu_ratio"] = (round(cpu_ms_echo / cpu_ms_gigcx, 3)
                                          if cpu_ms_echo and cpu_ms_gigcx else None)
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)
    else:
        report["folder"] = str(folder)
    return report


def print_report(reports: list[dict[str, Any]], args: argparse.Namespace) -> None:
    def med(path: list[Any]) -> Any:
        vals = []
        for r in reports:
            v: Any = r
            for k in path:
                if isinstance(k, int):
                    v = v[k] if isinstance(v, list) and len(v) > k else None
                else:
                    v = v.get(k) if isinstance(v, dict) else None
            if isinstance(v, (int, float)):
                vals.append(v)
        return round(statistics.median(vals), 2) if vals else None

    n = reports[0].get("processes", 1)
    layout = f"{n} process(es)" + (f" + Redis, route {args.route}" if n > 1 else "")
    print(f"\nGigCX load ({len(reports)} repeat(s), medians): {args.customers} customers, {args.experts} experts, "
          f"target {args.ask_rate} asks/s + {args.msg_rate} msgs/s for {args.duration}s, {args.workers} client "
          f"processes, database {'PostgreSQL' if reports[0].get('backend') == 'postgres' or args.database_url else 'SQLite'}, "
          f"{layout}; load average at start {reports[0].get('loadavg_start')}")
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
        *[(f"target server {i + 1} CPU avg / max %", t + ["servers", i, "cpu_avg_pct"],
           t + ["servers", i, "cpu_max_pct"]) for i in range(n if n > 1 else 0)],
        ("target PostgreSQL CPU avg / max %", t + ["postgres", "cpu_avg_pct"], t + ["postgres", "cpu_max_pct"]),
        ("target Redis CPU avg / max %", t + ["redis", "cpu_avg_pct"], t + ["redis", "cpu_max_pct"]),
        ("target HAProxy CPU avg / max %", t + ["haproxy", "cpu_avg_pct"], t + ["haproxy", "cpu_max_pct"]),
        ("acked / lost live", ["gigcx", "acked_messages"], ["gigcx", "lost_live"]),
        ("checked by sync / lost stored", ["gigcx", "checked_by_sync"], ["gigcx", "lost_stored"]),
        ("relay ceiling gigcx / echo msgs/s", ["ceiling", "gigcx_msg_per_s"], ["ceiling", "echo_msg_per_s"]),
        ("ratio to echo", ["ceiling", "ratio"], None),
        ("server CPU ms per message gigcx / echo", ["ceiling", "gigcx_cpu_ms_per_msg"], ["ceiling", "echo_cpu_ms_per_msg"]),
        ("CPU ratio (echo per message / gigcx)", ["ceiling", "cpu_ratio"], None),
        ("highest rate both sustained (paired)", ["ceiling", "same_rate", "rate"], None),
        ("  CPU ratio there (echo / gigcx)", ["ceiling", "same_rate", "cpu_ratio"], None),
    ]
    if args.soak:  # no target, ramp or echo phases: the per-minute lines and the summary below say it
        rows = [r for r in rows if r[0].startswith(("warmup", "acked", "checked"))]
    for label, a, b in rows:
        if med(a) is None and label.startswith(("target PostgreSQL", "target Redis", "target HAProxy")):
            continue  # not part of this deployment
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
        print(f"  repeat {r['repeat']}: chat messages committed in groups {r['gigcx'].get('commit_groups')}")
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
    parser.add_argument("--ramp-factor", type=float, default=1.25,
                        help="each step added beyond the listed ones is this times the last (both ramps)")
    parser.add_argument("--ramp-max-extra", type=int, default=12, help="at most this many added steps per ramp")
    parser.add_argument("--ramp-p99-ms", type=float, default=250.0,
                        help="a ramp step counts as sustained when all is delivered with p99 under this")
    parser.add_argument("--database-url", default=None,
                        help="server database as given (default: by --backend)")
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite",
                        help="sqlite: a file in a temp dir; postgres: a fresh schema on --postgres-url, dropped after")
    parser.add_argument("--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--processes", type=lambda s: [int(x) for x in s.split(",")], default=[1],
                        help="server process counts, each measured in turn, e.g. 1,2 (the scaling ratio)")
    parser.add_argument("--route", choices=("haproxy", "split"), default="haproxy",
                        help="with several processes: all through HAProxy (deploy/haproxy.cfg), or customers "
                             "on the first process and experts on the second")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0",
                        help="the processes' Socket.IO queue when there are several (a channel per run)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--soak", type=float, default=0,
                        help="minutes of the target mix, reported per minute, instead of ramps and echo")
    parser.add_argument("--resolve-after", type=int, default=8,
                        help="soak: messages after which the expert resolves a conversation")
    parser.add_argument("--no-echo", action="store_true", help="skip the bare echo ceiling")
    parser.add_argument("--paired", action="store_true",
                        help="run GigCX's and the echo's ramps step by step in turn, both servers up, on the "
                             "--ramp steps then --ramp-factor steps until both fail (--echo-ramp unused)")
    parser.add_argument("--quick", action="store_true",
                        help="~30 s of traffic: 200 customers, 20 experts, 10 asks/s, 100 msgs/s, short ramp")
    parser.add_argument("--history", type=int, default=None,
                        help="give the brand this many finished cases first (bench/loadgen/history.py), with "
                             "seven topics instead of one; --history 0: those topics, no history")
    parser.add_argument("--json", default=None, help="write the full results here")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (server log)")
    parser.add_argument("--profile", default=None,
                        help="py-spy the server during the target phase (with --soak: each minute, to FILE.minuteN); "
                             "collapsed stacks")
    args = parser.parse_args()
    if args.profile:
        PROFILE["path"] = args.profile
    if args.quick:
        args.customers, args.experts, args.ask_rate, args.msg_rate = 200, 20, 10.0, 100.0
        args.duration, args.ramp, args.ramp_step_s, args.warmup = 12.0, [50, 100, 200, 400], 4.0, 6.0
        args.echo_ramp = [800]
    by_count: dict[int, list[dict[str, Any]]] = {}
    for processes in args.processes:
        reports = by_count.setdefault(processes, [])
        for i in range(args.repeats):
            print(f"{processes} process(es), repeat {i + 1}", flush=True)
            reports.append(run_once(args, i + 1, processes))
            if args.json:
                Path(args.json).write_text(json.dumps([r for rs in by_count.values() for r in rs], indent=1))
    for reports in by_count.values():
        print_report(reports, args)
    if 1 in by_count and len(by_count) > 1:  # the scaling ratio: relay ceiling at N processes / at 1
        def ceiling(rs: list[dict[str, Any]]) -> float:
            return statistics.median(r["ceiling"]["gigcx_msg_per_s"] for r in rs)

        one = ceiling(by_count[1])
        for n, rs in by_count.items():
            if n != 1:
                ratio = round(ceiling(rs) / one, 2) if one else "undefined (1 process sustained no ramp step)"
                print(f"scaling: relay ceiling {ceiling(rs)} msgs/s at {n} processes vs {one} at 1: ratio {ratio}")

if __name__ == "__main__":
    main()
