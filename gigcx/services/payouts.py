"""Payout runs on the SQL ledger, through one `payouts.PayoutGateway` (Stripe Connect or manual).

A payout moves through these states (the diagram is in docs/payouts.md):

1. reserve: the Payout row (with its random `uid`) and `start_payout` (available -> in_transit)
   commit together, before the gateway is called, so the money can never be planned twice;
2. send: the gateway looks the payout's transfer up and creates it only if none exists, and
   answers a `payouts.Outcome`;
3. settle from the outcome alone: `Sent` -> paid; `AwaitingManual` -> awaiting_manual_payment;
   `Refused` (a definite refusal *and* a look-up proving nothing exists) -> failed, the money
   available again; `Waiting` (balance_insufficient) -> in_transit until the next run;
   `Unknown` -> needs_attention, the money stays in transit and every later run retries it;
4. recover: every run (and `gigcx payouts retry`) first re-sends the payouts still open.
An unknown outcome is never settled as failed: only the operator does that, with evidence
(`settle`, below), or a later look-up that finds the transfer settles it as paid.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from flask import Flask, current_app
from sqlalchemy import func
from sqlmodel import Session, select

import payouts
from gigcx import stripe_gateway as sg
from gigcx.errors import ApiError
from gigcx.models import Expert, LedgerTransaction, Payout, PayoutBatch, PayoutStatus, utcnow
from gigcx.models.base import iso
from gigcx.services import ledger, webhooks
from gigcx.uow import UnitOfWork

log = logging.getLogger(__name__)

EXTENSION = "gigcx_payments"
IN_TRANSIT, ATTENTION, MANUAL = PayoutStatus.in_transit, PayoutStatus.needs_attention, PayoutStatus.awaiting_manual_payment
PAID, FAILED = PayoutStatus.paid, PayoutStatus.failed
OPEN = (IN_TRANSIT, ATTENTION)  # money in transit that later runs retry


# ---- gateway from configuration ----------------------------------------------------------------

def init_app(app: Flask) -> None:
    """Build the payment gateway from Settings: Stripe when STRIPE_API_KEY is set, else manual."""
    settings = app.config["GIGCX"]
    gateway: payouts.PayoutGateway
    if settings.stripe_api_key:
        gateway = sg.StripeGateway(settings.stripe_api_key, api_base=settings.stripe_api_base,
                                   webhook_secrets=settings.webhook_secrets(),
                                   timeout_seconds=settings.stripe_timeout_s,
                                   max_network_retries=settings.stripe_max_network_retries)
    else:
        gateway = payouts.ManualGateway()
    app.extensions[EXTENSION] = gateway


def gateway(app: Flask | None = None) -> payouts.PayoutGateway:
    """The current app's payment gateway."""
    return cast(payouts.PayoutGateway, (app or current_app).extensions[EXTENSION])


def stripe(app: Flask | None = None) -> sg.StripeGateway:
    """The Stripe gateway, or a `conflict` error in manual mode."""
    gw = gateway(app)
    if gw.mode != "stripe":
        raise ApiError("conflict", "Stripe is not configured: payouts are manual")
    return cast(sg.StripeGateway, gw)


# ---- payout runs -------------------------------------------------------------------------------

@dataclass
class RunResult:
    """What one run did: its batch and every payout it touched (new and recovered)."""

    batch: PayoutBatch
    payouts: list[Payout]
    recovered: list[Payout]


def _after_send(payout: Payout, outcome: payouts.Outcome) -> None:
    """Hook between the gateway's answer and our commit (tests make the process die here)."""


def _money(p: Payout) -> payouts.Money:
    return payouts.Money(p.amount_cents, p.currency)


def _planned(p: Payout) -> payouts.PlannedPayout:
    return payouts.PlannedPayout(str(p.id), str(p.expert_id), _money(p))


def order_for(session: Session, payout: Payout) -> payouts.PayoutOrder:
    """What the gateway needs to send one reserved payout."""
    expert = session.get(Expert, payout.expert_id)
    return payouts.PayoutOrder(payout_id=str(payout.id), uid=payout.uid, attempt=payout.attempt,
                               expert_id=str(payout.expert_id), amount=_money(payout),
                               destination=expert.stripe_account_id if expert else None,
                               payee_name=expert.display_name if expert else "",
                               payee_email=expert.email if expert else "")


