"""Stripe Connect in the app: expert onboarding, the webhook handler, reversals and their decisions.

Webhooks come from two Stripe endpoints (platform and Connect) signed with two secrets; the
gateway accepts either. Here every verified event is checked before it is applied:

* `livemode` must match the API key's mode, or the event is dropped (`ignored`, not stored);
* a Connect event carries `account`: it must be a connected account of one of our experts
  (and, for `account.updated`, the account the event is about); platform-only events
  (top-ups, transfer reversals) arriving from a connected account are ignored;
* each event applies once (`webhookevent` row in the same commit as its effect).
"""
from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

import payouts
from gigcx import stripe_gateway as sg
from gigcx.errors import ApiError
from gigcx.models import Expert, Payout, PayoutReversal, PayoutStatus, WebhookEvent, utcnow
from gigcx.models.base import iso
from gigcx.services import funding, ledger
from gigcx.uow import UnitOfWork

log = logging.getLogger(__name__)


class RetryLater(Exception):
    """The event cannot be applied yet (it overtook our own commit); answer 5xx so Stripe retries."""


# ---- onboarding ----------------------------------------------------------------------------------

def payout_account(uow: UnitOfWork, gw: sg.StripeGateway, expert_id: int, refresh_url: str,
                   return_url: str) -> dict[str, Any]:
    """Create the expert's Express account once (idempotent) and a fresh onboarding link.

    The new account's id commits (a unit of work of its own) before the link is asked for, so a
    failing link never loses the account."""
    with uow:
        expert = uow.session.get(Expert, expert_id)
        if expert is None:
            raise ApiError("not_found", "no such expert")
        if not expert.stripe_account_id:
            acct = gw.create_expert_account(str(expert.id), email=expert.email)
            expert.stripe_account_id = acct.account_id
            uow.session.add(expert)
    link = gw.create_account_link(expert.stripe_account_id, refresh_url, return_url)  # type: ignore[arg-type]
    return {"account_id": expert.stripe_account_id, "url": link.url, "expires_at": link.expires_at,
            "payouts_enabled": expert.payouts_enabled}


def refresh_account(session: Session, gw: sg.StripeGateway, expert: Expert) -> bool:
    """Ask Stripe for the account's live state (the onboarding return); False if it did not answer."""
    if not expert.stripe_account_id:
        return True
    try:
        acct = gw.retrieve_account(expert.stripe_account_id)
    except sg.GatewayError as exc:
        log.warning("expert %s: account look-up failed: %s", expert.id, exc.describe())
        return False
    if expert.payouts_enabled != acct.ready_for_payouts:
        expert.payouts_enabled = acct.ready_for_payouts
        session.add(expert)
        session.flush()
    return True


# ---- webhooks ------------------------------------------------------------------------------------

def handle_webhook(session: Session, gw: sg.StripeGateway, event: sg.WebhookEvent,
                   raw: dict[str, Any]) -> str:
    """Apply one verified event exactly once; returns `applied`, `duplicate` or `ignored`.

    The event is applied and recorded in a savepoint: when the same event raced in on another
    worker (its id is taken), all of this one's work is undone."""
    if event.livemode != gw.livemode:
        log.warning("event %s dropped: livemode=%s but the key is %s", event.event_id, event.livemode,
                    "live" if gw.livemode else "test")
        return "ignored"
    if session.get(WebhookEvent, event.event_id) is not None:
        return "duplicate"
    try:
        with session.begin_nested():
            outcome = _apply(session, gw, event) if _account_ok(session, event) else "ignored"
            session.add(WebhookEvent(id=event.event_id, type=str(raw.get("type") or type(event).__name__)[:100],
                                     created=event.created))
    except IntegrityError:  # the same event raced in on another worker: it won
        return "duplicate"
    return outcome


def _known_account(session: Session, account_id: str) -> bool:
    return session.exec(select(Expert.id).where(Expert.stripe_account_id == account_id)).first() is not None


def _account_ok(session: Session, event: sg.WebhookEvent) -> bool:
    """The `account` of a Connect event must be one of ours, and the one the event is about."""
    acct = event.connect_account
    if acct is None:
        return not isinstance(event, sg.PayoutUpdate)  # a bank payout only exists on a connected account
    if isinstance(event, sg.AccountUpdated):
        return acct == event.account.account_id
    if isinstance(event, sg.PayoutUpdate | sg.UnhandledEvent):
        return _known_account(session, acct)
    log.warning("event %s of connected account %s ignored: a platform event", event.event_id, acct)
    return False


