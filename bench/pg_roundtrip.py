"""CPU per PostgreSQL round trip under gevent: psycopg's own wait against `gigcx serve`'s.

    python bench/pg_roundtrip.py [--greenlets 20] [--queries 2000] [--repeats 3]
        [--url postgresql://postgres@127.0.0.1:5432/test]

Each greenlet runs `SELECT $1::int` on a connection of its own (autocommit) in a gevent-patched
process, first with psycopg's default wait under gevent (`wait_poll` on gevent's emulated
`select.poll`), then with `gigcx.concurrency.green_postgres` (waits on gevent's I/O watchers),
alternating, `--repeats` times. Prints process CPU and wall time per query, medians and ranges,
and the ratio. Needs a PostgreSQL server; skips without one.
"""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402
import psycopg  # noqa: E402
from psycopg import waiting  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gigcx.concurrency import green_postgres  # noqa: E402


def run(url: str, greenlets: int, queries: int) -> tuple[float, float]:
    """(CPU µs, wall µs) per query."""
    conns = [psycopg.connect(url, autocommit=True) for _ in range(greenlets)]

    def work(conn: psycopg.Connection) -> None:
        for i in range(queries):
            conn.execute("select %s::int", (i,)).fetchone()

    cpu, wall = time.process_time(), time.perf_counter()
    gevent.joinall([gevent.spawn(work, c) for c in conns])
    n = greenlets * queries
    out = 1e6 * (time.process_time() - cpu) / n, 1e6 * (time.perf_counter() - wall) / n
    for c in conns:
        c.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/test")
    ap.add_argument("--greenlets", type=int, default=20)
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    try:
        psycopg.connect(args.url, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        print(f"skipped: no PostgreSQL at {args.url} ({exc})")
        return
    default_wait = waiting.wait
    green_postgres()
    green_wait = waiting.wait
    results: dict[str, list[tuple[float, float]]] = {"psycopg default": [], "gigcx serve": []}
    for _ in range(args.repeats):
        for name, fn in (("psycopg default", default_wait), ("gigcx serve", green_wait)):
            waiting.wait = fn
            results[name].append(run(args.url, args.greenlets, args.queries))
    for name, rows in results.items():
        cpu = [r[0] for r in rows]
        wall = [r[1] for r in rows]
        print(f"{name:16} CPU µs/query {statistics.median(cpu):6.1f} ({min(cpu):.1f}-{max(cpu):.1f})"
              f"   wall µs/query {statistics.median(wall):6.1f} ({min(wall):.1f}-{max(wall):.1f})")
    ratio = statistics.median(r[0] for r in results["gigcx serve"]) / statistics.median(
        r[0] for r in results["psycopg default"])
    print(f"CPU ratio gigcx serve / psycopg default: {ratio:.2f}")


if __name__ == "__main__":
    main()
