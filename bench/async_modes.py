"""Which async mode should `gigcx serve` run? The same bare Flask-SocketIO echo app served in
each candidate mode, driven by the same asyncio clients, at 100 and 1,000 connections.

    python bench/async_modes.py                 # both modes, 100 and 1000 clients, 3 repeats
    python bench/async_modes.py --quick         # 1 repeat, 10 s

Modes: `gevent` (gevent's WSGIServer, websockets by simple-websocket: what `gigcx serve` uses) and
`threading` (Werkzeug's threaded server with simple-websocket: what runs without gevent).
eventlet is left out: its maintainers discourage new use. Each client sends `echo` and waits for
the ack (closed loop); we report acks/s and ack latency p50/p99, medians over repeats.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time

SERVER = r'''
import sys
mode, port = sys.argv[1], int(sys.argv[2])
if mode == "gevent":
    from gevent import monkey
    monkey.patch_all()
from flask import Flask
from flask_socketio import SocketIO
app = Flask(__name__)
sio = SocketIO(app, async_mode=mode, cors_allowed_origins="*")

@sio.on("echo", namespace="/e")
def echo(data):
    return data

if mode == "gevent":
    import socket as s
    from gevent.pywsgi import WSGIServer
    from gevent.socket import socket as gs
    ls = gs(s.AF_INET, s.SOCK_STREAM)
    ls.setsockopt(s.SOL_SOCKET, s.SO_REUSEADDR, 1)
    ls.setsockopt(s.IPPROTO_TCP, s.TCP_NODELAY, 1)
    ls.bind(("127.0.0.1", port)); ls.listen(2048)
    WSGIServer(ls, app, log=None).serve_forever()
else:
    sio.run(app, host="127.0.0.1", port=port, allow_unsafe_werkzeug=True, log_output=False)
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def drive(url: str, clients: int, seconds: float) -> dict[str, float]:
    import socketio

    sios = [socketio.AsyncClient(reconnection=False) for _ in range(clients)]
    for i in range(0, clients, 50):
        await asyncio.gather(*(c.connect(url, namespaces=["/e"], transports=["websocket"], wait_timeout=30)
                               for c in sios[i:i + 50]))
    latencies: list[float] = []
    errors = 0
    stop = time.monotonic() + seconds

    async def loop(c: socketio.AsyncClient) -> None:
        nonlocal errors
        while time.monotonic() < stop:
            t = time.perf_counter()
            try:
                await c.call("echo", {"x": 1}, namespace="/e", timeout=10)
                latencies.append(time.perf_counter() - t)
            except Exception:  # noqa: BLE001 - a timeout or reset counts as an error
                errors += 1

    await asyncio.gather(*(loop(c) for c in sios))
    await asyncio.gather(*(c.disconnect() for c in sios), return_exceptions=True)
    latencies.sort()
    n = len(latencies)
    return {"acks_per_s": n / seconds, "p50_ms": 1000 * latencies[n // 2] if n else float("nan"),
            "p99_ms": 1000 * latencies[int(n * 0.99)] if n else float("nan"), "errors": errors}


def run(mode: str, clients: int, seconds: float) -> dict[str, float]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", SERVER, mode, str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        try:
            return asyncio.run(drive(f"http://127.0.0.1:{port}", clients, seconds))
        except Exception as exc:  # noqa: BLE001 - a mode that cannot hold the load is a result too
            return {"acks_per_s": 0.0, "p50_ms": float("nan"), "p99_ms": float("nan"), "errors": -1,
                    "failed": f"{type(exc).__name__}: {exc}"[:120]}
    finally:
        proc.kill()
        proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", default="100,1000")
    ap.add_argument("--modes", default="gevent,threading")
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    if args.quick:
        args.seconds, args.repeats = 10, 1
    results = {}
    for clients in [int(c) for c in args.clients.split(",")]:
        for mode in args.modes.split(","):
            runs = [run(mode, clients, args.seconds) for _ in range(args.repeats)]
            med = {k: statistics.median(r[k] for r in runs) for k in ("acks_per_s", "p50_ms", "p99_ms", "errors")}
            med["failed"] = next((r["failed"] for r in runs if "failed" in r), "")
            results[f"{mode}@{clients}"] = med
            print(f"{mode:>9} {clients:>5} clients: {med['acks_per_s']:8.0f} acks/s  p50 {med['p50_ms']:7.1f} ms"
                  f"  p99 {med['p99_ms']:7.1f} ms  errors {med['errors']:.0f} {med['failed']}", flush=True)
    base = results.get(f"gevent@{args.clients.split(',')[0]}")
    if base:
        for key, r in results.items():
            print(f"{key}: {r['acks_per_s'] / base['acks_per_s']:.2f}x gevent@{args.clients.split(',')[0]} throughput")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"machine": os.uname().machine, "cpus": os.cpu_count(), "results": results}, fh, indent=2)


if __name__ == "__main__":
    main()