def _payable(session: Session, gw: payouts.PayoutGateway, expert_id: str) -> bool:
    expert = session.get(Expert, int(expert_id))
    if expert is None:
        return False
    check = gw.check_payee(expert.stripe_account_id)
    if not check.ready:
        log.info("expert %s is not paid this run: %s", expert_id, check.reason)
    return check.ready


Minimum = int | dict[str, int] | Callable[[str], int]


def run(uow: UnitOfWork, gw: payouts.PayoutGateway, minimum_cents: Minimum) -> RunResult:
    """Retry open payouts, then pay every expert's available balance at or above the minimum.

    `minimum_cents` is one amount for every currency, a {currency: amount} map, or a function
    of the currency. Stripe mode checks each expert's account live first; experts who cannot
    be paid keep their balance. Manual mode leaves the money awaiting manual payment.

    Several units of work in sequence on `uow`'s session, so that no transaction is open while
    the money moves: the batch row; per payout its reservation (committed before the gateway is
    called), then the gateway's outcome; and the batch's end.
    """
    with uow:
        session = uow.session
        recovered = retry_open(uow, gw)
        with uow:
            batch = PayoutBatch(mode=gw.mode)
            session.add(batch)
        available = payouts.available_by_expert(ledger.balances_like(session, payouts.accounts_like("expert", bucket="available")))
        if callable(minimum_cents):
            currencies = {m.currency for ms in available.values() for m in ms}
            minimum: int | dict[str, int] = {c: minimum_cents(c) for c in currencies}
        else:
            minimum = minimum_cents
        plans = payouts.plan_payouts(available, minimum, str(batch.id),
                                     eligible=lambda e: _payable(session, gw, e))
        made: list[Payout] = []
        for plan in plans:
            try:
                with uow:
                    payout = _reserve(session, batch, plan)
            except payouts.InsufficientFunds:  # a concurrent run took the money first
                continue
            made.append(payout)
            send(uow, gw, payout)
        with uow:
            batch.finished_at = utcnow()
            session.add(batch)
    return RunResult(batch, made, recovered)


def _reserve(session: Session, batch: PayoutBatch, plan: payouts.PlannedPayout) -> Payout:
    """Step 1: the payout row (its uid made now) and available -> in_transit, in the caller's unit
    of work (committed before the gateway is called). Raises InsufficientFunds."""
    payout = Payout(batch_id=batch.id, expert_id=int(plan.expert_id), amount_cents=plan.amount.cents,  # type: ignore[arg-type]
                    currency=plan.amount.currency, status=IN_TRANSIT)
    session.add(payout)
    session.flush()
    ledger.post(session, payouts.start_payout(payout.id, plan.expert_id, plan.amount))
    return payout


def send(uow: UnitOfWork, gw: payouts.PayoutGateway, payout: Payout) -> str:
    """Steps 2 and 3 for one reserved payout: call the gateway, then record its answer in a unit
    of work of its own; returns the new status."""
    outcome = gw.send_payout(order_for(uow.session, payout))
    _after_send(payout, outcome)
    with uow:
        return settle_outcome(uow.session, payout, outcome)


def settle_outcome(session: Session, payout: Payout, outcome: payouts.Outcome) -> str:
    """Apply the gateway's answer to the ledger and the row (in the caller's unit of work)."""
    session.refresh(payout)
    if payout.status not in (*OPEN, MANUAL):  # settled meanwhile (another run, the operator)
        return payout.status
    if isinstance(outcome, payouts.Sent):
        return _paid(session, payout, outcome.reference)
    if isinstance(outcome, payouts.Refused):
        return _fail(session, payout, outcome.reason)
    if isinstance(outcome, payouts.AwaitingManual):
        payout.status, payout.attention = MANUAL, None
    elif isinstance(outcome, payouts.Waiting):  # not sent; the next run tries again, not this one
        payout.status, payout.error, payout.attention = IN_TRANSIT, outcome.reason[:500], None
        payout.attempt += 1 if outcome.rekey else 0
        log.warning("payout %s waits for the next run: %s", payout.id, outcome.reason)
    else:  # Unknown: the money may have left; keep it in transit and ask the operator
        payout.status, payout.attention = ATTENTION, outcome.reason[:500]
        payout.attempt += 1 if outcome.rekey else 0
        log.error("payout %s needs attention: %s", payout.id, outcome.reason)
    payout.updated_at = utcnow()
    session.add(payout)
    webhooks.payout_event(session, payout)
    return payout.status


