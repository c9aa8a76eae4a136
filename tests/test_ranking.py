"""What a brand's expert ranker learns from: `ranking.history` over the stored cases."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import select

from gigcx.models import Brand, Case, Customer, Expert, Rating
from gigcx.services import ranking
from matching import ResolvedCase

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _seed(app: Any) -> dict[str, int]:
    from gigcx.db import session_scope

    with app.app_context(), session_scope() as s:
        brands = [Brand(slug="acme", name="Acme"), Brand(slug="other", name="Other")]
        s.add_all(brands)
        s.flush()
        acme, other = (b.id for b in brands)
        ann = Expert(email="ann@x.test", password_hash="-", display_name="Ann")  # noqa: S106 - not a password
        bob = Expert(email="bob@x.test", password_hash="-", display_name="Bob")  # noqa: S106
        s.add_all([ann, bob])
        s.flush()
        cust = Customer(brand_id=acme, token_hash="c1")  # type: ignore[arg-type]  # noqa: S106
        cust2 = Customer(brand_id=other, token_hash="c2")  # type: ignore[arg-type]  # noqa: S106
        s.add_all([cust, cust2])
        s.flush()

        def case(n: int, status: str, expert: Expert | None, brand: int | None = acme, **kw: Any) -> Case:
            c = Case(brand_id=brand, customer_id=cust.id if brand == acme else cust2.id, client_id=f"q{n}",  # type: ignore[arg-type]
                     question=f"question {n}", status=status, expert_id=expert.id if expert else None,
                     created_at=T0 + timedelta(minutes=n), **kw)
            s.add(c)
            s.flush()
            return c

        rated = case(1, "resolved", ann, topic="cards", assigned_at=T0, resolved_at=T0 + timedelta(hours=1))
        s.add(Rating(case_id=rated.id, expert_id=ann.id, csat=5))  # type: ignore[arg-type]
        case(2, "resolved", bob, topic="loans", resolved_at=T0 + timedelta(hours=2), review_verdict="reject")
        case(3, "escalated", bob, escalated_at=T0 + timedelta(hours=3))
        case(4, "closed", ann, topic="cards", closed_at=T0 + timedelta(hours=4))
        case(5, "resolved", ann, resolved_at=T0 + timedelta(hours=5), review_verdict="approve")
        case(6, "active", ann, topic="cards")  # not finished
        case(7, "escalated", None, escalated_at=T0 + timedelta(hours=7))  # nobody handled it
        case(8, "resolved", ann, brand=other, resolved_at=T0 + timedelta(hours=8))  # another brand
        s.commit()
        return {"acme": acme, "ann": ann.id, "bob": bob.id}  # type: ignore[dict-item]


def test_history_is_the_finished_handled_cases_with_outcome_rating_and_time(app: Any) -> None:
    from gigcx.db import session_scope

    ids = _seed(app)
    ann, bob = ids["ann"], ids["bob"]
    with app.app_context(), session_scope() as s:
        got = ranking.history(s, ids["acme"])
        newest_two = ranking.history(s, ids["acme"], limit=2)
    at = [(T0 + timedelta(hours=h)).timestamp() for h in (1, 2, 3, 4, 5)]
    assert got == [
        ResolvedCase("question 1", ["cards"], ann, True, 5, at[0]),
        ResolvedCase("question 2", ["loans"], bob, False, None, at[1]),  # resolved, then rejected by the brand
        ResolvedCase("question 3", [], bob, False, None, at[2]),  # escalated
        ResolvedCase("question 4", ["cards"], ann, False, None, at[3]),  # closed unresolved
        ResolvedCase("question 5", [], ann, True, None, at[4]),  # approved
    ]
    assert newest_two == got[-2:]  # the newest `limit` cases, still oldest first


def test_response_speed_is_the_median_over_each_experts_own_newest_answered_cases(app: Any) -> None:
    """Every expert's newest `recent` answered cases count, however busy the others were since."""
    from gigcx.db import session_scope

    ids = _seed(app)
    ann, bob = ids["ann"], ids["bob"]
    with app.app_context(), session_scope() as s:
        cust = s.exec(select(Customer)).first()
        assert cust is not None

        def answered(n: int, expert: int, wait_s: float) -> None:
            start = T0 + timedelta(days=1, minutes=n)
            s.add(Case(brand_id=ids["acme"], customer_id=cust.id, client_id=f"w{n}", question="q",  # type: ignore[arg-type]
                       status="resolved", expert_id=expert, assigned_at=start,
                       first_response_at=start + timedelta(seconds=wait_s)))

        for n in range(4):  # bob's, long ago: 30 s, 40 s, 50 s (the oldest, 20 s, is past `recent`)
            answered(n, bob, 20 + 10 * n)
        for n in range(4, 20):  # then ann was much busier
            answered(n, ann, 5)
        s.commit()
        stats = ranking._query_stats(s, [ann, bob, 999], recent=3)
    assert stats[bob][0] is not None and abs(stats[bob][0] - 40.0) < 0.01
    assert stats[ann][0] is not None and abs(stats[ann][0] - 5.0) < 0.01
    assert stats[bob][1] == 4 + 1 and stats[ann][1] == 16 + 3  # resolved cases, all brands (the seed's too)
    assert stats[999] == (None, 0)


def test_expert_stats_survive_an_entry_expiring_while_they_are_read(app: Any) -> None:
    """Reading the cached statistics happens at one instant: an entry that expires between being
    found and being read was a KeyError that failed the ask (seen under load)."""
    from cachetools import TTLCache

    from gigcx.db import session_scope

    ids = _seed(app)
    clock = iter(range(0, 1_000_000, 6))  # every look at the clock is 6 s later
    with app.app_context(), session_scope() as s:
        caches = ranking.state()
        caches.stats = TTLCache(maxsize=10, ttl=10, timer=lambda: next(clock))
        caches.stats[ids["ann"]] = (1.0, 1)  # stamped at 0, so valid until 10: `in` at 6, `[]` at 12
        stats = ranking.expert_stats(s, [ids["ann"], ids["bob"]])
    assert stats[ids["ann"]] == (1.0, 1)  # as cached when looked at
    assert stats[ids["bob"]] == (None, 1)  # not cached: read (one resolved case)
