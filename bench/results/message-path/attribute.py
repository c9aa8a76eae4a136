"""Attribute py-spy collapsed stacks of a GigCX server (`bench/event_cpu.py --profile FILE`): the
samples of the `message` handler by the first rule a stack matches, and the dispatch around
handlers (all events: Flask context, packet decode, the ack).

    python bench/results/message-path/attribute.py PROFILE MESSAGES
"""
from __future__ import annotations

import collections
import re
import sys

HANDLER_RULES = [
    ("emits to rooms", r"SocketIO\.emit|DELIVERY|Outbox\.flush"),
    ("BEGIN (SQLite)", r"_sqlite_begin"),
    ("SQL statements (SQLAlchemy Core + driver)", r"Connection\._execute_context|Connection\.execute \(|_execute_clauseelement"),
    ("COMMIT (driver)", r"DefaultDialect\.do_commit"),
    ("pool checkout/checkin", r"Engine\.connect|Engine\.raw_connection|Connection\.close|_ConnectionFairy|pool/base\.py"
                              r"|Connection\.__exit__"),
    ("ORM session bookkeeping", r"orm/session\.py|state_changes|UnitOfWork|new_session|Connection\.begin"
                                r"|Transaction\.commit|_commit_impl"),
    ("payload building", r"message_payload|message_posted|iso \(gigcx"),
    ("rate limit", r"ratelimit\.py"),
    ("validation (pydantic)", r"parse \(gigcx"),
    ("metrics", r"prometheus_client"),
    ("authorization (actor, credential)", r"RoleNamespace\.(writer|actor)|credential_ok"),
    ("load shedding", r"loadshed"),
]
DISPATCH_RULES = [
    ("Flask request context", r"RequestContext|request_context|EventContext|Flask\.do_teardown|AppContext"),
    ("ack encode + send", r"Server\._send_packet"),
    ("packet decode (JSON)", r"Packet\.decode|SocketJSON\.loads|Packet\.__init__"),
    ("greenlet spawn", r"start_background_task"),
    ("metrics", r"prometheus_client"),
]


def classify(stack: str, rules: list[tuple[str, str]], default: str) -> str:
    for name, rx in rules:
        if re.search(rx, stack):
            return name
    return default


def main() -> None:
    path, messages = sys.argv[1], int(sys.argv[2])
    handler: collections.Counter[str] = collections.Counter()
    dispatch: collections.Counter[str] = collections.Counter()
    with open(path) as f:
        for line in f:
            stack, _, count = line.rstrip().rpartition(" ")
            n = int(count)
            if re.search(r"\.on_message \(gigcx", stack):
                handler[classify(stack, HANDLER_RULES, "other in handler")] += n
            elif (not re.search(r"\.on_[a-z_]+ \(gigcx", stack)
                  and re.search(r"_handle_event_internal|Server\._trigger_event", stack)):
                dispatch[classify(stack, DISPATCH_RULES, "other dispatch")] += n
    in_handler, around = sum(handler.values()), sum(dispatch.values())
    print(f"handler samples per message: {in_handler / messages:.3f}; dispatch samples (all events): {around}")
    for k, v in handler.most_common():
        print(f"  {k:45s} {v:5d} {100 * v / in_handler:5.1f}%  {v / messages:.3f}/msg")
    for k, v in dispatch.most_common():
        print(f"  dispatch: {k:35s} {v:5d} {100 * v / around:5.1f}%")


if __name__ == "__main__":
    main()
