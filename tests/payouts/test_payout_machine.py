"""The payout invariant, through the real gateway, the REST API and the Stripe fake over HTTP.

A hypothesis state machine drives earnings, payout runs, retries, concurrent runs, crashes
between any two steps of a payout (after the reservation, between look-up and create, between
Stripe's answer and our commit), restarts of the app, reversals with their webhooks (replayed,
reordered, overtaking our own commit) and the operator's decisions, while the fake injects
faults: answers lost after the work was done (creates and look-ups), 4xx and 5xx on list and
create, timeouts, and a platform balance too small to transfer from. The fake replays the
first outcome of an idempotency key, errors included, as Stripe does.

After every step, per expert: each payout has at most one transfer; a failed payout has none;
a paid payout's transfer is the recorded one; the ledger's paid equals the transfers of settled
payouts minus the reversals it was told about; and what left the platform (transfers minus
reversals) never exceeds what the expert earned (minus what was written off). Once the faults
stop, nothing stays in transit and the transfers minus reversals equal the ledger's paid.
"""
from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections import defaultdict
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test
from money_helpers import ADMIN, assert_conserved, fire_due_timers, resolved_case
from sqlmodel import select
from stripe_fixture import WEBHOOK_SECRET, sign_payload

from gigcx import create_app
from gigcx.db import session_scope
from gigcx.models import Brand, Payout, PayoutReversal
from gigcx.services import ledger
from gigcx.services import payouts as svc
from tests.conftest import Api

REWARD = 300
SETTLED = ("paid", "reversed")


class Crash(Exception):
    """The process 'dies' at a chosen point of a payout."""


# Lost answers and refused look-ups come up most: together they are what once paid twice.
FAULTS = st.one_of(
    st.tuples(st.just("drop_create"), st.integers(2, 3)),
    st.tuples(st.just("lookup_status"), st.sampled_from([401, 403, 500, 503])),
    st.tuples(st.just("drop_create"), st.integers(1, 3)),
    st.tuples(st.just("lookup_status"), st.sampled_from([401, 403])),
    st.tuples(st.just("drop_lookup"), st.integers(1, 2)),
    st.tuples(st.just("error_500"), st.just(1)),
    st.tuples(st.just("create_status"), st.sampled_from([400, 401, 402, 503])),
    st.tuples(st.just("balance"), st.integers(0, 700)),
    st.tuples(st.just("drop_create"), st.integers(2, 3)),
    st.tuples(st.just("timeout"), st.just(1)),
)
THEN = st.sampled_from(["run", "run", "retry", "nothing"])
PAY = st.sampled_from(["run", "retry"])


