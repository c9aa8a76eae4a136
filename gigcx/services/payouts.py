"""Payout runs, Stripe Connect onboarding, brand funding and Stripe webhooks, on the SQL ledger.

Crash safety of a run (docs/payouts.md, "Payout run lifecycle"):

1. reserve: the Payout row and `start_payout` (available -> in_transit) commit together, before
   Stripe is called, so the money can never be planned twice;
2. send: `StripeGateway.send_payout` looks the transfer up by transfer_group/metadata first and
   creates it with the idempotency key `gigcx-transfer-{payout id}` only if none exists;
3. settle: `payout_succeeded` (or `payout_failed` on a permanent error) commits; a temporary
   error leaves the payout `in_transit`;
4. recover: every run (and `gigcx payouts retry`) first re-sends the payouts still in transit.
If the process dies between 2 and 3, step 4 finds the transfer and settles it: no second one.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Union

from flask import Flask, current_app
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

import payouts
from gigcx import stripe_gateway as sg
from gigcx.errors import ApiError
from gigcx.models import Brand, Expert, Payout, PayoutBatch, WebhookEvent, utcnow
from gigcx.services import ledger, webhooks

log = logging.getLogger(__name__)

Gateway = Union[sg.StripeGateway, payouts.ManualGateway]
EXTENSION = "gigcx_payments"


# ---- gateway from configuration ----------------------------------------------------------------

def init_app(app: Flask) -> None:
    """Build the payment gateway from Settings: Stripe when STRIPE_API_KEY is set, else manual."""
    settings = app.config["GIGCX"]
    gateway: Gateway
    if settings.stripe_api_key:
        gateway = sg.StripeGateway(settings.stripe_api_key, api_base=settings.stripe_api_base,
                                   webhook_secret=settings.stripe_webhook_secret,
                                   timeout_seconds=settings.stripe_timeout_s,
                                   max_network_retries=settings.stripe_max_network_retries)
    else:
        gateway = payouts.ManualGateway()
    app.extensions[EXTENSION] = gateway


def gateway(app: Flask | None = None) -> Gateway:
    """The current app's payment gateway."""
    return (app or current_app).extensions[EXTENSION]  # type: ignore[no-any-return]


def stripe(app: Flask | None = None) -> sg.StripeGateway:
    """The Stripe gateway, or a `conflict` error in manual mode."""
    gw = gateway(app)
    if not isinstance(gw, sg.StripeGateway):
        raise ApiError("conflict", "Stripe is not configured: payouts are manual")
    return gw


# ---- payout runs -------------------------------------------------------------------------------

@dataclass
class RunResult:
    """What one run did: its batch and every payout it touched (new and recovered)."""

    batch: PayoutBatch
    payouts: list[Payout]
    recovered: list[Payout]


def _after_transfer(payout: Payout, result: sg.TransferResult) -> None:
    """Hook between Stripe's answer and our commit (tests make the process die here)."""


def _planned(p: Payout) -> payouts.PlannedPayout:
    return payouts.PlannedPayout(str(p.id), str(p.expert_id), payouts.Money(p.amount_cents, p.currency))


def _eligible_stripe(session: Session, expert_id: str) -> bool:
    expert = session.get(Expert, int(expert_id))
    return bool(expert and expert.stripe_account_id and expert.payouts_enabled)


def run(session: Session, gw: Gateway, minimum_cents: int) -> RunResult:
    """Pay every expert's available balance at or above the minimum; returns the batch.

    Stripe mode: a transfer per (expert, currency) to experts whose Connect account is ready;
    others keep their balance for a later run. Manual mode: the amounts are marked paid and
    each payout gets a CSV statement marked MANUAL PAYMENT for the operator to pay by hand.
    """
    manual = not isinstance(gw, sg.StripeGateway)
    recovered = [] if manual else retry_in_transit(session, gw)  # type: ignore[arg-type]
    batch = PayoutBatch(mode="manual" if manual else "stripe")
    session.add(batch)
    session.commit()
    available = payouts.available_by_expert(ledger.balances_like(session, "expert:%:available"))
    eligible = None if manual else (lambda e: _eligible_stripe(session, e))
    plans = payouts.plan_payouts(available, minimum_cents, str(batch.id), eligible=eligible)
    made: list[Payout] = []
    for plan in plans:
        payout = _reserve(session, batch, plan)
        if payout is None:
            continue
        made.append(payout)
        if manual:
            _settle_manual(session, payout)
        else:
            send(session, gw, payout)  # type: ignore[arg-type]
    batch.finished_at = utcnow()
    session.add(batch)
    session.commit()
    return RunResult(batch, made, recovered)


