"""Share of a handler's py-spy samples by what it was doing (the first matching group, in order).

    python profile_groups.py RAW_PYSPY_FILE 'CustomerNamespace.on_resolve \\(' 'BRAND_LOAD_LINES_REGEX'

RAW_PYSPY_FILE is `bench/event_cpu.py --profile` output (py-spy's raw collapsed stacks); the third
argument names the lines that load the brand (they move between builds), e.g.
'(rewards.py:124|answers.py:55|events.py:77|cases.py:235)\\)'.
"""
import re
import sys
from collections import Counter

path, anchor, brand_rx = sys.argv[1], sys.argv[2], sys.argv[3]
groups = [
    ("trust signals and QA draw (trust.on_credit)", r"on_credit \(gigcx/services/trust"),
    ("ledger posts", r"^post \(gigcx/services/ledger"),
    ("timer scheduling", r"^schedule \(gigcx/services/timers"),
    ("brand loads", brand_rx),
    ("topic reward", r"^breakdown \(gigcx/services/rewards"),
    ("reusable answer: first import of the scrubber (warm-up)", r"_find_and_load"),
    ("reusable answer (answers.record)", r"^record \(gigcx/services/answers"),
    ("case events (case_changed: expert summary, payloads)", r"case_changed \(gigcx/events"),
    ("load_case", r"^load_case \("),
    ("system message", r"^system_message \("),
    ("webhooks", r"^case_event \(gigcx/services/webhooks"),
    ("commit and emit", r"UnitOfWork.__exit__|UnitOfWork._commit"),
]
total = 0
counts: Counter[str] = Counter()
for line in open(path):
    stack, _, n = line.rstrip("\n").rpartition(" ")
    frames = stack.split(";")
    at = next((i for i, f in enumerate(frames) if re.search(anchor, f)), None)
    if at is None:
        continue
    total += int(n)
    rest = frames[at + 1:]
    name = next((g for g, rx in groups if any(re.search(rx, f) for f in rest)), "other")
    counts[name] += int(n)
print(f"{anchor.split(' ')[0]}: {total} samples")
for name in [g for g, _ in groups] + ["other"]:
    print(f"  {counts[name]:6d} {100 * counts[name] / max(total, 1):5.1f}%  {name}")
