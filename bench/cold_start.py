"""The first question after a process starts, for a brand with a large history: how long the ask
waits for the brand's models (the expert ranker and the suggestion index).

    python bench/cold_start.py [--cases N] [--repeats 3]

The ask calls both models inside its write transaction (SQLite: BEGIN IMMEDIATE), so this wait
is also how long every other writer waits. The script seeds a SQLite database with one brand
whose finished cases are CQA physics train answers (real question texts, the answerers as
experts, the first tag as topic, one expert message per case as the answer). Then, per repeat,
it forgets the cached models and times ``ranking.ranker_for`` and ``routing.suggest`` as an ask
calls them:

* "stand-in" (what the app does): a model of the newest cases fitted at once, the full model
  fitted in a child process;
* "full fit inline" (before): the same caches with ``interim=None``, so the full model is fitted
  inside the call.

It also reports, for the stand-in, how long the full models take to replace it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gigcx.app import create_app  # noqa: E402
from gigcx.config import Settings  # noqa: E402
from gigcx.db import session_scope  # noqa: E402
from gigcx.models import Brand, Case, Customer, Expert, Message, ReusableAnswer  # noqa: E402
from gigcx.services import ranking, routing  # noqa: E402
from gigcx.services.modelcache import INTERIM, RefreshingCache  # noqa: E402
from matching.datasets import load_cqa, missing_data  # noqa: E402

CACHES: list[RefreshingCache[Any, Any]] = []  # the app's model caches, once it exists (`use_caches_of`)


def use_caches_of(app: Any) -> None:
    """Measure the model caches of this app (each app has its own)."""
    CACHES[:] = [ranking.state(app).rankers, routing.state(app).suggesters]


def seed(app: Any, n_cases: int) -> tuple[int, str]:
    """One brand with ``n_cases`` finished cases (CQA physics train); returns (brand id, a question)."""
    cases, _, test = load_cqa("physics")
    cases = cases[:n_cases]
    with app.app_context(), session_scope() as s:
        brand = Brand(slug="bench", name="Bench")
        s.add(brand)
        s.flush()
        customer = Customer(brand_id=brand.id, token_hash="bench-customer")  # noqa: S106 - a throwaway database
        s.add(customer)
        ids: dict[Any, int] = {}
        for c in cases:
            if c.expert_id not in ids:
                expert = Expert(email=f"e{c.expert_id}@bench.test", display_name=f"e{c.expert_id}",
                                password_hash="x")  # noqa: S106 - nobody logs in
                s.add(expert)
                s.flush()
                ids[c.expert_id] = expert.id  # type: ignore[assignment]
        start = datetime(2026, 1, 1, tzinfo=UTC)
        rows, messages, answers = [], [], []
        for i, c in enumerate(cases, start=1):
            when = start + timedelta(minutes=i)
            rows.append({"id": i, "brand_id": brand.id, "customer_id": customer.id, "client_id": f"c{i}",
                         "question": c.text[:4000], "topic": (c.topics[0] if c.topics else None),
                         "status": "resolved", "expert_id": ids[c.expert_id], "created_at": when,
                         "assigned_at": when, "first_response_at": when, "resolved_at": when,
                         "routing": {}, "suggestions": []})
            messages.append({"case_id": i, "seq": 1, "sender": "expert", "sender_id": ids[c.expert_id],
                             "text": f"answer to: {c.text[:200]}", "sent_at": when})
            # what the customer's confirmation would have stored (suggestions come from these)
            answers.append({"brand_id": brand.id, "case_id": i, "topic": rows[-1]["topic"], "question": c.text[:4000],
                            "answer": f"answer to: {c.text[:200]}", "scrubbed": f"answer to: {c.text[:200]}",
                            "status": "pending", "created_at": when})
        s.execute(sa.insert(Case), rows)
        s.execute(sa.insert(Message), messages)
        s.execute(sa.insert(ReusableAnswer), answers)
        s.commit()
        return int(brand.id), test[0].text  # type: ignore[arg-type]


@contextmanager
def stand_ins(enabled: bool) -> Iterator[None]:
    saved = [c.interim for c in CACHES]
    if not enabled:
        for c in CACHES:
            c.interim = None
    try:
        yield
    finally:
        for c, interim in zip(CACHES, saved):
            c.interim = interim


def forget(brand_id: int) -> None:
    """Drop the cached models, after any background build has finished."""
    while any(brand_id in c.building for c in CACHES):
        time.sleep(0.05)
    for c in CACHES:
        c.entries.pop(brand_id, None)
        c.checked.pop(brand_id, None)


def first_ask(app: Any, brand_id: int, question: str) -> tuple[float, float, float | None]:
    """Seconds spent in ranker_for and in suggest on a cold process; seconds until both full
    models are in place (None when they already are)."""
    with app.app_context(), session_scope() as s:
        brand = s.get(Brand, brand_id)
        t0 = time.perf_counter()
        ranking.ranker_for(s, brand_id)
        t1 = time.perf_counter()
        routing.suggest(s, brand, question)  # type: ignore[arg-type]
        t2 = time.perf_counter()
    if all(c.entries[brand_id].version != INTERIM for c in CACHES):
        return t1 - t0, t2 - t1, None
    while any(c.entries[brand_id].version == INTERIM for c in CACHES):
        time.sleep(0.02)
    return t1 - t0, t2 - t1, time.perf_counter() - t0


def skip_if_missing(*sets: str) -> None:
    """Say which data is missing and stop (exit status 0: a skipped benchmark, not a failure)."""
    why = missing_data(*sets)
    if why:
        print(f"skipped: {why}", file=sys.stderr)
        raise SystemExit(0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=20_000, help="finished cases (at most physics' 11,307)")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    skip_if_missing("cqa")
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(instance_path=f"{tmp}/instance", database_url=f"sqlite:///{tmp}/bench.db",
                            admin_token="bench", secret_key="bench", model_check_s=0).finish()  # noqa: S106
        app = create_app({"GIGCX": settings})
        use_caches_of(app)
        brand_id, question = seed(app, args.cases)
        with app.app_context(), session_scope() as s:
            n = s.execute(sa.select(sa.func.count()).select_from(Case)).scalar_one()
        print(f"{n} finished cases, {args.repeats} repeats (medians)\n")
        print("| first ask after a start | ranker_for | suggest | ask waits in all | full models in place after |")
        print("|---|---|---|---|---|")
        for label, enabled in (("full fit inline (before)", False), ("stand-in (now)", True)):
            runs = []
            for _ in range(args.repeats):
                forget(brand_id)
                with stand_ins(enabled):
                    runs.append(first_ask(app, brand_id, question))
            rank_s = statistics.median(r[0] for r in runs)
            sugg_s = statistics.median(r[1] for r in runs)
            full = [r[2] for r in runs if r[2] is not None]
            print(f"| {label} | {rank_s * 1000:,.0f} ms | {sugg_s * 1000:,.0f} ms | "
                  f"{(rank_s + sugg_s) * 1000:,.0f} ms | "
                  f"{f'{statistics.median(full):.1f} s (child process)' if full else 'at once'} |", flush=True)
        forget(brand_id)


if __name__ == "__main__":
    main()