def _paid(session: Session, payout: Payout, reference: str) -> str:
    try:
        with session.begin_nested():
            ledger.post(session, payouts.payout_succeeded(payout.id, payout.expert_id, _money(payout),
                                                          external_ref=reference))
    except payouts.PreconditionFailed as exc:  # failed earlier, yet a transfer exists: say so loudly
        payout.attention = f"transfer {reference} exists but the payout was settled as failed ({exc})"[:500]
        session.add(payout)
        session.flush()
        log.critical("payout %s: %s", payout.id, payout.attention)
        return payout.status
    payout.status, payout.transfer_id, payout.error, payout.attention = PAID, reference, None, None
    payout.updated_at = utcnow()
    session.add(payout)
    webhooks.payout_event(session, payout)
    return payout.status


def _fail(session: Session, payout: Payout, reason: str) -> str:
    try:
        with session.begin_nested():
            ledger.post(session, payouts.payout_failed(payout.id, payout.expert_id, _money(payout),
                                                       reason=reason[:200]))
    except payouts.PreconditionFailed:  # settled as paid meanwhile: the ledger keeps the winner
        session.refresh(payout)
        return payout.status
    payout.status, payout.error, payout.attention = FAILED, reason[:500], None
    payout.updated_at = utcnow()
    session.add(payout)
    webhooks.payout_event(session, payout)
    session.flush()
    log.error("payout %s failed: %s", payout.id, reason)
    return payout.status


def retry_open(uow: UnitOfWork, gw: payouts.PayoutGateway) -> list[Payout]:
    """Step 4: re-send every payout still in transit or needing attention; crash recovery. Each
    outcome is recorded in a unit of work of its own (`send`)."""
    with uow:
        stuck = list(uow.session.exec(select(Payout).where(Payout.status.in_(OPEN))  # type: ignore[attr-defined]
                                      .order_by(Payout.id)))  # type: ignore[arg-type]
        for payout in stuck:
            send(uow, gw, payout)
    return stuck


# ---- the operator's decisions ------------------------------------------------------------------

def get_payout(session: Session, payout_id: int) -> Payout:
    """One payout, or `not_found`."""
    payout = session.get(Payout, payout_id)
    if payout is None:
        raise ApiError("not_found", f"no payout {payout_id}")
    return payout


def settle(session: Session, gw: payouts.PayoutGateway, payout_id: int, *,
           transfer_id: str | None = None, not_sent: bool = False) -> Payout:
    """The operator settles an open payout with evidence: the transfer that paid it, or none.

    With Stripe the evidence is checked: the transfer must exist for the payout's amount,
    currency and destination; `not_sent` is refused while a look-up finds a transfer (or
    cannot be made). In the caller's unit of work.
    """
    if (transfer_id is None) == (not not_sent):
        raise ApiError("invalid", "give exactly one of a transfer id or not-sent")
    payout = get_payout(session, payout_id)
    if payout.status not in OPEN:
        raise ApiError("conflict", f"payout {payout_id} is {payout.status}, not open")
    order = order_for(session, payout)
    problem = gw.verify_settlement(order, transfer_id)
    if problem:
        raise ApiError("conflict", problem)
    if transfer_id is not None:
        _paid(session, payout, transfer_id)
    else:
        _fail(session, payout, "operator: no transfer was sent")
    session.refresh(payout)
    return payout


