"""What one process pays for every other process's emits, through the Flask-SocketIO Redis queue.

    python bench/redis_fanout.py                  # 20,000 emits, Redis at 127.0.0.1:6379
    python bench/redis_fanout.py --emits 50000 --redis-url redis://host:6379/0
    python bench/redis_fanout.py --subscribers 4  # Redis's cost per delivery: compare with 1

With a message queue, python-socketio's pub/sub manager handles every emit in the emitting
process and also publishes it; every process subscribed to the channel receives every emit of
every other process, unpickles it and looks its room up (nobody there: the common case, since a
room lives on one process). This is that cost, measured with the real manager:

1. A subscriber process (or `--subscribers` of them) runs `socketio.RedisManager` (the class Flask-SocketIO uses) on a fresh
   channel, attached to a `socketio.Server` with no clients, listening in a thread.
2. This process publishes `--emits` emits shaped like a GigCX `message` (a case room, a payload
   of the usual size) through another RedisManager on the same channel (`write_only`, as a
   publisher that is not a server), as fast as Redis takes them.
3. The subscriber reports when it has seen them all, and its own CPU time over the run; the
   result is CPU per received emit, plus the publisher's CPU per published emit and Redis's CPU.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import time
import uuid
from typing import Any

import psutil

PAYLOAD = {"case_id": 123456, "id": 9876543, "seq": 17, "sender": "customer", "client_id": "c-1f2e3d4c",
           "text": "Hello, my card has still not arrived and I ordered it two weeks ago, can you check?",
           "sent_at": "2026-11-29T05:00:00.000Z"}


def subscriber(url: str, channel: str, expect: int, out: Any) -> None:
    import socketio

    seen = {"n": 0}
    mgr = socketio.RedisManager(url, channel=channel)
    server = socketio.Server(client_manager=mgr, async_mode="threading")
    original = mgr._handle_emit

    def counting(message: dict[str, Any]) -> Any:
        seen["n"] += 1
        return original(message)

    mgr._handle_emit = counting  # type: ignore[method-assign]
    server.manager_initialized = True  # the server would do this on its first request
    mgr.initialize()  # starts the listener thread
    time.sleep(1.0)
    out.put("ready")
    me = psutil.Process()
    start_cpu, started = None, None
    deadline = time.time() + 600
    while seen["n"] < expect and time.time() < deadline:
        if start_cpu is None and seen["n"] > 0:
            t = me.cpu_times()
            start_cpu, started = t.user + t.system, time.time()
        time.sleep(0.01)
    t = me.cpu_times()
    out.put({"received": seen["n"], "cpu_s": (t.user + t.system) - (start_cpu or 0.0),
             "wall_s": time.time() - (started or time.time())})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--emits", type=int, default=20000)
    parser.add_argument("--subscribers", type=int, default=1, help="processes listening on the channel")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    import socketio

    channel = "fanout-" + uuid.uuid4().hex[:8]
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    subs = [ctx.Process(target=subscriber, args=(args.redis_url, channel, args.emits, out), daemon=True)
            for _ in range(args.subscribers)]
    for sub in subs:
        sub.start()
    for _ in subs:
        assert out.get(timeout=60) == "ready"
    redis_procs = [p for p in psutil.process_iter(["name"]) if p.info["name"] == "redis-server"]
    redis_cpu0 = sum(sum(p.cpu_times()[:2]) for p in redis_procs)
    pub = socketio.RedisManager(args.redis_url, channel=channel, write_only=True)
    me = psutil.Process()
    c0, t0 = sum(me.cpu_times()[:2]), time.time()
    for i in range(args.emits):
        pub.emit("message", {**PAYLOAD, "id": i}, namespace="/customer", room=f"customer-{i % 1000}")
    published_s, pub_cpu = time.time() - t0, sum(me.cpu_times()[:2]) - c0
    gots = [out.get(timeout=600) for _ in subs]
    redis_cpu = sum(sum(p.cpu_times()[:2]) for p in redis_procs) - redis_cpu0
    for sub in subs:
        sub.join(10)
    got = {"received": min(g["received"] for g in gots), "cpu_s": sum(g["cpu_s"] for g in gots) / len(gots),
           "wall_s": max(g["wall_s"] for g in gots)}
    result = {"emits": args.emits, "subscribers": args.subscribers, "received": got["received"], "loadavg": [round(x, 2) for x in psutil.getloadavg()],
              "publish_per_s": round(args.emits / published_s),
              "publisher_cpu_us_per_emit": round(pub_cpu / args.emits * 1e6, 1),
              "subscriber_cpu_us_per_emit": round(got["cpu_s"] / max(1, got["received"]) * 1e6, 1),
              "subscriber_wall_s": round(got["wall_s"], 2),
              "redis_cpu_us_per_emit": round(redis_cpu / args.emits * 1e6, 1) if redis_procs else None}
    print(json.dumps(result, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
