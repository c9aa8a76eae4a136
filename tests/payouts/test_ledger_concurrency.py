"""The SQL ledger under concurrent writers (meaningful on PostgreSQL; SQLite has one writer)."""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from money_helpers import assert_conserved, balances, expert, resolved_case, setup_brand

import payouts
from gigcx.db import session_scope
from gigcx.services import earnings, ledger


def race(app: Any, fns: list[Callable[[Any], Any]]) -> list[Any]:
    """Run each fn(session) in its own thread and transaction, started together; commit each."""
    barrier = threading.Barrier(len(fns))
    results: list[Any] = [None] * len(fns)

    def worker(i: int) -> None:
        with app.app_context(), session_scope() as s:
            barrier.wait()
            try:
                results[i] = fns[i](s)
                s.commit()
            except Exception as exc:  # the loser's refusal is part of the result
                s.rollback()
                results[i] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(fns))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_same_key_posted_concurrently_posts_once(app: Any, api: Any) -> None:
    tx = payouts.fund_brand(1, payouts.Money(500, "usd"), "pi_same")
    results = race(app, [lambda s: ledger.post(s, tx) for _ in range(6)])
    assert sorted(results) == [False] * 5 + [True]
    assert balances(app) == {("brand:1:funding", "usd"): -500, ("brand:1:budget", "usd"): 500}


def test_release_and_reject_race_has_one_winner(app: Any, api: Any) -> None:
    key, brand_id = setup_brand(api, reward=300)
    ex_id, _ = expert(api)
    for _ in range(3):
        case_id, _ = resolved_case(app, brand_id, ex_id)
        results = race(app, [
            lambda s, case_id=case_id: earnings.release_case(s, case_id),
            lambda s, case_id=case_id: earnings.review(s, brand_id=brand_id, case_id=case_id, verdict="reject",
                                                       note=None),
        ])
        released, reviewed = results
        assert not isinstance(released, Exception), released
        assert not isinstance(reviewed, Exception), reviewed
        assert released is True or reviewed["clawback"] is True
        assert not (released is True and reviewed["clawback"] is True)
    assert_conserved(app)


def test_concurrent_payout_starts_never_overdraw(app: Any, api: Any) -> None:
    _, brand_id = setup_brand(api, reward=300)
    ex_id, _ = expert(api)
    case_id, _ = resolved_case(app, brand_id, ex_id)
    with app.app_context(), session_scope() as s:
        earnings.release_case(s, case_id)
        s.commit()
    money = payouts.Money(300, "usd")
    results = race(app, [lambda s, i=i: ledger.post(s, payouts.start_payout(f"p{i}", ex_id, money))
                         for i in range(4)])
    assert sum(r is True for r in results) == 1
    assert all(isinstance(r, payouts.InsufficientFunds) for r in results if r is not True)
    assert balances(app)[(f"expert:{ex_id}:in_transit", "usd")] == 300
    assert_conserved(app)