def _apply(session: Session, gw: sg.StripeGateway, event: sg.WebhookEvent) -> str:
    if isinstance(event, sg.AccountUpdated):
        return _account_updated(session, event)
    if isinstance(event, sg.TransferReversed):
        return transfer_reversed(session, gw, event)
    if isinstance(event, sg.PaymentSucceeded):
        return funding.payment_succeeded(session, event)
    if isinstance(event, sg.ChargeRefunded):
        return funding.charge_refunded(session, event)
    if isinstance(event, sg.DisputeUpdate):
        return funding.dispute_update(session, event)
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


# ---- reversals -----------------------------------------------------------------------------------

def transfer_reversed(session: Session, gw: sg.StripeGateway, event: sg.TransferReversed) -> str:
    """Move every reversal not yet posted from paid to held, paging past those the event embeds."""
    payout = None
    if event.payout_uid:
        payout = session.exec(select(Payout).where(Payout.uid == event.payout_uid)).first()
    if payout is None:
        payout = session.exec(select(Payout).where(Payout.transfer_id == event.transfer_id)).first()
    if payout is None:
        return "ignored"
    if ledger.get(session, payouts.payout_paid_key(payout.id)) is None:
        raise RetryLater(f"payout {payout.id} is not settled yet")
    reversals = list(event.reversals)
    if event.reversals_has_more or sum(a for _, a in reversals) < event.amount_reversed_cents:
        try:
            reversals = gw.list_reversals(event.transfer_id)
        except sg.GatewayError as exc:
            raise RetryLater(f"reversals of {event.transfer_id} could not be listed: {exc.describe()}") from None
    for rid, cents in reversals:
        if cents <= 0 or not rid:
            continue
        posted = ledger.post(session, payouts.payout_reversed(
            payout.id, payout.expert_id, payouts.Money(cents, payout.currency), rid))
        if posted and session.get(PayoutReversal, rid) is None:
            session.add(PayoutReversal(id=rid, payout_id=payout.id, expert_id=payout.expert_id,  # type: ignore[arg-type]
                                       amount_cents=cents, currency=payout.currency))
    total = sum(a for _, a in reversals)
    if total >= payout.amount_cents:
        payout.status = PayoutStatus.reversed
    payout.error = f"reversed {total} of {payout.amount_cents}; held for the operator's decision"
    payout.updated_at = utcnow()
    session.add(payout)
    return "applied"


def list_reversals(session: Session, *, undecided: bool = False) -> list[PayoutReversal]:
    """Reversals newest first; `undecided` keeps those still held."""
    q = select(PayoutReversal).order_by(PayoutReversal.created_at.desc())  # type: ignore[attr-defined]
    if undecided:
        q = q.where(PayoutReversal.decision == None)  # noqa: E711 - SQL IS NULL
    return list(session.exec(q))


def decide_reversal(session: Session, reversal_id: str, decision: str) -> PayoutReversal:
    """The operator's decision on held money: `repay` (available again) or `write_off`."""
    if decision not in ("repay", "write_off"):
        raise ApiError("bad_request", "decision is repay or write_off", status=400)
    row = session.get(PayoutReversal, reversal_id)
    if row is None:
        raise ApiError("not_found", f"no reversal {reversal_id}")
    if row.decision is not None:
        if row.decision != decision:
            raise ApiError("conflict", f"reversal {reversal_id} was already decided: {row.decision}")
        return row
    build = payouts.reversal_repaid if decision == "repay" else payouts.reversal_written_off
    ledger.post(session, build(row.payout_id, row.expert_id, payouts.Money(row.amount_cents, row.currency),
                               row.id))
    row.decision, row.decided_at = decision, utcnow()
    session.add(row)
    session.flush()
    return row


def reversal_view(r: PayoutReversal) -> dict[str, Any]:
    """A reversal as the API and CLI show it."""
    return {"id": r.id, "payout_id": r.payout_id, "expert_id": r.expert_id, "amount_cents": r.amount_cents,
            "currency": r.currency, "amount": payouts.format_minor(r.amount_cents, r.currency),
            "decision": r.decision, "decided_at": iso(r.decided_at), "created_at": iso(r.created_at)}
