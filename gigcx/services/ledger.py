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

from sqlalchemy import bindparam, func, insert, text, true
from sqlalchemy.dialects.postgresql import ARRAY
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
# every name's lock in one statement, taken in the array's (sorted) order: unnest yields its
# elements in order and the aggregate calls the function once per row as they come
_LOCK_ALL = text("SELECT count(pg_advisory_xact_lock(hashtextextended(n, 0))) "
                 "FROM unnest(CAST(:names AS text[])) AS n")
_TX_BY_KEY = select(_TX).where(_TX.c.key == bindparam("b_key"))  # type: ignore[call-overload]
_ENTRIES_OF = (select(_ENTRY.c.account, _ENTRY.c.amount_cents, _ENTRY.c.currency)
               .where(_ENTRY.c.transaction_id == bindparam("b_tx")).order_by(_ENTRY.c.id))
_BALANCE = (select(func.coalesce(func.sum(_ENTRY.c.amount_cents), 0))
            .where(_ENTRY.c.account == bindparam("b_account"), _ENTRY.c.currency == bindparam("b_currency")))
_TXS_BY_KEY = select(_TX).where(_TX.c.key.in_(bindparam("b_keys", expanding=True)))  # type: ignore[call-overload]
_INSERT_TX = insert(_TX).returning(_TX.c.id)
_INSERT_ENTRY = insert(_ENTRY)
_TX_COLUMNS = ("key", "kind", "memo", "meta", "created_at", "brand_id", "expert_id", "case_id")


def _insert_with_entries() -> Any:
    """PostgreSQL: a transaction's row and its entries in one statement (`WITH t AS (INSERT ...
    RETURNING id) INSERT INTO ledgerentry SELECT t.id, e.* FROM t, unnest(...) e`), one round trip
    instead of two. The entries go in in the arrays' order, so their ids keep the order given."""
    new_tx = (insert(_TX).values({c: bindparam(f"v_{c}", type_=_TX.c[c].type) for c in _TX_COLUMNS})
              .returning(_TX.c.id).cte("new_tx"))
    entries = func.unnest(bindparam("v_accounts", type_=ARRAY(_ENTRY.c.account.type)),
                          bindparam("v_cents", type_=ARRAY(_ENTRY.c.amount_cents.type)),
                          bindparam("v_currencies", type_=ARRAY(_ENTRY.c.currency.type))
                          ).table_valued("account", "amount_cents", "currency").render_derived("e")
    rows = select(new_tx.c.id, entries.c.account, entries.c.amount_cents, entries.c.currency).select_from(
        new_tx.join(entries, true()))
    return insert(_ENTRY).from_select(["transaction_id", "account", "amount_cents", "currency"], rows)


_INSERT_TX_WITH_ENTRIES = _insert_with_entries()


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
    ordered = sorted(set(names))
    if len(ordered) == 1:
        conn.execute(_LOCK, {"n": ordered[0]})
    elif ordered:  # one round trip for all of them (a post locks its key and two or more accounts)
        conn.execute(_LOCK_ALL, {"names": ordered})


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


def _lock_names(tx: payouts.Transaction) -> list[str]:
    return ["tx:" + tx.key, *("acct:" + e.account for e in tx.entries)]


def post(session: Session, tx: payouts.Transaction, **ids: Any) -> bool:
    """Post `tx` in the caller's transaction; False (nothing written) for an identical replay.

    Raises the `payouts.LedgerError` subclasses of `check_post` (the caller rolls back or maps
    them). `ids` may override the brand_id/expert_id/case_id columns taken from the metadata.
    """
    lock(session, _lock_names(tx))
    return _post_locked(session, tx, ids, {})


def post_many(session: Session, txs: list[payouts.Transaction]) -> list[bool]:
    """`post` for several transactions, in order, with fewer round trips: every lock taken at
    once (all names sorted together) and every key looked up in one statement. Each is checked
    and written as `post` would (a later one sees the earlier ones as posted)."""
    lock(session, [name for tx in txs for name in _lock_names(tx)])
    keys = list(dict.fromkeys(tx.key for tx in txs))
    found: dict[str, payouts.Transaction | None] = dict.fromkeys(keys)
    if keys:
        for row in session.connection().execute(_TXS_BY_KEY, {"b_keys": keys}).all():
            found[row.key] = _rebuild(session, row)
    return [_post_locked(session, tx, {}, found) for tx in txs]


def _post_locked(session: Session, tx: payouts.Transaction, ids: dict[str, Any],
                 known: dict[str, payouts.Transaction | None]) -> bool:
    """Check and write `tx`, its locks held; `known` are keys already looked up (None: not
    posted), read instead of the database and updated with `tx` once written."""
    def posted(key: str) -> payouts.Transaction | None:
        return known[key] if key in known else get(session, key)

    if not payouts.check_post(tx, lambda a, c: balance(session, a, c), posted):
        return False
    cols = {**_ints(tx), **ids}
    conn = session.connection()
    values = {"key": tx.key, "kind": tx.kind, "memo": tx.memo[:500], "meta": dict(tx.metadata),
              "created_at": utcnow(), **cols}
    if conn.dialect.name == "postgresql" and tx.entries:
        conn.execute(_INSERT_TX_WITH_ENTRIES, {
            **{f"v_{k}": v for k, v in values.items()}, "v_accounts": [e.account for e in tx.entries],
            "v_cents": [e.cents for e in tx.entries], "v_currencies": [e.currency for e in tx.entries]})
    else:
        tx_id = conn.execute(_INSERT_TX, values).scalar_one()
        conn.execute(_INSERT_ENTRY, [{"transaction_id": tx_id, "account": entry.account,
                                      "amount_cents": entry.cents, "currency": entry.currency}
                                     for entry in tx.entries])
    known[tx.key] = tx
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