def _reserve(session: Session, batch: PayoutBatch, plan: payouts.PlannedPayout) -> Payout | None:
    """Step 1: the payout row and available -> in_transit in one commit."""
    payout = Payout(batch_id=batch.id, expert_id=int(plan.expert_id), amount_cents=plan.amount.cents,  # type: ignore[arg-type]
                    currency=plan.amount.currency, status="in_transit")
    session.add(payout)
    session.flush()
    try:
        ledger.post(session, payouts.start_payout(payout.id, plan.expert_id, plan.amount))
    except payouts.InsufficientFunds:  # a concurrent run took the money first
        session.rollback()
        return None
    session.commit()
    return payout


def _settle_manual(session: Session, payout: Payout) -> None:
    ledger.post(session, payouts.ManualGateway().confirm_paid(_planned(payout), f"manual-batch-{payout.batch_id}"))
    payout.status, payout.updated_at = "paid", utcnow()
    session.add(payout)
    webhooks.payout_event(session, payout)
    session.commit()


def send(session: Session, gw: sg.StripeGateway, payout: Payout) -> str:
    """Steps 2 and 3 for one in-transit payout; returns its new status."""
    expert = session.get(Expert, payout.expert_id)
    destination = expert.stripe_account_id if expert else None
    if not destination:
        return _fail(session, payout, "expert has no connected Stripe account")
    try:
        result = gw.send_payout(str(payout.id), str(payout.expert_id), destination,
                                payout.amount_cents, payout.currency)
    except sg.TemporaryGatewayError as exc:  # outcome unknown: stay in transit, retry later
        payout.error, payout.updated_at = f"temporary: {exc.message}"[:500], utcnow()
        session.add(payout)
        session.commit()
        log.warning("payout %s: temporary gateway error, will retry: %s", payout.id, exc.message)
        return payout.status
    except sg.PermanentGatewayError as exc:
        return _fail(session, payout, exc.message)
    _after_transfer(payout, result)
    ledger.post(session, payouts.payout_succeeded(payout.id, payout.expert_id,
                                                  payouts.Money(payout.amount_cents, payout.currency),
                                                  external_ref=result.transfer_id))
    payout.status, payout.transfer_id, payout.error = "paid", result.transfer_id, None
    payout.updated_at = utcnow()
    session.add(payout)
    webhooks.payout_event(session, payout)
    session.commit()
    return payout.status


def _fail(session: Session, payout: Payout, reason: str) -> str:
    try:
        ledger.post(session, payouts.payout_failed(payout.id, payout.expert_id,
                                                   payouts.Money(payout.amount_cents, payout.currency),
                                                   reason=reason[:200]))
    except payouts.PreconditionFailed:  # settled as paid meanwhile: the ledger keeps the winner
        session.rollback()
        session.refresh(payout)
        return payout.status
    payout.status, payout.error, payout.updated_at = "failed", reason[:500], utcnow()
    session.add(payout)
    webhooks.payout_event(session, payout)
    session.commit()
    log.error("payout %s failed: %s", payout.id, reason)
    return payout.status


def retry_in_transit(session: Session, gw: sg.StripeGateway) -> list[Payout]:
    """Step 4: re-send (reconcile) every payout still in transit; crash recovery."""
    stuck = list(session.exec(select(Payout).where(Payout.status == "in_transit").order_by(Payout.id)))  # type: ignore[arg-type]
    for payout in stuck:
        send(session, gw, payout)
    return stuck


def run_view(result: RunResult) -> dict[str, Any]:
    """The contract's `POST /payouts/run` answer (plus mode and recovered payouts)."""
    def one(p: Payout) -> dict[str, Any]:
        out = {"expert_id": p.expert_id, "amount_cents": p.amount_cents, "status": p.status,
               "payout_id": p.id, "currency": p.currency, "transfer_id": p.transfer_id}
        if result.batch.mode == "manual":
            out["method"] = "manual"
            out["statement_url"] = f"/api/v1/payouts/{p.id}/statement.csv"
        return out

    return {"batch_id": result.batch.id, "mode": result.batch.mode,
            "payouts": [one(p) for p in result.payouts],
            "recovered": [one(p) for p in result.recovered]}


