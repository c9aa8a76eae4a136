"""The payouts ledger stored in SQL: post `payouts.Transaction`s atomically and idempotently.

`post` validates with `payouts.check_post`, reading balances and earlier transactions from the
database inside the caller's transaction, and inserts the rows; the caller commits. On
PostgreSQL it first takes transaction-scoped advisory locks on the idempotency key and on every
account the transaction touches (in sorted order, so two posters never deadlock). Exclusive
pairs (release/reverse, payout-paid/payout-failed) always share an account, so they serialise
and exactly one wins. SQLite transactions start with BEGIN IMMEDIATE (see gigcx.db): a single
writer already. The UNIQUE constraint on `ledgertransaction.key` is the last line of defence.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, text
from sqlmodel import Session, select

import payouts
from gigcx.models import LedgerEntry, LedgerTransaction


def _ints(tx: payouts.Transaction) -> dict[str, int | None]:
    meta = tx.metadata
    out: dict[str, int | None] = {}
    for name in ("brand_id", "expert_id", "case_id"):
        raw = meta.get(name)
        out[name] = int(raw) if raw is not None and str(raw).isdigit() else None
    return out


def lock(session: Session, names: Iterable[str]) -> None:
    """Serialise writers on these names until the transaction ends (PostgreSQL only)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for name in sorted(set(names)):
        session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:n, 0))"), {"n": name})


def get(session: Session, key: str) -> payouts.Transaction | None:
    """The posted transaction with this key, rebuilt from its rows."""
    row = session.exec(select(LedgerTransaction).where(LedgerTransaction.key == key)).first()
    return None if row is None else _rebuild(session, row)


def _rebuild(session: Session, row: LedgerTransaction) -> payouts.Transaction:
    entries = session.exec(select(LedgerEntry).where(LedgerEntry.transaction_id == row.id)
                           .order_by(LedgerEntry.id)).all()  # type: ignore[arg-type]
    return payouts.Transaction(
        key=row.key, kind=row.kind, memo=row.memo,
        metadata={str(k): str(v) for k, v in (row.meta or {}).items()},
        entries=tuple(payouts.Entry(e.account, e.amount_cents, e.currency) for e in entries))


def balance(session: Session, account: str, currency: str) -> int:
    """Balance in cents of one account in one currency: the SUM of its entries."""
    total = session.exec(select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0)).where(
        LedgerEntry.account == account, LedgerEntry.currency == currency.lower())).one()
    return int(total)


def balances_like(session: Session, pattern: str) -> dict[tuple[str, str], int]:
    """Balances of every account matching a LIKE pattern, keyed by (account, currency)."""
    rows = session.exec(select(LedgerEntry.account, LedgerEntry.currency,
                               func.sum(LedgerEntry.amount_cents))
                        .where(LedgerEntry.account.like(pattern))  # type: ignore[attr-defined]
                        .group_by(LedgerEntry.account, LedgerEntry.currency)).all()
    return {(a, c): int(s) for a, c, s in rows}


def owner_balances(session: Session, owner: str, owner_id: int) -> dict[str, dict[str, int]]:
    """{currency: {bucket: cents}} of one brand or expert."""
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for (account, currency), cents in balances_like(session, f"{owner}:{owner_id}:%").items():
        out[currency][account.rsplit(":", 1)[1]] = cents
    return dict(out)


def post(session: Session, tx: payouts.Transaction, **ids: Any) -> bool:
    """Post `tx` in the caller's transaction; False (nothing written) for an identical replay.

    Raises the `payouts.LedgerError` subclasses of `check_post` (the caller rolls back or maps
    them). `ids` may override the brand_id/expert_id/case_id columns taken from the metadata.
    """
    lock(session, ["tx:" + tx.key, *("acct:" + e.account for e in tx.entries)])
    if not payouts.check_post(tx, lambda a, c: balance(session, a, c), lambda k: get(session, k)):
        return False
    cols = {**_ints(tx), **ids}
    row = LedgerTransaction(key=tx.key, kind=tx.kind, memo=tx.memo[:500], meta=dict(tx.metadata),
                            **cols)
    session.add(row)
    session.flush()
    for entry in tx.entries:
        session.add(LedgerEntry(transaction_id=row.id, account=entry.account,  # type: ignore[arg-type]
                                amount_cents=entry.cents, currency=entry.currency))
    session.flush()
    return True


def transactions(session: Session, *, expert_id: int | None = None, brand_id: int | None = None,
                 case_id: int | None = None, upto_id: int | None = None) -> list[payouts.Transaction]:
    """Posted transactions touching an expert's (or brand's) accounts, in posting order."""
    q = select(LedgerTransaction).order_by(LedgerTransaction.id)  # type: ignore[arg-type]
    if expert_id is not None:
        sub = select(LedgerEntry.transaction_id).where(
            LedgerEntry.account.like(payouts.accounts_like("expert", expert_id)))  # type: ignore[attr-defined]
        q = q.where(LedgerTransaction.id.in_(sub))  # type: ignore[union-attr]
    if brand_id is not None:
        sub = select(LedgerEntry.transaction_id).where(
            LedgerEntry.account.like(payouts.accounts_like("brand", brand_id)))  # type: ignore[attr-defined]
        q = q.where(LedgerTransaction.id.in_(sub))  # type: ignore[union-attr]
    if case_id is not None:
        q = q.where(LedgerTransaction.case_id == case_id)
    if upto_id is not None:
        q = q.where(LedgerTransaction.id <= upto_id)  # type: ignore[operator]
    return [_rebuild(session, row) for row in session.exec(q)]


def rows(session: Session, *, brand_id: int | None = None, case_id: int | None = None,
         expert_id: int | None = None) -> list[LedgerTransaction]:
    """Transaction rows filtered by their indexed columns, oldest first."""
    q = select(LedgerTransaction).order_by(LedgerTransaction.id)  # type: ignore[arg-type]
    if brand_id is not None:
        q = q.where(LedgerTransaction.brand_id == brand_id)
    if case_id is not None:
        q = q.where(LedgerTransaction.case_id == case_id)
    if expert_id is not None:
        q = q.where(LedgerTransaction.expert_id == expert_id)
    return list(session.exec(q))


def all_entries(session: Session) -> list[payouts.Entry]:
    """Every entry (for invariant checks in tests and audits)."""
    return [payouts.Entry(e.account, e.amount_cents, e.currency)
            for e in session.exec(select(LedgerEntry).order_by(LedgerEntry.id))]  # type: ignore[arg-type]
