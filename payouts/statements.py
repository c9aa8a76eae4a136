"""CSV statements of an expert's ledger activity, used for manual (no-Stripe) payouts."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Optional

from . import accounts as acc
from .ledger import Transaction, balances
from .money import Money, format_minor
from .planning import PlannedPayout

MANUAL_MARKER = "MANUAL PAYMENT"
COLUMNS = ("key", "kind", "account", "currency", "amount", "memo")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(text: str) -> str:
    """Neutralise spreadsheet formula injection (CSV injection) in free text: a cell a
    spreadsheet would run as a formula gets a leading apostrophe."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def _decimal(cents: int, currency: str) -> str:
    return format_minor(cents, currency)


def render_statement(expert_id: object, transactions: Iterable[Transaction], *,
                     payout: Optional[PlannedPayout] = None, manual: bool = True,
                     generated_at: str = "", payee_name: str = "", payee_email: str = "") -> str:
    """Render the expert's entries, per-bucket totals and (optionally) a payout instruction as CSV."""
    expert_accounts = {acc.expert_pending(expert_id), acc.expert_available(expert_id),
                       acc.expert_in_transit(expert_id), acc.expert_paid(expert_id),
                       acc.expert_held(expert_id)}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["statement", "expert", str(expert_id)])
    if payee_name or payee_email:
        writer.writerow(["payee", spreadsheet_safe(payee_name), spreadsheet_safe(payee_email)])
    if generated_at:
        writer.writerow(["generated_at", generated_at])
    writer.writerow(["payment_method", MANUAL_MARKER if manual else "stripe"])
    if payout is not None:
        writer.writerow(["payout", payout.payout_id, payout.amount.currency,
                         _decimal(payout.amount.cents, payout.amount.currency),
                         MANUAL_MARKER if manual else "stripe transfer"])
    writer.writerow([])
    writer.writerow(COLUMNS)
    mine = []
    for tx in transactions:
        for entry in tx.entries:
            if entry.account in expert_accounts:
                mine.append(entry)
                writer.writerow([tx.key, tx.kind, acc.bucket_of(entry.account),
                                 entry.currency, _decimal(entry.cents, entry.currency), spreadsheet_safe(tx.memo)])
    writer.writerow([])
    writer.writerow(["totals", "bucket", "currency", "amount"])
    for (account, currency), cents in sorted(balances(mine).items()):
        writer.writerow(["total", acc.bucket_of(account), currency, _decimal(cents, currency)])
    return out.getvalue()


def statement_total(transactions: Iterable[Transaction], expert_id: object, bucket: str,
                    currency: str) -> Money:
    """Balance of one expert bucket over the given transactions (helper for reconciling a statement)."""
    account = acc.expert_account(expert_id, bucket)
    folded = balances(e for tx in transactions for e in tx.entries)
    return Money(folded.get((account, currency.lower()), 0), currency)