def statement_csv(session: Session, payout: Payout, manual: bool) -> str:
    """The expert's statement up to and including this payout (MANUAL PAYMENT in manual mode)."""
    from sqlalchemy import func

    from gigcx.models import LedgerTransaction

    keys = [payouts.payout_key(payout.id), f"payout-paid:{payout.id}", f"payout-failed:{payout.id}"]
    upto = session.exec(select(func.max(LedgerTransaction.id)).where(
        LedgerTransaction.key.in_(keys))).one()  # type: ignore[attr-defined]
    history = ledger.transactions(session, expert_id=payout.expert_id, upto_id=upto)
    return payouts.render_statement(payout.expert_id, history, payout=_planned(payout), manual=manual,
                                    generated_at=utcnow().isoformat(timespec="seconds"))


# ---- Connect onboarding ------------------------------------------------------------------------

def payout_account(session: Session, gw: sg.StripeGateway, expert_id: int, refresh_url: str,
                   return_url: str) -> dict[str, Any]:
    """Create the expert's Express account once (idempotent) and a fresh onboarding link."""
    expert = session.get(Expert, expert_id)
    if expert is None:
        raise ApiError("not_found", "no such expert")
    if not expert.stripe_account_id:
        acct = gw.create_expert_account(str(expert.id), email=expert.email)
        expert.stripe_account_id = acct.account_id
        session.add(expert)
        session.commit()
    link = gw.create_account_link(expert.stripe_account_id, refresh_url, return_url)  # type: ignore[arg-type]
    return {"account_id": expert.stripe_account_id, "url": link.url, "expires_at": link.expires_at,
            "payouts_enabled": expert.payouts_enabled}


def refresh_account(session: Session, gw: sg.StripeGateway, expert: Expert) -> None:
    """Ask Stripe for the account's live state (authoritative, order-independent)."""
    if not expert.stripe_account_id:
        return
    acct = gw.retrieve_account(expert.stripe_account_id)
    expert.payouts_enabled = acct.ready_for_payouts
    session.add(expert)
    session.commit()


# ---- brand funding -----------------------------------------------------------------------------

def fund(session: Session, gw: Gateway, brand: Brand, amount_cents: int, reference: str,
         payment_method: str | None = None) -> dict[str, Any]:
    """Top up the brand's budget: a PaymentIntent with Stripe, a recorded top-up otherwise."""
    money = payouts.Money(amount_cents, brand.currency)
    if isinstance(gw, sg.StripeGateway):
        try:
            pi = gw.fund_brand_budget(str(brand.id), amount_cents, brand.currency,
                                      idempotency_key=f"gigcx-fund-{brand.id}-{reference}",
                                      payment_method=payment_method, confirm=payment_method is not None)
        except sg.IdempotencyConflict:  # Stripe keeps the key's first parameters (and outcome)
            raise ApiError("conflict", f"reference {reference!r} was already used for a top-up with other "
                           "details (amount or payment method); use a new reference", status=409) from None
        except sg.TemporaryGatewayError as exc:  # outcome unknown: the same reference is safe to retry
            raise ApiError("unavailable", f"the payment provider did not answer ({exc.message}); nothing was "
                           f"posted here: retry with the same reference {reference!r}", status=503) from None
        if payment_method is not None and pi.status == "requires_payment_method" and pi.failure_message:
            raise ApiError("payment_failed", pi.failure_message, status=402)  # as a 402 card_error answers
        posted = False
        if pi.succeeded:
            posted = ledger.post(session, payouts.fund_brand(brand.id, money, pi.payment_intent_id))
            session.commit()
        return {"status": pi.status, "payment_intent_id": pi.payment_intent_id,
                "client_secret": pi.client_secret, "amount_cents": amount_cents,
                "currency": brand.currency, "posted": posted}
    try:
        ledger.post(session, payouts.fund_brand(brand.id, money, f"manual-{brand.id}-{reference}",
                                                memo=f"recorded top-up {reference}"))
    except payouts.IdempotencyConflict:
        raise ApiError("conflict", f"reference {reference!r} was already used for a different top-up",
                       status=409) from None
    session.commit()
    return {"status": "recorded", "payment_intent_id": None, "client_secret": None,
            "amount_cents": amount_cents, "currency": brand.currency, "posted": True}


