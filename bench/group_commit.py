"""CPU of storing a chat message on SQLite, one transaction each or in groups (gigcx.uow.GroupCommit).

    python bench/group_commit.py [--sizes 1,2,4,8] [--rounds 6] [--messages 4000]

One process, gevent, a fresh database built by the product's migrations with 1,000 active cases
(bench/message_store_cost.py's), on the product's engine (`gigcx.db.make_engine`: one pooled
connection, WAL, `synchronous=NORMAL`). Messages are stored by the product's own code,
`gigcx.services.cases.send_message`, as a serving process does: its statements on the driver's
connection, its events gathered and emitted after the commit (to rooms nobody is in: what
emitting costs without the sockets).

K greenlets each send one message in the same turn of the loop, then the next K (a serving
process runs each event's handler in a greenlet of its own):

* `alone K`: each message in a transaction of its own (`transact_driver` without group commit,
  the code before it);
* `group K`: group commit puts the K in one transaction (K = 1 is the cost of the grouping
  itself when nothing joins).

The process's CPU time per message is printed per round, the modes alternating, then each mode's
median and its ratio to `alone` at the same K. What it isolates: the database's and the unit of work's share of
a message, without the socket layer (which is most of a relayed message's CPU and is unchanged)."""
from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402 - after gevent's patching, as `gigcx serve`
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402
from flask import Flask  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.message_store_cost import CASES, build  # noqa: E402
from gigcx.db import make_engine  # noqa: E402
from gigcx.extensions import socketio  # noqa: E402
from gigcx.services.cases import Actor, send_message  # noqa: E402
from gigcx.uow import GroupCommit  # noqa: E402

TEXT = "Hello, my card has not arrived yet and I ordered it two weeks ago. Can you help me?"


def _send(engine: object, i: int) -> None:
    case_id = 1 + i % CASES
    send_message(engine, Actor("customer", case_id), case_id=case_id, text=TEXT, client_id=f"m{i}")  # type: ignore[arg-type]


def run(engine: object, size: int, together: bool, n: int, start: int) -> float:
    """CPU seconds per message: `size` greenlets sending in each turn of the loop, with group
    commit (`together`) or each message in a transaction of its own."""
    group = GroupCommit(engine) if together else None  # type: ignore[arg-type]
    engine.gigcx_group_commit = group  # type: ignore[attr-defined]
    cpu = time.process_time()
    for first in range(start, start + n, size):
        gevent.joinall([gevent.spawn(_send, engine, i) for i in range(first, min(first + size, start + n))],
                       raise_error=True)
    spent = (time.process_time() - cpu) / n
    last = n % size
    together_expected = n - last + (last if last > 1 else 0) if size > 1 else 0
    assert group is None or group.grouped == together_expected, (group.groups, group.grouped)  # every turn one group
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,2,4,8")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--messages", type=int, default=4000)
    parser.add_argument("--json")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    flask_app = Flask(__name__)
    socketio.init_app(flask_app, async_mode="gevent")  # emits go to rooms nobody is in
    with tempfile.TemporaryDirectory(prefix="gigcx-group-") as tmp:
        build(Path(tmp), "head").close()
        engine = make_engine(f"sqlite:///{Path(tmp) / 'head.sqlite3'}")
        modes = {f"{how} {k}": (lambda n, s, k=k, t=(how == "group"): run(engine, k, t, n, s))
                 for k in sizes for how in ("alone", "group")}
        for measure in modes.values():
            measure(400, 0)  # warm-up: page cache, compiled statements
        runs: dict[str, list[float]] = {m: [] for m in modes}
        sent = 400 * len(modes)
        for r in range(args.rounds):
            for mode, measure in modes.items():
                runs[mode].append(measure(args.messages, sent) * 1e6)
                sent += args.messages
            print(f"round {r + 1}: " + ", ".join(f"{m} {runs[m][-1]:.1f}" for m in modes) + " us", flush=True)
        engine.dispose()
    summary = {m: {"median_us": round(statistics.median(v), 1), "range_us": [round(min(v), 1), round(max(v), 1)],
                   "ratio_to_alone": round(statistics.median(v) / statistics.median(runs["alone " + m.split()[1]]), 3)}
               for m, v in runs.items()}
    for m, s in summary.items():
        print(f"{m:>8}: median {s['median_us']} us of CPU per message ({s['range_us'][0]}-{s['range_us'][1]}), "
              f"{s['ratio_to_alone']} of alone")
    if args.json:
        Path(args.json).write_text(json.dumps({"runs_us": runs, "summary": summary}, indent=1))


if __name__ == "__main__":
    main()
