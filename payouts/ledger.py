"""Append-only double-entry ledger: balanced transactions, idempotent by key, pure validation."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Optional

from . import keys
from .accounts import must_stay_non_negative, parse_account
from .money import Money, normalize_currency

BalanceKey = tuple[str, str]  # (account, currency)


class LedgerError(ValueError):
    """Base class for a transaction the ledger refuses."""


class UnbalancedTransaction(LedgerError):
    """Entries do not sum to zero in some currency, or the transaction is malformed."""


class InsufficientFunds(LedgerError):
    """Posting would push an account that must stay non-negative below zero."""


class IdempotencyConflict(LedgerError):
    """A different transaction was already posted under the same key."""


class PreconditionFailed(LedgerError):
    """A required earlier transaction is missing or an excluding one was posted."""


@dataclass(frozen=True)
class Entry:
    """One signed movement on one account; positive increases the account's balance."""

    account: str
    cents: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.cents, bool) or not isinstance(self.cents, int):
            raise TypeError("Entry.cents must be an int")
        parse_account(self.account)
        object.__setattr__(self, "currency", normalize_currency(self.currency))

    @property
    def money(self) -> Money:
        """The entry amount as Money."""
        return Money(self.cents, self.currency)

    def to_dict(self) -> dict[str, object]:
        """Serialise to a JSON-friendly dict."""
        return {"account": self.account, "cents": self.cents, "currency": self.currency}


@dataclass(frozen=True)
class Transaction:
    """A balanced set of entries posted atomically under a deterministic idempotency key."""

    key: str
    kind: str
    entries: tuple[Entry, ...]
    memo: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "entries", tuple(self.entries))
        object.__setattr__(self, "metadata", dict(self.metadata))

    def same_effect(self, other: Transaction) -> bool:
        """True when both post the same movements (memo and metadata are ignored)."""
        return (self.key == other.key and self.kind == other.kind
                and sorted(self.entries, key=_entry_sort) == sorted(other.entries, key=_entry_sort))

    def touches(self, account: str) -> bool:
        """True when any entry is on `account`."""
        return any(e.account == account for e in self.entries)

    def to_dict(self) -> dict[str, object]:
        """Serialise to a JSON-friendly dict."""
        return {"key": self.key, "kind": self.kind, "memo": self.memo,
                "metadata": dict(self.metadata), "entries": [e.to_dict() for e in self.entries]}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Transaction:
        """Parse `to_dict` output."""
        raw = data["entries"]
        if not isinstance(raw, list):
            raise TypeError("entries must be a list")
        entries = tuple(Entry(str(e["account"]), int(e["cents"]), str(e["currency"])) for e in raw)
        meta = data.get("metadata") or {}
        if not isinstance(meta, dict):
            raise TypeError("metadata must be a dict")
        return cls(key=str(data["key"]), kind=str(data["kind"]), entries=entries,
                   memo=str(data.get("memo", "")), metadata={str(k): str(v) for k, v in meta.items()})


def _entry_sort(e: Entry) -> tuple[str, str, int]:
    return (e.account, e.currency, e.cents)


def check_balanced(tx: Transaction) -> None:
    """Raise UnbalancedTransaction unless the transaction is well formed and sums to zero per currency."""
    if not tx.key or not tx.kind:
        raise UnbalancedTransaction("transaction needs a key and a kind")
    if len(tx.entries) < 2:
        raise UnbalancedTransaction(f"{tx.key}: needs at least two entries")
    totals: dict[str, int] = defaultdict(int)
    for entry in tx.entries:
        if entry.cents == 0:
            raise UnbalancedTransaction(f"{tx.key}: zero entry on {entry.account}")
        totals[entry.currency] += entry.cents
    bad = {cur: total for cur, total in totals.items() if total != 0}
    if bad:
        raise UnbalancedTransaction(f"{tx.key}: entries do not balance: {bad}")


def balances(entries: Iterable[Entry]) -> dict[BalanceKey, int]:
    """Fold entries into balances keyed by (account, currency); zero balances are kept."""
    result: dict[BalanceKey, int] = defaultdict(int)
    for entry in entries:
        result[(entry.account, entry.currency)] += entry.cents
    return dict(result)


