"""The resolution's trust facts read in one statement are the facts the per-fact reads gave."""
from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import Session, col, select

from gigcx.db import session_scope
from gigcx.events import Outbox
from gigcx.models import (
    Brand,
    Case,
    CaseStatus,
    ClientSeen,
    Customer,
    Expert,
    ExpertProgram,
    ExpertQuality,
    Message,
    Sender,
    utcnow,
)
from gigcx.services import cases, trust
from gigcx.services.cases import Actor
from payouts import trust as scoring
from tests.payouts.money_helpers import expert, setup_brand

ANSWER = "Open the app, go to Cards, tap Replace card and confirm your delivery address there."


def _seen(session: Session, role: str, subject_id: int, since: Any) -> set[tuple[str, str]]:
    rows = session.exec(select(ClientSeen.ip, ClientSeen.user_agent).where(
        ClientSeen.role == role, ClientSeen.subject_id == subject_id, ClientSeen.last_seen >= since)).all()
    return {(ip, ua) for ip, ua in rows if trust._informative(ip)}


def reference_facts(session: Session, case: Case, settings: scoring.TrustSettings) -> scoring.CaseFacts:
    """The facts as nine ORM reads gathered them (the implementation the statement replaced)."""
    assert case.expert_id is not None
    now = utcnow()
    customer = session.get(Customer, case.customer_id)
    ex = session.get(Expert, case.expert_id)
    program = session.exec(select(ExpertProgram).where(ExpertProgram.expert_id == case.expert_id,
                                                       ExpertProgram.brand_id == case.brand_id)).first()
    own = bool(customer and customer.external_id and program and program.external_user_id
               and customer.external_id == program.external_user_id)
    since = now - timedelta(days=90)
    theirs, mine = _seen(session, "customer", case.customer_id, since), _seen(session, "expert", case.expert_id, since)
    shared = False
    if ex is not None and ex.stripe_account_id:
        shared = session.exec(select(Expert.id).where(Expert.stripe_account_id == ex.stripe_account_id,
                                                      Expert.id != ex.id)).first() is not None
    cycle = None
    if case.resolved_by == "customer" and case.assigned_at is not None and case.resolved_at is not None:
        cycle = max(0.0, (trust._aware(case.resolved_at) - trust._aware(case.assigned_at)).total_seconds())
    pairs = session.exec(select(func.count()).select_from(Case).where(
        Case.brand_id == case.brand_id, Case.customer_id == case.customer_id, Case.expert_id == case.expert_id,
        col(Case.status) == CaseStatus.resolved,
        col(Case.resolved_at) >= now - timedelta(days=settings.repeat_window_days))).one()
    texts = list(session.exec(select(Message.text).where(Message.case_id == case.id, Message.sender == Sender.expert)))
    quality = None
    if case.topic:
        quality = session.exec(select(ExpertQuality.score).where(
            ExpertQuality.brand_id == case.brand_id, ExpertQuality.expert_id == case.expert_id,
            ExpertQuality.topic == case.topic)).first()
    return scoring.CaseFacts(
        own_account=own, same_device=bool(theirs & mine),
        same_network=bool({ip for ip, _ in theirs} & {ip for ip, _ in mine}),
        shared_payout_account=shared, cycle_seconds=cycle, pair_count=int(pairs),
        confirmed_by_silence=case.resolved_by == "silence",
        substantive_answer=scoring.is_substantive(texts, settings.substantive_min_chars,
                                                  settings.substantive_min_words),
        quality=quality)


def reference_stratum(session: Session, case: Case) -> int:
    return int(session.exec(select(func.count()).select_from(Case).where(
        Case.brand_id == case.brand_id, Case.expert_id == case.expert_id, Case.topic == case.topic,
        Case.status == CaseStatus.resolved)).one())


def _case(s: Session, brand_id: int, customer_id: int, expert_id: int, *, topic: str | None,
          texts: tuple[str, ...], resolved_days_ago: float | None = None) -> Case:
    case = Case(brand_id=brand_id, customer_id=customer_id, client_id=uuid.uuid4().hex, question="where is my card",
                topic=topic, status="active", expert_id=expert_id, assigned_at=utcnow() - timedelta(minutes=3))
    s.add(case)
    s.flush()
    for i, text in enumerate(texts):
        cases.post_message(s, Outbox(), Actor("expert", expert_id), case_id=case.id, text=text,  # type: ignore[arg-type]
                           client_id=f"t{i}")
    if resolved_days_ago is not None:
        case.status, case.resolved_by = CaseStatus.resolved, "customer"
        case.resolved_at = utcnow() - timedelta(days=resolved_days_ago)
        s.add(case)
    return case


