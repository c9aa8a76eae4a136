"""Retention and erasure of customers' personal data.

* **Retention.** A brand with `retention_days` set keeps conversations' text that long after a
  case finished (closed, resolved or escalated; counted from the latest of those times). Then
  every message, the question, the escalation reason, the review note and the rating's comment
  are replaced by `[redacted]`, and once all of a customer's cases are redacted the customer is
  anonymised (their widget token stops working). Cases keep their ids, status, topic, timings,
  expert and reward; ratings keep their scores; the ledger is untouched.
* **Erasure.** On request, one customer's data is exported (`export`) and erased (`erase`) at
  once, whatever the retention period: open cases are closed first (no reward is credited for
  them), and answers reused from their cases are deleted."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, update
from sqlmodel import Session, select

from gigcx import security
from gigcx.errors import ApiError
from gigcx.events import Outbox
from gigcx.models import (
    OPEN_STATUSES,
    Brand,
    Case,
    CaseStatus,
    Customer,
    Message,
    Rating,
    ReusableAnswer,
    Sender,
    utcnow,
)
from gigcx.models.base import iso
from gigcx.uow import UnitOfWork

log = logging.getLogger(__name__)
REDACTED = "[redacted]"

#: What an erasure keeps, and why: said in every erasure report and in docs/security.md.
KEPT = [
    {"what": "cases (id, status, topic, timings, assigned expert, reward)",
     "why": "brand metrics and the experts' track record; no text or personal data remains in them"},
    {"what": "ratings (CSAT and NPS scores, without the comment)",
     "why": "experts' ratings and the brand's quality metrics"},
    {"what": "ledger transactions and payouts for these cases",
     "why": "money records: experts were paid for this work, and bookkeeping law requires keeping "
            "payment records; they name cases and experts, never the customer"},
    {"what": "the customer's id, brand and creation time",
     "why": "the kept cases refer to it; its access token no longer works"},
]


def redact_case(session: Session, case: Case) -> int:
    """Replace every text of the case with `[redacted]`; returns how many messages changed."""
    changed = session.connection().execute(
        update(Message).where(Message.case_id == case.id, Message.sender != Sender.system,  # type: ignore[arg-type]
                              Message.text != REDACTED).values(text=REDACTED)).rowcount  # type: ignore[arg-type, attr-defined]
    case.question = REDACTED
    if case.escalation_reason is not None:
        case.escalation_reason = REDACTED
    if case.review_note is not None:
        case.review_note = REDACTED
    case.suggestions = []
    case.redacted_at = utcnow()
    session.add(case)
    rating = session.exec(select(Rating).where(Rating.case_id == case.id)).first()
    if rating is not None and rating.comment is not None:
        rating.comment = None
        session.add(rating)
    return int(changed or 0)


def anonymise(session: Session, customer: Customer) -> None:
    """The customer's token stops working (a random digest nobody holds); language forgotten."""
    customer.token_hash = security.token_hash(security.new_token("gone_"))
    customer.language = None
    customer.anonymised_at = utcnow()
    session.add(customer)


def _finished_at() -> Any:
    return func.coalesce(Case.closed_at, Case.resolved_at, Case.escalated_at, Case.created_at)


def retention_sweep(uow: UnitOfWork, now: datetime | None = None, batch: int = 200) -> dict[str, int]:
    """Redact every case past its brand's retention period and anonymise customers left with
    nothing else. Several units of work in sequence on `uow`'s session: each batch of cases, and
    each brand's customers, commits on its own. Safe to run from several processes at once
    (each case is redacted once: a redacted case is no longer selected)."""
    now = now or utcnow()
    totals = {"cases": 0, "messages": 0, "customers": 0}
    with uow:
        _sweep(uow, now, batch, totals)
    if totals["cases"] or totals["customers"]:
        log.info("retention: redacted %s cases (%s messages), anonymised %s customers",
                 totals["cases"], totals["messages"], totals["customers"])
    return totals


def _sweep(uow: UnitOfWork, now: datetime, batch: int, totals: dict[str, int]) -> None:
    session = uow.session
    brands = session.exec(select(Brand.id, Brand.retention_days).where(
        Brand.retention_days.is_not(None))).all()  # type: ignore[union-attr]
    for brand_id, days in brands:
        cutoff = now - timedelta(days=days or 0)
        while True:
            with uow:
                rows = session.exec(select(Case).where(
                    Case.brand_id == brand_id, Case.redacted_at.is_(None),  # type: ignore[union-attr]
                    Case.status.not_in(OPEN_STATUSES), _finished_at() < cutoff)  # type: ignore[attr-defined]
                    .order_by(Case.id).limit(batch)).all()  # type: ignore[arg-type]
                for case in rows:
                    totals["messages"] += redact_case(session, case)
                    totals["cases"] += 1
            if len(rows) < batch:
                break
        with uow:
            unredacted = select(Case.id).where(Case.customer_id == Customer.id, Case.redacted_at.is_(None))  # type: ignore[union-attr]
            customers = session.exec(select(Customer).where(
                Customer.brand_id == brand_id, Customer.anonymised_at.is_(None),  # type: ignore[union-attr]
                Customer.created_at < cutoff, ~unredacted.exists())).all()
            for customer in customers:
                anonymise(session, customer)
            totals["customers"] += len(customers)