def _machine(app0: Any, conf: Any, localstripe: Any, monkeypatch: Any) -> type[RuleBasedStateMachine]:
    holder = {"app": app0}

    class PayoutMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            localstripe.reset()
            self.app = holder["app"]
            self.api = Api(self.app.test_client())
            slug = "m" + uuid.uuid4().hex[:10]
            key = self.api.brand(slug, slug)
            self.api.topic(key, "cards", reward=REWARD)
            assert self.api.patch("/brand", key, json={"review_window_s": 0}).status_code == 200
            with self.app.app_context(), session_scope() as s:
                self.brand_id = s.exec(select(Brand.id).where(Brand.slug == slug)).one()
            self.experts: list[tuple[int, str]] = []
            for i in range(2):
                ex_id, token = self.api.expert(email=f"{slug}-{i}@example.com", name=f"e{i}")
                acct = self.api.post("/experts/me/payout-account", token, json={}).json["account_id"]
                localstripe.complete_onboarding(acct)
                assert self.api.get("/experts/me/payout-account", token).json["payouts_enabled"]
                self.experts.append((ex_id, acct))
            self.earned: dict[int, int] = defaultdict(int)
            self.written_off: dict[int, int] = defaultdict(int)
            self.events: list[tuple[bytes, bool]] = []  # (signed payload, applied yet)
            for who in range(2):  # something to pay from the first step on
                self._earn(who, 1)

        # ---- the world -----------------------------------------------------------------

        def _restart(self) -> None:
            self.app.extensions["gigcx_engine"].dispose()
            self.app = holder["app"] = create_app({"GIGCX": conf, "TESTING": True})
            self.api = Api(self.app.test_client())

        def _pay(self, faults: list[tuple[str, int]], then: str) -> None:
            """Fresh faults, then a payout run, a retry of open payouts, or nothing."""
            for f in faults:
                self._fault(f)
            if then != "nothing":
                r = self.api.post("/payouts/retry" if then == "retry" else "/payouts/run", ADMIN)
                assert r.status_code == 200, r.get_data(as_text=True)
            if any(kind == "balance" for kind, _ in faults):
                localstripe.set_balance("usd", None)  # the platform's funds settle by the next run

        def _earn(self, who: int, n: int) -> None:
            ex_id, _ = self.experts[who]
            for _ in range(n):
                resolved_case(self.app, self.brand_id, ex_id)
                self.earned[ex_id] += REWARD
            fire_due_timers(self.app)

        @rule(who=st.integers(0, 1), n=st.integers(1, 2), faults=st.lists(FAULTS, max_size=2), then=THEN)
        def earn(self, who: int, n: int, faults: list[tuple[str, int]], then: str) -> None:
            self._earn(who, n)
            self._pay(faults, then)

        @rule(fault=FAULTS)
        def fault(self, fault: tuple[str, int]) -> None:
            self._fault(fault)

        def _fault(self, fault: tuple[str, int]) -> None:
            kind, arg = fault
            if kind == "drop_create":
                localstripe.add_fault("drop_after_commit", count=arg)
            elif kind == "drop_lookup":
                localstripe.add_fault("drop_after_commit", method="GET", count=arg)
            elif kind == "error_500":
                localstripe.add_fault("error_500")
            elif kind == "lookup_status":
                localstripe.add_status_fault(arg, method="GET")
            elif kind == "create_status":
                localstripe.add_status_fault(arg, method="POST", code="parameter_invalid" if arg == 400 else "")
            elif kind == "balance":
                localstripe.set_balance("usd", arg)
            else:  # longer than the client's timeout: the request is still running at Stripe
                localstripe.add_fault("timeout", delay=0.8)

        @rule(then=THEN)
        def faults_stop(self, then: str) -> None:
            localstripe.clear_faults()
            self._pay([], then)

        # Paying is what can go wrong: three rules, so that it is drawn three times as often.
        @rule(faults=st.lists(FAULTS, min_size=1, max_size=3), then=PAY)
        def run(self, faults: list[tuple[str, int]], then: str) -> None:
            """A payout run (or a retry of open payouts) meeting fresh faults."""
            self._pay(faults, then)

        @rule(faults=st.lists(FAULTS, min_size=1, max_size=3), then=PAY)
        def run_again(self, faults: list[tuple[str, int]], then: str) -> None:
            self._pay(faults, then)

        @rule(faults=st.lists(FAULTS, max_size=3), then=PAY)
        def run_more(self, faults: list[tuple[str, int]], then: str) -> None:
            self._pay(faults, then)


        @rule()
        def concurrent_runs(self) -> None:
            answers: list[int] = []

            def one() -> None:
                answers.append(Api(self.app.test_client()).post("/payouts/run", ADMIN).status_code)

            threads = [threading.Thread(target=one) for _ in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=120)
            assert answers == [200, 200], answers

        @rule(point=st.sampled_from(["after_reserve", "before_create", "after_answer"]))
        def crash(self, point: str) -> None:
            fired = {"done": False}

            def once(*_: Any, **__: Any) -> None:
                if not fired["done"]:
                    fired["done"] = True
                    raise Crash(point)

            gw = svc.gateway(self.app)
            with monkeypatch.context() as m:
                if point == "after_reserve":
                    real_send = gw.send_payout

                    def send(order: Any) -> Any:
                        once()
                        return real_send(order)

                    m.setattr(gw, "send_payout", send)
                elif point == "before_create":
                    real_create = gw.create_transfer  # type: ignore[attr-defined]

                    def create(order: Any) -> Any:
                        once()
                        return real_create(order)

                    m.setattr(gw, "create_transfer", create)
                else:
                    m.setattr(svc, "_after_send", once)
                try:
                    r = self.api.post("/payouts/run", ADMIN)
                    assert r.status_code in (200, 500)
                except Crash:
                    pass
            self._restart()  # the process died: a new one starts

        @rule(faults=st.lists(FAULTS, max_size=1), then=THEN)
        def restart(self, faults: list[tuple[str, int]], then: str) -> None:
            self._restart()
            self._pay(faults, then)

        @rule(data=st.data())
        def reverse(self, data: st.DataObject) -> None:
            left = [t for t in localstripe.transfers() if t["amount"] > t["amount_reversed"]]
            if not left:
                return
            tr = data.draw(st.sampled_from(left))
            cents = data.draw(st.integers(1, tr["amount"] - tr["amount_reversed"]))
            localstripe.reverse(tr["id"], cents)
            [now] = [t for t in localstripe.transfers() if t["id"] == tr["id"]]
            body = json.dumps({"id": f"evt_{uuid.uuid4().hex}", "object": "event", "type": "transfer.reversed",
                               "created": int(time.time()), "livemode": False,
                               "data": {"object": now}}).encode()
            self.events.append((body, False))

        @precondition(lambda self: bool(self.events))
        @rule(data=st.data(), faults=st.lists(FAULTS, max_size=1), then=THEN)
        def deliver(self, data: st.DataObject, faults: list[tuple[str, int]], then: str) -> None:
            """Any event, in any order, again and again (Stripe's at-least-once delivery)."""
            i = data.draw(st.integers(0, len(self.events) - 1))
            body, _ = self.events[i]
            r = self.api.client.post("/webhooks/stripe", data=body, headers={
                "Stripe-Signature": sign_payload(body, WEBHOOK_SECRET), "Content-Type": "application/json"})
            assert r.status_code in (200, 503), r.get_data(as_text=True)
            if r.status_code == 200:
                self.events[i] = (body, True)
            self._pay(faults, then)

        @rule(data=st.data(), repay=st.booleans())
        def decide(self, data: st.DataObject, repay: bool) -> None:
            held = self.api.get("/payouts/reversals?undecided=true", ADMIN).json["reversals"]
            mine = [r for r in held if r["expert_id"] in dict(self.experts)]
            if not mine:
                return
            rev = data.draw(st.sampled_from(mine))
            r = self.api.post(f"/payouts/reversals/{rev['id']}/decision", ADMIN,
                              json={"decision": "repay" if repay else "write_off"})
            assert r.status_code == 200, r.json
            if not repay:
                self.written_off[rev["expert_id"]] += rev["amount_cents"]

        # ---- the invariant -------------------------------------------------------------

        def _state(self) -> tuple[list[Payout], dict[int, list[PayoutReversal]], dict[int, dict[str, int]]]:
            ids = [e for e, _ in self.experts]
            with self.app.app_context(), session_scope() as s:
                rows = list(s.exec(select(Payout).where(Payout.expert_id.in_(ids))))  # type: ignore[attr-defined]
                revs: dict[int, list[PayoutReversal]] = defaultdict(list)
                for r in s.exec(select(PayoutReversal).where(PayoutReversal.expert_id.in_(ids))):  # type: ignore[attr-defined]
                    revs[r.payout_id].append(r)
                bal = {e: ledger.owner_balances(s, "expert", e).get("usd", {}) for e in ids}
                for p in rows:
                    s.expunge(p)
            return rows, revs, bal

        @invariant()
        def never_more_than_earned_and_books_match_stripe(self) -> None:
            assert_conserved(self.app)
            rows, revs, bal = self._state()
            transfers = localstripe.transfers()
            by_uid: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for t in transfers:
                by_uid[t["metadata"].get("gigcx_payout", "")].append(t)
            uids = {p.uid for p in rows}
            assert set(by_uid) <= uids, "a transfer no payout knows"
            for p in rows:
                trs = by_uid.get(p.uid, [])
                assert len(trs) <= 1, f"payout {p.id} has {len(trs)} transfers"
                if p.status == "failed":
                    assert trs == [], f"failed payout {p.id} has transfer {trs[0]['id']}"
                if p.status in SETTLED:
                    assert trs and trs[0]["id"] == p.transfer_id and trs[0]["amount"] == p.amount_cents
            for ex_id, acct in self.experts:
                mine = [p for p in rows if p.expert_id == ex_id]
                sent = sum(t["amount"] - t["amount_reversed"] for t in transfers if t["destination"] == acct)
                assert sent <= self.earned[ex_id] - self.written_off[ex_id], (sent, self.earned[ex_id])
                settled = sum(p.amount_cents for p in mine if p.status in SETTLED)
                told = sum(r.amount_cents for p in mine for r in revs.get(p.id, []))
                assert bal[ex_id].get("paid", 0) == settled - told
                in_transit = sum(p.amount_cents for p in mine if p.status in (*svc.OPEN, svc.MANUAL))
                assert bal[ex_id].get("in_transit", 0) == in_transit

        def teardown(self) -> None:
            """Faults stop: every event arrives, every open payout settles, the books equal Stripe."""
            localstripe.clear_faults()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                for i, (body, _) in enumerate(self.events):
                    r = self.api.client.post("/webhooks/stripe", data=body, headers={
                        "Stripe-Signature": sign_payload(body, WEBHOOK_SECRET),
                        "Content-Type": "application/json"})
                    if r.status_code == 200:
                        self.events[i] = (body, True)
                self.api.post("/payouts/retry", ADMIN)
                rows, _, _ = self._state()
                if all(done for _, done in self.events) and not any(p.status in svc.OPEN for p in rows):
                    break
                time.sleep(0.3)  # a timed-out request may still be running at the fake
            self.never_more_than_earned_and_books_match_stripe()
            rows, revs, bal = self._state()
            assert not [p.id for p in rows if p.status in svc.OPEN], "still in transit after the faults stopped"
            transfers = localstripe.transfers()
            for ex_id, acct in self.experts:
                sent = sum(t["amount"] - t["amount_reversed"] for t in transfers if t["destination"] == acct)
                assert bal[ex_id].get("in_transit", 0) == 0
                assert sent == bal[ex_id].get("paid", 0)
                assert sum(bal[ex_id].get(b, 0) for b in ("available", "paid", "held")) == \
                    self.earned[ex_id] - self.written_off[ex_id]

    return PayoutMachine


@pytest.fixture
def settings_(settings: Any, localstripe: Any) -> Any:
    settings.stripe_api_key = localstripe.api_key
    settings.stripe_api_base = localstripe.url
    settings.stripe_webhook_secret = WEBHOOK_SECRET
    settings.stripe_max_network_retries = 1
    settings.stripe_timeout_s = 0.5
    settings.rate_limit_auth_per_min = 1_000_000  # every example signs two experts in
    return settings


@pytest.mark.slow
def test_payouts_never_pay_more_than_earned(settings_: Any, localstripe: Any, monkeypatch: Any) -> None:
    app = create_app({"GIGCX": settings_, "TESTING": True})
    machine = _machine(app, settings_, localstripe, monkeypatch)
    try:
        run_state_machine_as_test(machine, settings=settings(
            max_examples=int(os.environ.get("GIGCX_PROP_EXAMPLES", "5")), stateful_step_count=16,
            deadline=None, suppress_health_check=list(HealthCheck)))
    finally:
        localstripe.clear_faults()