# ---- webhooks ----------------------------------------------------------------------------------

class RetryLater(Exception):
    """The event cannot be applied yet (it overtook our own commit); answer 5xx so Stripe retries."""


def handle_webhook(session: Session, event: sg.WebhookEvent, raw: dict[str, Any]) -> str:
    """Apply one verified event exactly once; returns `applied`, `duplicate` or `ignored`."""
    if session.get(WebhookEvent, event.event_id) is not None:
        return "duplicate"
    outcome = _apply(session, event, raw)
    session.add(WebhookEvent(id=event.event_id, type=str(raw.get("type") or type(event).__name__)[:100],
                             created=event.created))
    try:
        session.commit()
    except IntegrityError:  # the same event raced in on another worker: it won
        session.rollback()
        return "duplicate"
    return outcome


def _apply(session: Session, event: sg.WebhookEvent, raw: dict[str, Any]) -> str:
    if isinstance(event, sg.AccountUpdated):
        return _account_updated(session, event)
    if isinstance(event, sg.TransferReversed):
        return _transfer_reversed(session, event, raw)
    if isinstance(event, sg.PaymentSucceeded):
        brand_ref = event.brand_id or ""
        brand = session.get(Brand, int(brand_ref)) if brand_ref.isdigit() else None
        if brand is None or event.amount_cents <= 0:
            return "ignored"
        ledger.post(session, payouts.fund_brand(brand.id, payouts.Money(event.amount_cents, event.currency),
                                                event.payment_intent_id))
        return "applied"
    if isinstance(event, sg.PayoutUpdate):
        level = logging.WARNING if event.type == "payout.failed" else logging.INFO
        log.log(level, "connected account %s: %s %s %s (%s)", event.account_id, event.type,
                event.amount_cents, event.currency, event.failure_message or event.status)
        return "applied"
    return "ignored"


def _account_updated(session: Session, event: sg.AccountUpdated) -> str:
    acct = event.account
    expert = session.exec(select(Expert).where(Expert.stripe_account_id == acct.account_id)).first()
    if expert is None and (acct.expert_id or "").isdigit():
        candidate = session.get(Expert, int(acct.expert_id))  # type: ignore[arg-type]
        if candidate is not None and candidate.stripe_account_id in (None, acct.account_id):
            expert = candidate
    if expert is None:
        return "ignored"
    if not sg.is_newer(event.created, event.event_id, expert.account_updated_at, expert.account_event_id):
        return "ignored"  # an older snapshot arriving late
    expert.stripe_account_id = acct.account_id
    expert.payouts_enabled = acct.ready_for_payouts
    expert.account_updated_at, expert.account_event_id = event.created, event.event_id
    session.add(expert)
    return "applied"


def _transfer_reversed(session: Session, event: sg.TransferReversed, raw: dict[str, Any]) -> str:
    payout = None
    if (event.payout_id or "").isdigit():
        payout = session.get(Payout, int(event.payout_id or 0))
    if payout is None:
        payout = session.exec(select(Payout).where(Payout.transfer_id == event.transfer_id)).first()
    if payout is None:
        return "ignored"
    if ledger.get(session, f"payout-paid:{payout.id}") is None:
        raise RetryLater(f"payout {payout.id} is not settled yet")
    reversals = (((raw.get("data") or {}).get("object") or {}).get("reversals") or {}).get("data") or []
    amounts = {str(r.get("id")): int(r.get("amount") or 0) for r in reversals if isinstance(r, dict)}
    posted = 0
    for rid in event.reversal_ids:
        cents = amounts.get(rid, 0)
        if cents <= 0:
            continue
        if ledger.post(session, payouts.payout_reversed(payout.id, payout.expert_id,
                                                        payouts.Money(cents, event.currency), rid)):
            posted += cents
    if event.amount_reversed_cents >= payout.amount_cents:
        payout.status = "reversed"
    payout.error = f"reversed {event.amount_reversed_cents} of {payout.amount_cents}"
    payout.updated_at = utcnow()
    session.add(payout)
    return "applied"