def customer_of(session: Session, brand_id: int, customer_id: int) -> Customer:
    """The brand's customer, or not_found (another brand's customer is unknown here)."""
    customer = session.get(Customer, customer_id)
    if customer is None or customer.brand_id != brand_id:
        raise ApiError("not_found", "no such customer")
    return customer


def export(session: Session, brand_id: int, customer_id: int) -> dict[str, Any]:
    """Everything stored about one customer, as the brand would hand it to them."""
    customer = customer_of(session, brand_id, customer_id)
    brand = session.get(Brand, brand_id)
    cases = session.exec(select(Case).where(Case.customer_id == customer_id).order_by(Case.id)).all()  # type: ignore[arg-type]
    out_cases = []
    for case in cases:
        msgs = session.exec(select(Message).where(Message.case_id == case.id).order_by(Message.seq)).all()  # type: ignore[arg-type]
        rating = session.exec(select(Rating).where(Rating.case_id == case.id)).first()
        out_cases.append({
            "id": case.id, "status": case.status, "topic": case.topic, "language": case.language,
            "question": case.question, "created_at": iso(case.created_at), "resolved_at": iso(case.resolved_at),
            "closed_at": iso(case.closed_at), "escalated_at": iso(case.escalated_at),
            "redacted_at": iso(case.redacted_at),
            "messages": [{"seq": m.seq, "sender": m.sender, "text": m.text, "sent_at": iso(m.sent_at)} for m in msgs],
            "rating": None if rating is None else {"csat": rating.csat, "nps": rating.nps, "comment": rating.comment},
        })
    return {"format": "gigcx-customer-export/1", "exported_at": iso(utcnow()),
            "brand": brand.slug if brand else None,
            "customer": {"id": customer.id, "created_at": iso(customer.created_at), "language": customer.language,
                         "anonymised_at": iso(customer.anonymised_at)},
            "cases": out_cases}


def erase(session: Session, outbox: Outbox, brand_id: int, customer_id: int) -> dict[str, Any]:
    """Export, then erase one customer's personal data. Returns the report: what was
    removed, what was kept and why, and the export taken just before."""
    from gigcx.services import dispatch

    data = export(session, brand_id, customer_id)
    customer = customer_of(session, brand_id, customer_id)
    q = select(Case).where(Case.customer_id == customer_id).order_by(Case.id)  # type: ignore[arg-type]
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update()
    cases = session.exec(q).all()
    removed = {"cases_redacted": 0, "messages_redacted": 0, "open_cases_closed": 0, "reusable_answers_deleted": 0}
    now = utcnow()
    for case in cases:
        was_open = case.status in OPEN_STATUSES
        if was_open:
            dispatch.withdraw_open_offers(session, outbox, case)
            case.status, case.closed_at = CaseStatus.closed, now
            removed["open_cases_closed"] += 1
        if case.redacted_at is None or was_open:
            removed["messages_redacted"] += redact_case(session, case)
            removed["cases_redacted"] += 1
        if was_open:
            outbox.case_changed(session, case)
    ids = [c.id for c in cases]
    gone: set[int] = set()
    if ids:
        for row in session.exec(select(ReusableAnswer).where(ReusableAnswer.case_id.in_(ids))).all():  # type: ignore[attr-defined]
            gone.add(row.id)  # type: ignore[arg-type]
            session.delete(row)
            removed["reusable_answers_deleted"] += 1
    if gone:  # open cases showing one of them as a suggestion stop showing it
        for other in session.exec(select(Case).where(Case.brand_id == brand_id, Case.status.in_(OPEN_STATUSES))).all():  # type: ignore[attr-defined]
            kept = [s for s in other.suggestions if not (isinstance(s, dict) and s.get("id") in gone)]
            if len(kept) != len(other.suggestions):
                other.suggestions = kept
                session.add(other)
    already = customer.anonymised_at is not None
    anonymise(session, customer)
    session.flush()
    log.info("customer erased on request", extra={"brand_id": brand_id, "customer_id": customer_id})
    return {"customer_id": customer_id, "erased_at": iso(customer.anonymised_at),
            "already_anonymised": already, "removed": removed, "kept": KEPT, "export": data}
