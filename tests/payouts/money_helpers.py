"""Helpers for the app-level payout tests: cases resolved through the real service layer."""
from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from gigcx.events import Outbox
from gigcx.models import Brand, Case, Customer, utcnow

ADMIN = "test-operator-token"


def setup_brand(api: Any, slug: str = "acme", reward: int = 300, **settings: Any) -> tuple[str, int]:
    """A brand with topic `cards` (reward cents) and settings patched; returns (api_key, brand_id)."""
    key = api.brand(slug, slug.title())
    api.topic(key, "cards", reward=reward)
    if settings:
        r = api.patch("/brand", key, json=settings)
        assert r.status_code == 200, r.json
    with_app = api.client.application
    from sqlmodel import select

    from gigcx.db import session_scope

    with with_app.app_context(), session_scope() as s:
        brand_id = s.exec(select(Brand.id).where(Brand.slug == slug)).one()
    return key, brand_id


def expert(api: Any, name: str = "ex") -> tuple[int, str]:
    return api.expert(email=f"{name}-{uuid.uuid4().hex[:6]}@example.com", name=name)  # type: ignore[no-any-return]


def open_case(app: Any, brand_id: int, expert_id: int | None, *, topic: str | None = "cards",
              first_response_s: float | None = 30.0) -> tuple[int, int]:
    """An active case assigned to the expert; returns (case_id, customer_id)."""
    from gigcx.db import session_scope

    with app.app_context(), session_scope() as s:
        cust = Customer(brand_id=brand_id, token_hash=uuid.uuid4().hex)
        s.add(cust)
        s.flush()
        now = utcnow()
        assigned = now - timedelta(seconds=(first_response_s or 0) + 10)
        case = Case(brand_id=brand_id, customer_id=cust.id, client_id=uuid.uuid4().hex,
                    question="where is my card", topic=topic, status="active", expert_id=expert_id,
                    assigned_at=assigned,
                    first_response_at=None if first_response_s is None
                    else assigned + timedelta(seconds=first_response_s))
        s.add(case)
        s.commit()
        return case.id, cust.id  # type: ignore[return-value]


def resolve(app: Any, case_id: int) -> None:
    """Resolve through the lifecycle service (credits the reward)."""
    from gigcx.db import session_scope
    from gigcx.services import cases

    with app.app_context(), session_scope() as s:
        case = s.get(Case, case_id)
        cases.mark_resolved(s, Outbox(), case)
        s.commit()


def resolved_case(app: Any, brand_id: int, expert_id: int, **kw: Any) -> tuple[int, int]:
    case_id, cust = open_case(app, brand_id, expert_id, **kw)
    resolve(app, case_id)
    return case_id, cust


def rate(app: Any, case_id: int, customer_id: int, csat: int) -> None:
    from gigcx.db import session_scope
    from gigcx.services import cases

    with app.app_context(), session_scope() as s:
        cases.rate(s, Outbox(), cases.Actor("customer", customer_id), case_id=case_id, csat=csat,
                   nps=None, comment=None)
        s.commit()


def fire_due_timers(app: Any) -> int:
    """Run every due timer now, as a serving process would."""
    from gigcx.db import session_scope
    from gigcx.services import timers
    from gigcx.uow import unit_of_work

    fired = 0
    with app.app_context():
        with session_scope() as s:
            ids = timers.due(s)
        for timer_id in ids:
            with unit_of_work() as uow:
                fired += timers.fire(uow.session, uow.outbox, timer_id, "test")
    return fired


def expire_review_window(app: Any, case_id: int) -> None:
    """Move the case's review window end into the past (timer and recorded end)."""
    from sqlmodel import select

    from gigcx.db import session_scope
    from gigcx.models import LedgerTransaction, Timer

    past = utcnow() - timedelta(seconds=1)
    with app.app_context(), session_scope() as s:
        for t in s.exec(select(Timer).where(Timer.kind == "review_window", Timer.ref_id == case_id)):
            t.due_at = past
            s.add(t)
        row = s.exec(select(LedgerTransaction).where(LedgerTransaction.key == f"reward:case:{case_id}")).first()
        if row is not None:
            row.meta = {**row.meta, "available_at": past.isoformat()}
            s.add(row)
        s.commit()


def balances(app: Any) -> dict[tuple[str, str], int]:
    """Every non-zero balance, folded from all entries."""
    import payouts
    from gigcx.db import session_scope
    from gigcx.services import ledger

    with app.app_context(), session_scope() as s:
        return {k: v for k, v in payouts.balances(ledger.all_entries(s)).items() if v}


def assert_conserved(app: Any) -> None:
    """Per currency all balances sum to 0; no expert account is negative."""
    per_currency: dict[str, int] = {}
    for (account, cur), cents in balances(app).items():
        per_currency[cur] = per_currency.get(cur, 0) + cents
        if account.startswith("expert:"):
            assert cents >= 0, (account, cents)
    assert all(v == 0 for v in per_currency.values()), per_currency
