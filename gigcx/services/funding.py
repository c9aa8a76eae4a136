"""Brand top-ups: one `Funding` row per (brand, reference), so a retry never charges twice.

With Stripe the row is committed before the PaymentIntent is created (idempotency key from the
row's brand slug and reference); once the intent's id is stored, every retry — even days later,
when Stripe has forgotten the key — retrieves that intent instead of creating another. The budget
is credited with `amount_received`. Refunds and disputes of a top-up debit the budget (a won
dispute restores it). Without Stripe only the operator records funding.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

import payouts
from gigcx import stripe_gateway as sg
from gigcx.errors import ApiError
from gigcx.models import Brand, Funding, utcnow
from gigcx.services import ledger
from gigcx.uow import UnitOfWork

KEY_MEMORY = timedelta(hours=23)  # Stripe keeps idempotency keys for 24 hours


def _row(session: Session, brand: Brand, reference: str) -> Funding | None:
    q = select(Funding).where(Funding.brand_id == brand.id, Funding.reference == reference)
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update()
    return session.exec(q).first()


def _claim(session: Session, brand: Brand, amount_cents: int, reference: str,
           payment_method: str | None) -> Funding:
    """The funding row of this reference, created now if new; a different top-up is a conflict."""
    row = _row(session, brand, reference)
    if row is None:
        row = Funding(brand_id=brand.id, reference=reference, amount_cents=amount_cents,  # type: ignore[arg-type]
                      currency=brand.currency, payment_method=payment_method)
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:  # the same reference raced in: use that one
            row = _row(session, brand, reference)
            assert row is not None
    if (row.amount_cents, row.payment_method, row.currency) != (amount_cents, payment_method, brand.currency):
        raise ApiError("conflict", f"reference {reference!r} was already used for a top-up with other "
                       "details (amount, currency or payment method); use a new reference", status=409)
    return row


def fund(uow: UnitOfWork, gw: payouts.PayoutGateway, brand: Brand, amount_cents: int, reference: str,
         payment_method: str | None = None, *, customer: str | None = None, off_session: bool = False,
         return_url: str | None = None) -> dict[str, Any]:
    """A brand's top-up through Stripe (a PaymentIntent, created once per reference).

    Three units of work in sequence on `uow`: the funding row commits before Stripe is called
    (its id keys the PaymentIntent), Stripe's answer commits before a refusal is reported, and
    the money received is posted last."""
    if gw.mode != "stripe":
        raise ApiError("conflict", "Stripe is not configured: the operator records top-ups "
                       "(POST /api/v1/brands/{slug}/funding)", status=409)
    stripe_gw: sg.StripeGateway = gw  # type: ignore[assignment]
    session = uow.session
    with uow:
        row = _claim(session, brand, amount_cents, reference, payment_method)
    try:
        if row.payment_intent_id:
            pi = stripe_gw.retrieve_payment_intent(row.payment_intent_id)
        else:
            if row.created_at.replace(tzinfo=None) < (utcnow() - KEY_MEMORY).replace(tzinfo=None):
                raise ApiError("conflict", f"the top-up {reference!r} started over a day ago and its outcome "
                               "is unknown; ask the operator to check Stripe", status=409)
            pi = stripe_gw.fund_brand_budget(str(brand.id), amount_cents, brand.currency,
                                             idempotency_key=f"gigcx-fund-{brand.slug}-{reference}-{row.id}",
                                             payment_method=payment_method, customer=customer,
                                             confirm=payment_method is not None, off_session=off_session,
                                             return_url=return_url)
    except sg.IdempotencyConflict:
        raise ApiError("conflict", f"reference {reference!r} was already used for a top-up with other "
                       "details; use a new reference", status=409) from None
    except sg.TemporaryGatewayError as exc:  # outcome unknown: the same reference is safe to retry
        raise ApiError("unavailable", f"the payment provider did not answer ({exc.message}); nothing was "
                       f"posted here: retry with the same reference {reference!r}", status=503) from None
    with uow:
        row.payment_intent_id, row.status, row.updated_at = pi.payment_intent_id, pi.status, utcnow()
        session.add(row)
    if payment_method is not None and pi.status == "requires_payment_method" and pi.failure_message:
        raise ApiError("payment_failed", pi.failure_message, status=402)  # as a 402 card_error answers
    posted = False
    if pi.succeeded and pi.amount_received > 0:
        with uow:
            posted = ledger.post(session, payouts.fund_brand(
                brand.id, payouts.Money(pi.amount_received, pi.currency), pi.payment_intent_id))
    return {"status": pi.status, "payment_intent_id": pi.payment_intent_id,
            "client_secret": pi.client_secret, "amount_cents": amount_cents,
            "amount_received_cents": pi.amount_received, "currency": brand.currency, "posted": posted,
            "reference": reference}


def record(session: Session, brand: Brand, amount_cents: int, reference: str) -> dict[str, Any]:
    """The operator records a top-up paid outside GigCX (invoice, bank transfer). Idempotent."""
    row = _claim(session, brand, amount_cents, reference, None)
    posted = ledger.post(session, payouts.fund_brand(brand.id, payouts.Money(amount_cents, brand.currency),
                                                     f"manual-{brand.id}-{reference}",
                                                     memo=f"recorded top-up {reference}"))
    row.status, row.updated_at = "recorded", utcnow()
    session.add(row)
    session.flush()
    return {"status": "recorded", "payment_intent_id": None, "client_secret": None,
            "amount_cents": amount_cents, "currency": brand.currency, "posted": posted,
            "reference": reference}


# ---- webhooks about top-ups ----------------------------------------------------------------------

def _brand_of(session: Session, payment_intent_id: str | None, brand_ref: str | None = None) -> Brand | None:
    if payment_intent_id:
        row = session.exec(select(Funding).where(Funding.payment_intent_id == payment_intent_id)).first()
        if row is not None:
            return session.get(Brand, row.brand_id)
    if brand_ref and brand_ref.isdigit():
        return session.get(Brand, int(brand_ref))
    return None


def payment_succeeded(session: Session, event: sg.PaymentSucceeded) -> str:
    """payment_intent.succeeded: credit `amount_received` under `fund:{pi}` (once, whoever posts first)."""
    brand = _brand_of(session, event.payment_intent_id, event.brand_id)
    if brand is None or event.amount_cents <= 0:
        return "ignored"
    ledger.post(session, payouts.fund_brand(brand.id, payouts.Money(event.amount_cents, event.currency),
                                            event.payment_intent_id))
    row = session.exec(select(Funding).where(Funding.payment_intent_id == event.payment_intent_id)).first()
    if row is not None:
        row.status, row.updated_at = "succeeded", utcnow()
        session.add(row)
    return "applied"


def charge_refunded(session: Session, event: sg.ChargeRefunded) -> str:
    """charge.refunded: each refund of a top-up debits the brand's budget once."""
    brand = _brand_of(session, event.payment_intent_id, event.brand_id)
    if brand is None:
        return "ignored"
    for refund_id, cents in event.refunds:
        if cents > 0 and refund_id:
            ledger.post(session, payouts.fund_returned(brand.id, payouts.Money(cents, event.currency), refund_id,
                                                       memo=f"refund {refund_id} of {event.charge_id}"))
    return "applied"


def dispute_update(session: Session, event: sg.DisputeUpdate) -> str:
    """A dispute takes the money from the budget when opened; winning it gives it back."""
    brand = _brand_of(session, event.payment_intent_id)
    if brand is None or event.amount_cents <= 0:
        return "ignored"
    money = payouts.Money(event.amount_cents, event.currency)
    ledger.post(session, payouts.fund_returned(brand.id, money, event.dispute_id,
                                               memo=f"dispute {event.dispute_id} opened"))
    if event.type == "charge.dispute.closed" and event.status == "won":
        ledger.post(session, payouts.fund_restored(brand.id, money, event.dispute_id,
                                                   memo=f"dispute {event.dispute_id} won"))
    return "applied"
