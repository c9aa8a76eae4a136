"""CPU of storing one chat message on SQLite, at two schema revisions, alternated in one run.

    python bench/message_store_cost.py [--base 0014] [--cand head] [--rounds 6] [--messages 4000]

Each revision gets a fresh database file built by the product's migrations (`gigcx.db.upgrade`),
with 1,000 active cases (the rows' other columns are fillers: only the tables' indexes matter
here). A message is then stored as `gigcx.services.cases` stores it on SQLite, in a transaction
of its own on the driver's connection: `BEGIN IMMEDIATE`, the case's `UPDATE ... RETURNING`,
the message's `INSERT ... RETURNING`, `COMMIT` (WAL, `synchronous=NORMAL`, as `gigcx serve`).
The process's CPU time (user + system) per message is printed per round, the two revisions
alternating, then the median of each and their ratio. What it isolates: what the database's
own work (pages written, indexes updated) costs, without the server around it."""
from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from gigcx import db

CASES = 1000
UPDATE = ("UPDATE support_case SET last_seq=last_seq + 1 WHERE support_case.id = ? "
          "AND support_case.status != 'resolved' AND support_case.status != 'closed' "
          "RETURNING last_seq, customer_id, expert_id, brand_id, status")
INSERT = ("INSERT INTO message (case_id, seq, sender, sender_id, client_id, text, sent_at) "
          "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id, case_id, seq, sender, sender_id, client_id, text, sent_at")


def build(folder: Path, revision: str) -> sqlite3.Connection:
    path = folder / f"{revision}.sqlite3"
    db.upgrade(f"sqlite:///{path}", revision)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=OFF")  # the fillers below point at no brand, customer or expert
    now = datetime.now(UTC).isoformat(sep=" ")
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO support_case (id, brand_id, customer_id, client_id, question, language, status, expert_id, "
        "offer_round, last_seq, deflected, routing, suggestions, created_at, reward_cents, rev) "
        "VALUES (?, 1, ?, ?, 'where is my card', 'en', 'active', ?, 1, 0, 0, '{}', '[]', ?, 100, 1)",
        [(i, i, f"c{i}", 1 + i % 100, now) for i in range(1, CASES + 1)])
    conn.execute("COMMIT")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def store(conn: sqlite3.Connection, n: int, start: int) -> float:
    """CPU seconds per message over `n` messages."""
    text = "Hello, my card has not arrived yet and I ordered it two weeks ago. Can you help me?"
    cpu = time.process_time()
    for i in range(start, start + n):
        case_id = 1 + i % CASES
        conn.execute("BEGIN IMMEDIATE")
        seq = conn.execute(UPDATE, (case_id,)).fetchall()[0][0]
        conn.execute(INSERT, (case_id, seq, "customer", case_id, f"m{i}", text,
                              datetime.now(UTC).isoformat(sep=" "))).fetchall()
        conn.execute("COMMIT")
    return (time.process_time() - cpu) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="0014")
    parser.add_argument("--cand", default="head")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--messages", type=int, default=4000)
    parser.add_argument("--json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gigcx-store-") as tmp:
        conns = {rev: build(Path(tmp), rev) for rev in (args.base, args.cand)}
        for conn in conns.values():
            store(conn, 500, 0)  # warm-up: page cache, statement cache
        runs: dict[str, list[float]] = {rev: [] for rev in conns}
        for r in range(args.rounds):
            for rev, conn in conns.items():
                runs[rev].append(store(conn, args.messages, 500 + r * args.messages) * 1e6)
            print(f"round {r + 1}: " + ", ".join(f"{rev} {runs[rev][-1]:.1f} us" for rev in conns), flush=True)
        for conn in conns.values():
            conn.close()
    base, cand = (statistics.median(runs[rev]) for rev in (args.base, args.cand))
    print(f"median us of CPU per stored message: {args.base} {base:.1f}, {args.cand} {cand:.1f}, "
          f"ratio {cand / base:.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"runs_us": runs, "ratio": cand / base}, indent=1))


if __name__ == "__main__":
    main()
