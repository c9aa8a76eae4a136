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

from sqlalchemy import bindparam, func, insert, text
from sqlmodel import Session, col, select

import payouts
from gigcx.models import LedgerEntry, LedgerTransaction, utcnow
from gigcx.models.base import table_of

_TX = table_of(LedgerTransaction)
_ENTRY = table_of(LedgerEntry)
# Posting's statements, built once and run as Core on the session's connection: every confirmed
# case posts one or two transactions, and ORM objects (pydantic defaults, the unit of work's
# flush) were most of a post's cost (py-spy, docs/benchmarks.md "Resolution events").
_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:n, 0))")
_TX_BY_KEY = select(_TX).where(_TX.c.key == bindparam("b_key"))  # type: ignore[call-overload]
_ENTRIES_OF = (select(_ENTRY.c.account, _ENTRY.c.amount_cents, _ENTRY.c.currency)
               .where(_ENTRY.c.transaction_id == bindparam("b_tx")).order_by(_ENTRY.c.id))
_BALANCE = (select(func.coalesce(func.sum(_ENTRY.c.amount_cents), 0))
            .where(_ENTRY.c.account == bindparam("b_account"), _ENTRY.c.currency == bindparam("b_currency")))
_INSERT_TX = insert(_TX).returning(_TX.c.id)
_INSERT_ENTRY = insert(_ENTRY)


def _ints(tx: payouts.Transaction) -> dict[str, int | None]:
    meta = tx.metadata
    out: dict[str, int | None] = {}
    for name in ("brand_id", "expert_id", "case_id"):
        raw = meta.get(name)
        out[name] = int(raw) if raw is not None and str(raw).isdigit() else None
    return out


def lock(session: Session, names: Iterable[str]) -> None:
    """Serialise writers on these names until the transaction ends (PostgreSQL only)."""
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        return
    for name in sorted(set(names)):
        conn.execute(_LOCK, {"n": name})


def get(session: Session, key: str) -> payouts.Transaction | None:
    """The posted transaction with this key, rebuilt from its rows."""
    row = session.connection().execute(_TX_BY_KEY, {"b_key": key}).first()
    return None if row is None else _rebuild(session, row)


def _rebuild(session: Session, row: Any) -> payouts.Transaction:
    """A transaction from its row (a LedgerTransaction or a Core row of its columns) and its entries."""
    entries = session.connection().execute(_ENTRIES_OF, {"b_tx": row.id}).all()
    return payouts.Transaction(
        key=row.key, kind=row.kind, memo=row.memo,
        metadata={str(k): str(v) for k, v in (row.meta or {}).items()},
        entries=tuple(payouts.Entry(account, cents, currency) for account, cents, currency in entries))


def balance(session: Session, account: str, currency: str) -> int:
    """Balance in cents of one account in one currency: the SUM of its entries."""
    total = session.connection().execute(_BALANCE, {"b_account": account,
                                                     "b_currency": currency.lower()}).scalar_one()
    return int(total)


def balances_like(session: Session, pattern: str) -> dict[tuple[str, str], int]:
    """Balances of every account matching a LIKE pattern, keyed by (account, currency)."""
    rows = session.exec(select(LedgerEntry.account, LedgerEntry.currency,
                               func.sum(LedgerEntry.amount_cents))
                        .where(col(LedgerEntry.account).like(pattern))
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
    conn = session.connection()
    tx_id = conn.execute(_INSERT_TX, {"key": tx.key, "kind": tx.kind, "memo": tx.memo[:500],
                                      "meta": dict(tx.metadata), "created_at": utcnow(), **cols}).scalar_one()
    conn.execute(_INSERT_ENTRY, [{"transaction_id": tx_id, "account": entry.account, "amount_cents": entry.cents,
                                  "currency": entry.currency} for entry in tx.entries])
    return True


def transactions(session: Session, *, expert_id: int | None = None, brand_id: int | None = None,
                 case_id: int | None = None, upto_id: int | None = None) -> list[payouts.Transaction]:
    """Posted transactions touching an expert's (or brand's) accounts, in posting order."""
    q = select(LedgerTransaction).order_by(col(LedgerTransaction.id))
    if expert_id is not None:
        sub = select(LedgerEntry.transaction_id).where(
            col(LedgerEntry.account).like(payouts.accounts_like("expert", expert_id)))
        q = q.where(col(LedgerTransaction.id).in_(sub))
    if brand_id is not None:
        sub = select(LedgerEntry.transaction_id).where(
            col(LedgerEntry.account).like(payouts.accounts_like("brand", brand_id)))
        q = q.where(col(LedgerTransaction.id).in_(sub))
    if case_id is not None:
        q = q.where(LedgerTransaction.case_id == case_id)
    if upto_id is not None:
        q = q.where(col(LedgerTransaction.id) <= upto_id)
    return [_rebuild(session, row) for row in session.exec(q)]


def rows(session: Session, *, brand_id: int | None = None, case_id: int | None = None,
         expert_id: int | None = None) -> list[LedgerTransaction]:
    """Transaction rows filtered by their indexed columns, oldest first."""
    q = select(LedgerTransaction).order_by(col(LedgerTransaction.id))
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
            for e in session.exec(select(LedgerEntry).order_by(col(LedgerEntry.id)))]
