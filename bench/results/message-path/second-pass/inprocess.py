"""CPU of the message handler in one process, without sockets: a customer and an expert take turns
writing in one conversation through Flask-SocketIO's test clients (handler, rate limit, unit of work,
emits; the test clients' packet handling is included and the same for every build).

    cd <checkout> && python <this file> --backend sqlite --messages 3000

Prints process CPU ms per message (time.process_time; the database server's own CPU on PostgreSQL
is not counted) for each of `--repeats` blocks, after one uncounted block."""
from __future__ import annotations

import argparse
import json
import secrets
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, ".")  # run from the checkout to measure

from bench.loadgen.common import postgres_schema  # noqa: E402
from gigcx import create_app  # noqa: E402
from gigcx.config import Settings  # noqa: E402
from tests.conftest import ADMIN_TOKEN, Api  # noqa: E402
from tests.realtime.test_message_path import _conversation  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    ap.add_argument("--messages", type=int, default=3000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        url = (stack.enter_context(postgres_schema(args.postgres_url)) if args.backend == "postgres"
               else f"sqlite:///{tmp}/gigcx.db")
        settings = Settings(instance_path=f"{tmp}/instance", database_url=url, admin_token=ADMIN_TOKEN,
                            secret_key=secrets.token_hex(16), model_check_s=0, roster_cache_s=0,
                            rate_limit_messages_per_min=10**6).finish()
        app = create_app({"GIGCX": settings, "TESTING": True})
        stack.callback(app.extensions["gigcx_engine"].dispose)
        customer, expert, case_id = _conversation(app, Api(app.test_client()))
        n = 0

        def block(count: int) -> float:
            nonlocal n
            start = time.process_time()
            for _ in range(count):
                n += 1
                who, ns = (customer, "/customer") if n % 2 else (expert, "/expert")
                ack = who.emit("message", {"case_id": case_id, "text": f"message {n} about the card",
                                           "client_id": f"m{n}"}, namespace=ns, callback=True)
                assert ack["ok"], ack
                customer.get_received("/customer")
                expert.get_received("/expert")
            return 1000 * (time.process_time() - start) / count

        block(args.messages // 5)  # warm-up: statements compiled and prepared, caches filled
        results = [round(block(args.messages), 4) for _ in range(args.repeats)]
    print(f"{args.backend}: CPU ms per message {results} median {statistics.median(results):.4f}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results))


if __name__ == "__main__":
    main()
