"""Property test over the DB-backed service layer: random resolutions, ratings, rejects, approvals,
review-window expiries, payout runs with gateway failures and crashes, and recoveries.

Each example gets its own brand and experts in the test database, and checks them against a
small model; conservation and non-negativity are checked over the whole database.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from money_helpers import assert_conserved, expire_review_window, fire_due_timers, open_case, rate, resolve

import payouts
from gigcx.db import session_scope
from gigcx.models import Brand, Expert, Payout
from gigcx.services import ledger
from gigcx.services import payouts as svc
from gigcx.uow import unit_of_work

REWARD, FAST, FIVE = 300, 50, 100


class FakeStripe:
    """An in-memory `PayoutGateway` with Stripe's look-up-then-create rule and scripted faults."""

    mode = "stripe"

    def __init__(self) -> None:
        self.transfers: dict[str, str] = {}  # payout uid -> transfer id
        self.script: list[str] = []

    def check_payee(self, destination: str | None) -> payouts.PayeeCheck:
        return payouts.PayeeCheck(bool(destination))

    def verify_settlement(self, order: payouts.PayoutOrder, transfer_id: str | None) -> str:
        return ""

    def send_payout(self, order: payouts.PayoutOrder) -> payouts.Outcome:
        mode = self.script.pop(0) if self.script else "ok"
        if order.uid in self.transfers:  # found by transfer_group / metadata
            return payouts.Sent(self.transfers[order.uid], created_now=False)
        if mode == "temporary":
            return payouts.Unknown("injected 500", rekey=True)
        if mode == "permanent":
            return payouts.Refused("injected refusal")
        self.transfers[order.uid] = f"tr_{len(self.transfers) + 1}_{uuid.uuid4().hex[:6]}"
        if mode == "drop":  # made at Stripe, answer lost
            return payouts.Unknown("connection reset")
        return payouts.Sent(self.transfers[order.uid])


class Crash(Exception):
    """The process 'dies' between Stripe's answer and the commit."""


@dataclass
class Model:
    cases: list[dict[str, Any]] = field(default_factory=list)  # {id, cust, expert, amount, state, rated}


op = st.one_of(
    st.tuples(st.just("resolve"), st.integers(0, 1), st.booleans()),
    st.tuples(st.just("rate"), st.integers(0, 20), st.integers(1, 5)),
    st.tuples(st.just("reject"), st.integers(0, 20)),
    st.tuples(st.just("approve"), st.integers(0, 20)),
    st.tuples(st.just("expire"), st.integers(0, 20)),
    st.tuples(st.just("run"), st.lists(st.sampled_from(["ok", "temporary", "permanent", "drop", "crash"]),
                                       max_size=3)),
    st.tuples(st.just("retry"), st.lists(st.sampled_from(["ok", "temporary"]), max_size=2)),
)


