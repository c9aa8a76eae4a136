"""`gigcx payouts reconcile`: the ledger against Stripe's transfers and balance transactions.

Checked, per payout made through Stripe:

* every transfer carrying a GigCX payout uid belongs to a payout, which is settled paid (or
  reversed) with that transfer id and amount;
* every payout settled paid through Stripe has its transfer at Stripe;
* what left per payout (transfer amount - reversed) equals the ledger's paid - reversed for it;
* Stripe's fees on balance transactions are recorded in `platform:gigcx:stripe_fees`
  (imported here, once per balance transaction) and add up to what Stripe reports.
Any difference is printed and makes the command exit non-zero.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlmodel import Session, select

import payouts
from gigcx import stripe_gateway as sg
from gigcx.models import Funding, LedgerTransaction, Payout, PayoutBatch, PayoutStatus
from gigcx.services import ledger


@dataclass
class Report:
    """What reconcile saw (`lines`) and every difference it found."""

    lines: list[str] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)


def _ledger_sent(session: Session, payout: Payout) -> int:
    """Paid minus reversed for one payout, from the ledger."""
    total = 0
    paid = ledger.get(session, payouts.payout_paid_key(payout.id))
    if paid is not None:
        total += sum(e.cents for e in paid.entries if payouts.bucket_of(e.account) == "paid")
    rows = session.exec(select(LedgerTransaction).where(
        LedgerTransaction.key.like(payouts.reversals_like(payout.id)))).all()  # type: ignore[attr-defined]
    for row in rows:
        tx = ledger.get(session, row.key)
        assert tx is not None
        total += sum(e.cents for e in tx.entries if payouts.bucket_of(e.account) == "paid")
    return total


def reconcile(session: Session, gw: payouts.PayoutGateway) -> Report:
    """Compare (and import Stripe's fees); a manual gateway has nothing to compare with."""
    report = Report()
    if gw.mode != "stripe":
        report.lines.append("manual mode: no payment provider to reconcile with")
        return report
    stripe_gw: sg.StripeGateway = gw  # type: ignore[assignment]
    try:
        transfers = list(stripe_gw.iter_transfers())
    except sg.GatewayError as exc:
        report.differences.append(f"transfers could not be listed ({exc.describe()})")
        return report
    by_uid: dict[str, list[sg.TransferResult]] = defaultdict(list)
    for tr in transfers:
        by_uid[tr.payout_uid].append(tr)
    report.lines.append(f"{len(transfers)} transfer(s) at Stripe")
    stripe_batches = set(session.exec(select(PayoutBatch.id).where(PayoutBatch.mode == "stripe")))
    rows = [p for p in session.exec(select(Payout).order_by(Payout.id))  # type: ignore[arg-type]
            if p.batch_id in stripe_batches]
    known = {p.uid for p in rows}
    for uid, trs in sorted(by_uid.items()):
        if uid not in known:
            report.differences.append(f"transfer(s) {', '.join(t.transfer_id for t in trs)} carry payout uid "
                                      f"{uid}, which no payout has")
    for p in rows:
        trs = by_uid.get(p.uid, [])
        sent = sum(t.amount_cents - t.amount_reversed for t in trs)
        if len(trs) > 1:
            report.differences.append(f"payout {p.id}: {len(trs)} transfers at Stripe")
        if p.status in (PayoutStatus.paid, PayoutStatus.reversed):
            if not trs:
                report.differences.append(f"payout {p.id} is {p.status} with {p.transfer_id}, which Stripe "
                                          "does not list")
            elif trs[0].transfer_id != p.transfer_id:
                report.differences.append(f"payout {p.id} records {p.transfer_id}, Stripe has {trs[0].transfer_id}")
        elif trs:
            report.differences.append(f"payout {p.id} is {p.status} but transfer {trs[0].transfer_id} exists: "
                                      f"run `gigcx payouts retry` or settle it with that transfer")
            continue
        ours = _ledger_sent(session, p)
        if trs and ours != sent:
            report.differences.append(f"payout {p.id}: Stripe sent {sent} {p.currency} net of reversals, "
                                      f"the ledger says {ours}")
    _fees(session, stripe_gw, report)
    return report


def _fees(session: Session, gw: sg.StripeGateway, report: Report) -> None:
    """Import Stripe's fees on top-ups into the ledger and check their total."""
    try:
        lines = list(gw.iter_balance_transactions())
    except sg.GatewayError as exc:
        report.differences.append(f"balance transactions could not be listed ({exc.describe()})")
        return
    brands = {f.payment_intent_id: f.brand_id for f in session.exec(select(Funding)) if f.payment_intent_id}
    stripe_total: dict[str, int] = defaultdict(int)
    imported = 0
    for line in lines:
        if line.fee_cents <= 0:
            continue
        stripe_total[line.currency] += line.fee_cents
        brand = brands.get(line.source or "", "platform")
        if ledger.post(session, payouts.stripe_fee(line.id, brand, payouts.Money(line.fee_cents, line.currency))):
            imported += 1
    session.flush()
    report.lines.append(f"{len(lines)} balance transaction(s); {imported} Stripe fee(s) newly recorded")
    for currency, total in sorted(stripe_total.items()):
        ours = ledger.balance(session, payouts.platform_stripe_fees(), currency)
        if ours != total:
            report.differences.append(f"Stripe fees in {currency}: Stripe {total}, ledger {ours}")