@pytest.mark.parametrize("variant", ["plain", "linked"])
def test_facts_match_the_per_fact_reads(app: Any, api: Any, variant: str) -> None:
    _, brand_id = setup_brand(api)
    ex, _ = expert(api)
    other, _ = expert(api, "other")
    blank, _ = expert(api, "blank")
    now = utcnow()
    with app.app_context(), session_scope() as s:
        brand = s.get(Brand, brand_id)
        assert brand is not None
        brand.trust_settings = {"qa_sample_rate": 0.5, "repeat_window_days": 30}
        s.add(brand)
        customers = []
        for n in range(3):
            c = Customer(brand_id=brand_id, token_hash=uuid.uuid4().hex,
                         external_id=f"user-{n}" if variant == "linked" else None)
            s.add(c)
            customers.append(c)
        s.flush()
        if variant == "linked":
            s.add(ExpertProgram(expert_id=ex, brand_id=brand_id, external_user_id="user-0"))
            for eid, acct in ((ex, "acct_same"), (other, "acct_same"), (blank, "")):
                e = s.get(Expert, eid)
                e.stripe_account_id = acct  # type: ignore[union-attr]
                s.add(e)
            s.add(ExpertQuality(brand_id=brand_id, expert_id=ex, topic="cards", score=0.31))
            s.add(ExpertQuality(brand_id=brand_id, expert_id=ex, topic="", score=0.9))
            for role, sid, ip, ua, age in (("customer", customers[0].id, "203.0.113.7", "ua-1", 1),
                                           ("expert", ex, "203.0.113.7", "ua-1", 2),
                                           ("customer", customers[1].id, "203.0.113.9", "ua-2", 1),
                                           ("expert", ex, "203.0.113.9", "ua-3", 1),
                                           ("customer", customers[2].id, "127.0.0.1", "ua-4", 1),
                                           ("expert", ex, "127.0.0.1", "ua-4", 1),
                                           ("customer", customers[2].id, "198.51.100.1", "ua-5", 120),
                                           ("expert", ex, "198.51.100.1", "ua-5", 1)):
                s.add(ClientSeen(role=role, subject_id=sid, ip=ip, user_agent=ua,  # type: ignore[arg-type]
                                 first_seen=now - timedelta(days=age), last_seen=now - timedelta(days=age)))
        # history: resolved cases inside and outside the repeat window, other topics, no topic
        for cust, topic, days in ((0, "cards", 1), (0, "cards", 45), (1, None, 2), (0, "", 3), (2, "cards", 0.5)):
            _case(s, brand_id, customers[cust].id, ex, topic=topic, texts=("ok",), resolved_days_ago=days)  # type: ignore[arg-type]
        s.commit()
        candidates = []
        for cust, expert_id, topic, texts in ((0, ex, "cards", (ANSWER,)), (1, ex, None, ("hi", "ok")),
                                              (2, ex, "", ()), (0, blank, "cards", (ANSWER, "thanks")),
                                              (1, other, "cards", (ANSWER,))):
            candidates.append(_case(s, brand_id, customers[cust].id, expert_id, topic=topic, texts=texts).id)
        s.commit()
        settings = trust.settings_for(brand)
        for case_id in candidates:
            case = s.get(Case, case_id)
            assert case is not None
            # resolved in this transaction and not flushed yet: both must count it
            case.status, case.resolved_at, case.resolved_by = CaseStatus.resolved, utcnow(), "customer"
            s.add(case)
            facts, row = trust._gather(s, case, settings, sample=True)
            assert facts == reference_facts(s, case, settings), case_id
            assert row.stratum_resolved == reference_stratum(s, case), case_id
            assert row.flag_id is None
            s.rollback()
        if variant == "linked":  # the data above does raise these signals
            case = s.get(Case, candidates[0])
            case.status, case.resolved_at, case.resolved_by = CaseStatus.resolved, utcnow(), "customer"  # type: ignore[union-attr]
            facts = trust.facts_for(s, case, settings)  # type: ignore[arg-type]
            assert facts.own_account and facts.same_device and facts.same_network and facts.shared_payout_account
            assert facts.pair_count == 3 and facts.quality == 0.31 and facts.substantive_answer
            s.rollback()


def test_the_pair_count_reads_only_the_customers_cases_with_the_expert(app: Any, api: Any) -> None:
    """The repeat-pair count runs at every resolution. Through the (expert_id, status) index it
    read every resolved case of the expert (10.5 ms at 6,133 of them on SQLite, growing with the
    expert's history); it must go through (customer_id, expert_id, status, resolved_at)."""
    from sqlalchemy import event

    _, brand_id = setup_brand(api)
    ex, _ = expert(api)
    with app.app_context(), session_scope() as s:
        brand = s.get(Brand, brand_id)
        assert brand is not None
        customer = Customer(brand_id=brand_id, token_hash=uuid.uuid4().hex)
        s.add(customer)
        s.flush()
        case = _case(s, brand_id, customer.id, ex, topic="cards", texts=(ANSWER,))  # type: ignore[arg-type]
        s.commit()
        case.status, case.resolved_at, case.resolved_by = CaseStatus.resolved, utcnow(), "customer"
        seen: list[tuple[str, Any]] = []

        def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
            if "count(*)" in statement and "customer_id" in statement:
                seen.append((statement, parameters))

        engine = s.get_bind()
        event.listen(engine, "before_cursor_execute", capture)
        try:
            trust._gather(s, case, trust.settings_for(brand), sample=False)
        finally:
            event.remove(engine, "before_cursor_execute", capture)
        assert seen, "the facts statement was not executed"
        conn = s.connection()
        if conn.dialect.name != "sqlite":
            pytest.skip("SQLite's planner without statistics is the one that chose badly")
        statement, parameters = seen[0]
        plan = [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)]
        pair_lines = [line for line in plan if "support_case" in line and "INDEX" in line]
        assert any("ix_case_customer_expert" in line for line in pair_lines), plan
        assert not any("ix_case_expert_status" in line for line in pair_lines), plan
        s.rollback()