def mark_batch_paid(session: Session, batch_id: int, reference: str | None = None) -> list[Payout]:
    """Manual mode: the operator paid every payout of the batch by hand. Idempotent."""
    batch = session.get(PayoutBatch, batch_id)
    if batch is None:
        raise ApiError("not_found", f"no payout batch {batch_id}")
    rows = list(session.exec(select(Payout).where(Payout.batch_id == batch_id).order_by(Payout.id)))  # type: ignore[arg-type]
    ref = reference or f"manual-batch-{batch_id}"
    for payout in rows:
        if payout.status == MANUAL:
            _paid(session, payout, ref)
    if batch.paid_at is None and any(p.status == MANUAL or p.status == PAID for p in rows):
        batch.paid_at, batch.paid_reference = utcnow(), ref
        session.add(batch)
        session.flush()
    return rows


def list_payouts(session: Session, *, attention: bool = False, status: str | None = None,
                 expert_id: int | None = None, limit: int = 500) -> list[Payout]:
    """Payouts newest first; `attention` keeps those whose outcome the operator must settle."""
    q = select(Payout).order_by(Payout.id.desc())  # type: ignore[union-attr]
    if attention:
        q = q.where(Payout.status == ATTENTION)
    if status:
        q = q.where(Payout.status == status)
    if expert_id is not None:
        q = q.where(Payout.expert_id == expert_id)
    return list(session.exec(q.limit(limit)))


# ---- views and statements ----------------------------------------------------------------------

def payout_view(p: Payout) -> dict[str, Any]:
    """A payout row as the API shows it."""
    return {"id": p.id, "payout_id": p.id, "uid": p.uid, "batch_id": p.batch_id,
            "expert_id": p.expert_id, "amount_cents": p.amount_cents, "currency": p.currency,
            "amount": payouts.format_minor(p.amount_cents, p.currency), "status": p.status,
            "transfer_id": p.transfer_id, "error": p.error, "attention": p.attention,
            "attempt": p.attempt, "created_at": iso(p.created_at), "updated_at": iso(p.updated_at),
            "statement_url": f"/api/v1/payouts/{p.id}/statement.csv"}


def run_view(result: RunResult) -> dict[str, Any]:
    """The contract's `POST /payouts/run` answer (plus mode and recovered payouts)."""
    def one(p: Payout) -> dict[str, Any]:
        out = {"expert_id": p.expert_id, "amount_cents": p.amount_cents, "status": p.status,
               "payout_id": p.id, "uid": p.uid, "currency": p.currency, "transfer_id": p.transfer_id,
               "attention": p.attention, "statement_url": f"/api/v1/payouts/{p.id}/statement.csv"}
        if result.batch.mode == "manual":
            out["method"] = "manual"
        return out

    return {"batch_id": result.batch.id, "mode": result.batch.mode,
            "payouts": [one(p) for p in result.payouts],
            "recovered": [one(p) for p in result.recovered]}


def statement_csv(session: Session, payout: Payout, manual: bool) -> str:
    """The expert's statement up to and including this payout, naming the payee."""
    keys = [payouts.payout_key(payout.id), payouts.payout_paid_key(payout.id), payouts.payout_failed_key(payout.id)]
    upto = session.exec(select(func.max(LedgerTransaction.id)).where(
        LedgerTransaction.key.in_(keys))).one()  # type: ignore[attr-defined]
    history = ledger.transactions(session, expert_id=payout.expert_id, upto_id=upto)
    expert = session.get(Expert, payout.expert_id)
    return payouts.render_statement(payout.expert_id, history, payout=_planned(payout), manual=manual,
                                    generated_at=utcnow().isoformat(timespec="seconds"),
                                    payee_name=expert.display_name if expert else "",
                                    payee_email=expert.email if expert else "")


def write_statements(session: Session, result: RunResult, directory: str | Path) -> list[Path]:
    """Write every payout's statement of the run to `directory/batch-{id}/`; returns the files."""
    out = Path(directory) / f"batch-{result.batch.id}"
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for p in result.payouts:
        path = out / f"payout-{p.id}-expert-{p.expert_id}.csv"
        path.write_text(statement_csv(session, p, manual=result.batch.mode == "manual"))
        written.append(path)
    return written
