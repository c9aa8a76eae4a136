"""Idle sockets: the server memory one idle customer WebSocket costs, at 10,000 sockets.

    python bench/idle_sockets.py                          # 10,000 sockets, browser-like clients,
                                                          # server compression off and on
    python bench/idle_sockets.py --sockets 2000 --modes plain
    python bench/idle_sockets.py --repeats 3 --json bench/results/idle-sockets-10k.json

What one run does, per mode (`--modes`, each on a server of its own):
* `browser`: the clients offer permessage-deflate exactly as browsers do
  (`Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits`) and compress what they
  send when it is accepted; the server runs with its defaults (GIGCX_WEBSOCKET_COMPRESSION off).
* `browser-deflate`: the same clients, the server with GIGCX_WEBSOCKET_COMPRESSION=true: what
  compression costs.
* `plain`: the clients offer no extension; server defaults.
1. Starts `python -m gigcx serve` on a fresh SQLite database in a temp folder (rate limits raised,
   bench/loadgen/common.py) and creates one brand over the REST API.
2. Warm-up: `--warmup` customers connect, authenticate and disconnect (the code paths, SQLAlchemy
   caches and the first allocator arenas are then in place). The server's RSS (psutil) after
   `--baseline-settle` seconds is the baseline.
3. `--sockets` customers connect over the WebSocket transport only
   (`ws://.../socket.io/?EIO=4&transport=websocket`), from `--workers` client processes of
   minimal Engine.IO v4 / Socket.IO v5 clients over aiohttp (`40/customer,{auth}`, answer `2`
   with `3`, nothing else), at most `--in-flight` handshakes at a time per process. A socket
   counts once its `session` event arrived (a customer row exists and the socket is in its room).
4. RSS is read once all are connected, then once a second for `--settle` seconds (over a whole
   ping cycle, 20 s): "settled" is the last reading. Per socket: (RSS - baseline) / sockets, KiB.
5. `--second-batch N`: N more sockets on top, the same readings: the marginal cost once the first
   batch's allocator growth is in place.
Open-file limits are raised for this process and the server as far as the hard limit allows (two
descriptors per server socket: simple-websocket dups the one gevent accepted; 10,000 sockets need
a limit over 20,000). Results are written as JSON (`--json`).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.loadgen.common import ADMIN, free_port, rest, start_gigcx, stop


# ---------------------------------------------------------------- client processes
async def _one(session: Any, url: str, slug: str, deflate: bool, gate: asyncio.Semaphore,
               ready: list[int], failures: list[str], dropped: list[str], extensions: list[str],
               hold: asyncio.Event, sockets: list[Any]) -> None:
    import aiohttp

    try:
        async with gate:
            # compress=15 offers `permessage-deflate; client_max_window_bits`, as browsers do
            ws = await session.ws_connect(url, compress=15 if deflate else 0, autoping=True,
                                          max_msg_size=0, timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=5))
            sockets.append(ws)
            extensions.append(ws._response.headers.get("Sec-WebSocket-Extensions", ""))
            msg = await asyncio.wait_for(ws.receive(), 60)
            if not (msg.type == aiohttp.WSMsgType.TEXT and msg.data.startswith("0")):
                raise RuntimeError(f"no Engine.IO open packet: {msg.type} {str(msg.data)[:80]}")
            await ws.send_str("40/customer," + json.dumps({"brand": slug}))
            while True:  # the namespace's connect answer, then the `session` event
                msg = await asyncio.wait_for(ws.receive(), 120)
                if msg.type != aiohttp.WSMsgType.TEXT:
                    raise RuntimeError(f"closed during the handshake: {msg.type}")
                if msg.data == "2":
                    await ws.send_str("3")
                elif msg.data.startswith("44/customer"):
                    raise RuntimeError(f"refused: {msg.data[:200]}")
                elif msg.data.startswith('42/customer,["session"'):
                    break
    except Exception as exc:  # noqa: BLE001 - counted and reported, not raised
        failures.append(f"{type(exc).__name__}: {exc}"[:200])
        return
    ready[0] += 1
    try:
        while not hold.is_set():  # idle: only Engine.IO pings are answered
            msg = await ws.receive()
            if msg.type != aiohttp.WSMsgType.TEXT:
                dropped.append(f"closed while idle: {msg.type}")
                return
            if msg.data == "2":
                await ws.send_str("3")
    except Exception as exc:  # noqa: BLE001 - counted and reported, not raised
        dropped.append(f"{type(exc).__name__}: {exc}"[:200])


async def _client_main(url: str, slug: str, deflate: bool, in_flight: int, conn: Any) -> None:
    import aiohttp

    hold = asyncio.Event()
    ready, failures, dropped, extensions = [0], [], [], []  # type: ignore[var-annotated]
    tasks: list[asyncio.Task[None]] = []
    sockets: list[Any] = []
    gate = asyncio.Semaphore(in_flight)
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, force_close=True)) as session:
        while True:
            cmd = await loop.run_in_executor(None, conn.recv)
            if cmd[0] == "open":
                n = cmd[1]
                ready0, failed0 = ready[0], len(failures)
                tasks += [asyncio.ensure_future(_one(session, url, slug, deflate, gate, ready, failures,
                                                     dropped, extensions, hold, sockets)) for _ in range(n)]
                while ready[0] + len(failures) < ready0 + failed0 + n:
                    await asyncio.sleep(0.05)
                conn.send(("opened", ready[0] - ready0, failures[failed0:][-20:], len(failures) - failed0,
                           sorted(set(extensions))))
            elif cmd[0] == "status":
                conn.send(("status", ready[0] - len(dropped), len(dropped), dropped[-5:]))
            elif cmd[0] == "close":
                hold.set()
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
                tasks.clear()
                sockets.clear()
                ready[0] = 0
                failures.clear()
                dropped.clear()
                conn.send(("closed",))
            elif cmd[0] == "exit":
                return


def client_entry(url: str, slug: str, deflate: bool, in_flight: int, conn: Any) -> None:
    _raise_nofile()
    asyncio.run(_client_main(url, slug, deflate, in_flight, conn))


class Clients:
    """`workers` client processes, each holding its share of the sockets."""

    def __init__(self, workers: int, url: str, slug: str, deflate: bool, in_flight: int):
        ctx = mp.get_context("spawn")
        self.conns, self.procs = [], []
        for _ in range(workers):
            here, there = ctx.Pipe()
            p = ctx.Process(target=client_entry, args=(url, slug, deflate, in_flight, there), daemon=True)
            p.start()
            self.conns.append(here)
            self.procs.append(p)

    def open(self, n: int) -> dict[str, Any]:
        w = len(self.conns)
        for i, c in enumerate(self.conns):
            c.send(("open", n // w + (1 if i < n % w else 0)))
        answers = [c.recv() for c in self.conns]
        return {"ready": sum(a[1] for a in answers), "failed": sum(a[3] for a in answers),
                "failures": [f for a in answers for f in a[2]][:20],
                "extensions": sorted({e for a in answers for e in a[4]})}

    def status(self) -> tuple[int, int]:
        for c in self.conns:
            c.send(("status",))
        answers = [c.recv() for c in self.conns]
        return sum(a[1] for a in answers), sum(a[2] for a in answers)

    def close(self) -> None:
        for c in self.conns:
            c.send(("close",))
        for c in self.conns:
            c.recv()

    def exit(self) -> None:
        for c in self.conns:
            try:
                c.send(("exit",))
            except OSError:
                pass
        for p in self.procs:
            p.join(10)
            if p.is_alive():
                p.kill()


# ---------------------------------------------------------------- measurement
def _raise_nofile(want: int = 200_000) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:  # as root the hard limit may rise too (up to fs.nr_open)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), max(hard, want)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss_mib(proc: psutil.Process) -> float:
    return proc.memory_info().rss / 2**20


def settle(proc: psutil.Process, seconds: float, quiet_s: float = 5.0, tol_mib: float = 0.5) -> dict[str, Any]:
    """RSS once a second for `seconds`; also when it first held within `tol_mib` for `quiet_s`."""
    readings: list[tuple[float, float]] = []
    t0 = time.time()
    stable_at = None
    while time.time() - t0 < seconds:
        readings.append((time.time() - t0, rss_mib(proc)))
        recent = [r for t, r in readings if t >= readings[-1][0] - quiet_s]
        if stable_at is None and readings[-1][0] >= quiet_s and max(recent) - min(recent) <= tol_mib:
            stable_at = readings[-1][0]
        time.sleep(1.0)
    readings.append((time.time() - t0, rss_mib(proc)))
    return {"first_mib": round(readings[0][1], 2), "last_mib": round(readings[-1][1], 2),
            "max_mib": round(max(r for _, r in readings), 2), "stable_after_s": stable_at,
            "series_mib": [round(r, 1) for _, r in readings[::5]]}


MODES = {"browser": (True, {}), "browser-deflate": (True, {"GIGCX_WEBSOCKET_COMPRESSION": "true"}),
         "plain": (False, {})}


def one_server(args: argparse.Namespace, mode: str, repeat: int) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="gigcx-idle-"))
    port = free_port()
    deflate, env = MODES[mode]
    out: dict[str, Any] = {"mode": mode, "deflate_offered": deflate, "server_env": env, "repeat": repeat,
                           "sockets": args.sockets,
                           "loadavg_start": [round(x, 2) for x in psutil.getloadavg()]}
    server = clients = None
    try:
        server = start_gigcx(folder, None, port, {"GIGCX_RATE_LIMIT_CUSTOMERS_PER_MIN": "100000000", **env,
                                                  **dict(kv.split("=", 1) for kv in args.server_env)})
        proc = psutil.Process(server.pid)
        base = f"http://127.0.0.1:{port}"
        slug = "idle" + str(port)
        rest(base, "POST", "/brands", ADMIN, json={"slug": slug, "name": "Idle"})
        url = f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket"
        clients = Clients(args.workers, url, slug, deflate, args.in_flight)
        out["rss_started_mib"] = round(rss_mib(proc), 2)
        if args.warmup:
            warm = clients.open(args.warmup)
            clients.close()
            out["warmup"] = {k: warm[k] for k in ("ready", "failed", "extensions")}
        out["baseline"] = settle(proc, args.baseline_settle)
        baseline = out["baseline"]["last_mib"]
        total = 0
        for b, n in enumerate([args.sockets] + ([args.second_batch] if args.second_batch else []), 1):
            t = time.time()
            opened = clients.open(n)
            connect_s = time.time() - t
            total += opened["ready"]
            at_connect = rss_mib(proc)
            settled = settle(proc, args.settle)
            alive, dropped = clients.status()
            prev = out["batches"][-1]["settled_mib"] if b > 1 else baseline
            prev_total = total - opened["ready"]
            row = {"batch": b, "asked": n, "connected": opened["ready"], "failed": opened["failed"],
                   "failures": opened["failures"], "extensions_answered": opened["extensions"],
                   "connect_s": round(connect_s, 1), "alive_after_settle": alive,
                   "dropped_while_idle": dropped, "total_sockets": total,
                   "rss_connected_mib": round(at_connect, 2), "settled_mib": settled["last_mib"],
                   "settle": settled, "fds": proc.num_fds(),
                   "kib_per_socket_connected": round((at_connect - baseline) * 1024 / total, 1) if total else None,
                   "kib_per_socket_settled": round((settled["last_mib"] - baseline) * 1024 / total, 1) if total else None,
                   "kib_per_socket_this_batch": (round((settled["last_mib"] - prev) * 1024 / (total - prev_total), 1)
                                                 if total > prev_total else None)}
            out.setdefault("batches", []).append(row)
            print(f"  {mode} #{repeat} batch {b}: {opened['ready']}/{n} connected in "
                  f"{connect_s:.0f}s ({opened['failed']} failed), extension answered {opened['extensions']}; RSS "
                  f"{baseline:.0f} -> {at_connect:.0f} MiB connected, {settled['last_mib']:.0f} MiB settled: "
                  f"{row['kib_per_socket_settled']} KiB/socket (this batch {row['kib_per_socket_this_batch']}); "
                  f"{alive} alive after {args.settle:.0f}s", flush=True)
        clients.close()
        out["rss_after_close"] = settle(proc, 10)
    finally:
        if clients is not None:
            clients.exit()
        stop(server)
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            out["folder"] = str(folder)
    out["loadavg_end"] = [round(x, 2) for x in psutil.getloadavg()]
    return out


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in MODES:
        rows = [r for r in runs if r["mode"] == key and r.get("batches")]
        if not rows:
            continue
        for field in ("kib_per_socket_settled", "kib_per_socket_connected"):
            vals = [r["batches"][0][field] for r in rows if r["batches"][0][field] is not None]
            if vals:
                out.setdefault(key, {})[field] = {"median": round(statistics.median(vals), 1),
                                                  "min": min(vals), "max": max(vals), "runs": vals}
        out[key]["connected"] = [r["batches"][0]["connected"] for r in rows]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sockets", type=int, default=10_000)
    ap.add_argument("--second-batch", type=int, default=0, help="more sockets on top of the first batch")
    ap.add_argument("--modes", default="browser,browser-deflate",
                    help=f"comma-separated, one server each, of: {', '.join(MODES)}")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--workers", type=int, default=4, help="client processes")
    ap.add_argument("--in-flight", type=int, default=64, help="handshakes at a time per client process")
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--settle", type=float, default=30.0, help="seconds of readings after the last socket")
    ap.add_argument("--baseline-settle", type=float, default=10.0)
    ap.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE",
                    help="an extra environment variable for the server (repeatable)")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--keep", action="store_true", help="keep the temp folder (server log)")
    args = ap.parse_args()
    limit = _raise_nofile()
    if limit < 2 * (args.sockets + args.second_batch) + 100:  # the server holds two per WebSocket
        print(f"warning: {limit} open files allow the server ~{(limit - 100) // 2} sockets, not "
              f"{args.sockets + args.second_batch} (the hard limit rises only with CAP_SYS_RESOURCE)", flush=True)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if unknown := [m for m in modes if m not in MODES]:
        ap.error(f"unknown mode(s) {unknown}")
    print(f"open-file limit {limit}; {args.sockets} sockets (+{args.second_batch}), modes {modes}, "
          f"{args.repeats} repeat(s)", flush=True)
    runs = []
    for repeat in range(1, args.repeats + 1):
        for mode in modes:
            runs.append(one_server(args, mode, repeat))
    result = {"args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
              "cpus": psutil.cpu_count(), "summary": summarize(runs), "runs": runs}
    print(json.dumps(result["summary"], indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