def preconditions(tx: Transaction) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Keys that must already be posted, and keys that must not be, before `tx` may post."""
    prefix, rest = keys.split(tx.key)
    pairs = {  # prefix -> (the prefix that must be posted, the one that must not be)
        keys.RELEASE: (keys.REWARD, keys.REVERSE),
        keys.REVERSE: (keys.REWARD, keys.RELEASE),
        keys.PAYOUT_PAID: (keys.PAYOUT, keys.PAYOUT_FAILED),
        keys.PAYOUT_FAILED: (keys.PAYOUT, keys.PAYOUT_PAID),
        keys.REVERSAL_REPAY: (keys.PAYOUT_REVERSED, keys.REVERSAL_WRITE_OFF),
        keys.REVERSAL_WRITE_OFF: (keys.PAYOUT_REVERSED, keys.REVERSAL_REPAY),
    }
    if prefix == keys.PAYOUT_REVERSED:
        payout_id = rest.rsplit(":", 1)[0]
        return (keys.join(keys.PAYOUT_PAID, payout_id),), ()
    if prefix in pairs:
        required, excluded = pairs[prefix]
        return (keys.join(required, rest),), (keys.join(excluded, rest),)
    return (), ()


def check_post(tx: Transaction, balance_of: Callable[[str, str], int],
               posted: Callable[[str], Optional[Transaction]]) -> bool:
    """Validate `tx` against current state; False means an identical replay (post nothing)."""
    check_balanced(tx)
    existing = posted(tx.key)
    if existing is not None:
        if existing.same_effect(tx):
            return False
        raise IdempotencyConflict(f"{tx.key}: already posted with different entries")
    requires, excludes = preconditions(tx)
    for key in requires:
        if posted(key) is None:
            raise PreconditionFailed(f"{tx.key}: requires {key}")
    for key in excludes:
        if posted(key) is not None:
            raise PreconditionFailed(f"{tx.key}: excluded by {key}")
    delta = balances(tx.entries)
    for (account, currency), change in delta.items():
        if change < 0 and must_stay_non_negative(account):
            after = balance_of(account, currency) + change
            if after < 0:
                raise InsufficientFunds(
                    f"{tx.key}: {account} would be {after} {currency}")
    return True


class Ledger:
    """In-memory reference ledger: append-only, idempotent by key, never overdraws expert accounts."""

    def __init__(self, transactions: Iterable[Transaction] = ()) -> None:
        self._txs: list[Transaction] = []
        self._by_key: dict[str, Transaction] = {}
        self._balances: dict[BalanceKey, int] = defaultdict(int)
        for tx in transactions:
            self.post(tx)

    def balance(self, account: str, currency: str) -> int:
        """Current balance in cents of one account in one currency."""
        return self._balances.get((account, normalize_currency(currency)), 0)

    def balances(self) -> dict[BalanceKey, int]:
        """All non-zero balances keyed by (account, currency)."""
        return {k: v for k, v in self._balances.items() if v != 0}

    def get(self, key: str) -> Optional[Transaction]:
        """The posted transaction with this key, if any."""
        return self._by_key.get(key)

    def has(self, key: str) -> bool:
        """True when a transaction with this key was posted."""
        return key in self._by_key

    @property
    def transactions(self) -> tuple[Transaction, ...]:
        """All posted transactions in posting order."""
        return tuple(self._txs)

    def entries(self) -> list[Entry]:
        """All posted entries in posting order."""
        return [e for tx in self._txs for e in tx.entries]

    def validate(self, tx: Transaction) -> bool:
        """Check `tx` without posting; False means it is an identical replay."""
        return check_post(tx, self.balance, self.get)

    def post(self, tx: Transaction) -> bool:
        """Post `tx`; returns False (and changes nothing) for an identical replay."""
        if not self.validate(tx):
            return False
        self._txs.append(tx)
        self._by_key[tx.key] = tx
        for entry in tx.entries:
            self._balances[(entry.account, entry.currency)] += entry.cents
        return True