@pytest.mark.slow
@settings(max_examples=int(__import__("os").environ.get("GIGCX_PROP_EXAMPLES", "25")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(ops=st.lists(op, min_size=1, max_size=14))
def test_service_layer_keeps_the_books(app: Any, api: Any, monkeypatch: Any, ops: list[tuple[Any, ...]]) -> None:
    slug = "p" + uuid.uuid4().hex[:10]
    key = api.brand(slug, slug)
    api.topic(key, "cards", reward=REWARD)
    assert api.patch("/brand", key, json={"bonus_rules": {"five_star_cents": FIVE, "fast_response_cents": FAST,
                                                          "fast_response_s": 60}}).status_code == 200
    experts = []
    with app.app_context(), session_scope() as s:
        from sqlmodel import select

        brand_id = s.exec(select(Brand.id).where(Brand.slug == slug)).one()
        for i in range(2):
            e = Expert(email=f"{slug}-{i}@example.com", password_hash="x", display_name=f"e{i}",
                       stripe_account_id=f"acct_{slug}_{i}", payouts_enabled=True)
            s.add(e)
            s.flush()
            experts.append(e.id)
        s.commit()
    fake = FakeStripe()
    model = Model()
    crash_next = {"on": False}

    def after_transfer(*_: Any) -> None:
        if crash_next["on"]:
            crash_next["on"] = False
            raise Crash()

    monkeypatch.setattr(svc, "_after_send", after_transfer)

    def case(i: int) -> dict[str, Any] | None:
        return model.cases[i % len(model.cases)] if model.cases else None

    for step in ops:
        kind = step[0]
        if kind == "resolve":
            expert_id = experts[step[1]]
            cid, cust = open_case(app, brand_id, expert_id, first_response_s=10 if step[2] else 120)
            resolve(app, cid)
            model.cases.append({"id": cid, "cust": cust, "expert": expert_id, "state": "pending",
                                "amount": REWARD + (FAST if step[2] else 0), "rated": False})
        elif kind == "rate" and (c := case(step[1])) and not c["rated"]:
            rate(app, c["id"], c["cust"], step[2])
            c["rated"] = True
            if step[2] == 5 and c["state"] == "pending":
                c["amount"] += FIVE
        elif kind in ("reject", "approve") and (c := case(step[1])):
            r = api.post(f"/cases/{c['id']}/review", key, json={"verdict": kind})
            first = c.get("verdict")
            if first is not None and first != kind:
                assert r.status_code == 409
                continue
            assert r.status_code == 200, r.json
            c["verdict"] = kind
            if c["state"] == "pending":
                c["state"] = "reversed" if kind == "reject" else "released"
        elif kind == "expire" and (c := case(step[1])):
            expire_review_window(app, c["id"])
            fire_due_timers(app)
            if c["state"] == "pending":
                c["state"] = "released"
        elif kind in ("run", "retry"):
            script = list(step[1])
            crash_next["on"] = "crash" in script
            fake.script = [m if m != "crash" else "ok" for m in script]
            with app.app_context():
                try:
                    if kind == "run":
                        svc.run(unit_of_work(), fake, 100)
                    else:
                        svc.retry_open(unit_of_work(), fake)
                except Crash:  # the unit of work rolled the step back
                    pass
            crash_next["on"] = False
        _check(app, brand_id, experts, model, fake)

    # Finally everything recovers: every payout in transit settles with exactly one transfer.
    fake.script = []
    with app.app_context():
        svc.retry_open(unit_of_work(), fake)
    _check(app, brand_id, experts, model, fake, settled=True)


def _check(app: Any, brand_id: int, experts: list[int], model: Model, fake: FakeStripe,
           settled: bool = False) -> None:
    assert_conserved(app)
    with app.app_context(), session_scope() as s:
        from sqlmodel import select

        for expert_id in experts:
            mine = [c for c in model.cases if c["expert"] == expert_id]
            bal = ledger.owner_balances(s, "expert", expert_id).get("usd", {})
            pending = sum(c["amount"] for c in mine if c["state"] == "pending")
            released = sum(c["amount"] for c in mine if c["state"] == "released")
            assert bal.get("pending", 0) == pending
            assert bal.get("available", 0) + bal.get("in_transit", 0) + bal.get("paid", 0) == released
            rows = s.exec(select(Payout).where(Payout.expert_id == expert_id)).all()
            paid_rows = [p for p in rows if p.status == "paid"]
            # Money paid equals the transfers made for paid payouts; one transfer per payout.
            assert bal.get("paid", 0) == sum(p.amount_cents for p in paid_rows)
            for p in paid_rows:
                assert fake.transfers[p.uid] == p.transfer_id
            assert bal.get("in_transit", 0) == sum(p.amount_cents for p in rows if p.status in svc.OPEN)
            if settled:
                assert bal.get("in_transit", 0) == 0
        budget = ledger.balance(s, payouts.brand_budget(brand_id), "usd")
        assert budget == -sum(c["amount"] for c in model.cases if c["state"] != "reversed")
    assert len(fake.transfers) == len(set(fake.transfers.values()))
