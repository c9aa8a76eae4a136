"""Money as integer minor units (cents) tagged with a lowercase ISO 4217 currency."""

from __future__ import annotations

import re
from dataclasses import dataclass

_CURRENCY_RE = re.compile(r"^[a-z]{3}$")


class CurrencyMismatch(ValueError):
    """Raised when an operation mixes two currencies."""


def normalize_currency(code: str) -> str:
    """Return the lowercase ISO code, rejecting anything that is not three letters."""
    if not isinstance(code, str):
        raise TypeError("currency must be a string")
    lowered = code.strip().lower()
    if not _CURRENCY_RE.match(lowered):
        raise ValueError(f"invalid currency code: {code!r}")
    return lowered


@dataclass(frozen=True, order=False)
class Money:
    """An exact amount of integer cents in one currency."""

    cents: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.cents, bool) or not isinstance(self.cents, int):
            raise TypeError("Money.cents must be an int (never a float)")
        object.__setattr__(self, "currency", normalize_currency(self.currency))

    @classmethod
    def zero(cls, currency: str) -> Money:
        """Return zero in the given currency."""
        return cls(0, currency)

    def _check(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"{self.currency} vs {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.cents + other.cents, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.cents - other.cents, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.cents, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._check(other)
        return self.cents < other.cents

    def __le__(self, other: Money) -> bool:
        self._check(other)
        return self.cents <= other.cents

    def __gt__(self, other: Money) -> bool:
        self._check(other)
        return self.cents > other.cents

    def __ge__(self, other: Money) -> bool:
        self._check(other)
        return self.cents >= other.cents

    def is_zero(self) -> bool:
        """Return True when the amount is exactly zero."""
        return self.cents == 0

    def format(self) -> str:
        """Render as e.g. '12.34 eur' (two-decimal currencies; display only)."""
        sign = "-" if self.cents < 0 else ""
        whole, frac = divmod(abs(self.cents), 100)
        return f"{sign}{whole}.{frac:02d} {self.currency}"

    def to_dict(self) -> dict[str, object]:
        """Serialise to a JSON-friendly dict."""
        return {"cents": self.cents, "currency": self.currency}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Money:
        """Parse the output of to_dict."""
        cents = data["cents"]
        currency = data["currency"]
        if not isinstance(cents, int) or isinstance(cents, bool):
            raise TypeError("cents must be an int")
        if not isinstance(currency, str):
            raise TypeError("currency must be a string")
        return cls(cents, currency)


def sum_money(items: list[Money], currency: str) -> Money:
    """Add up amounts that must all be in `currency`."""
    total = Money.zero(currency)
    for item in items:
        total = total + item
    return total
