"""Money as integer minor units (cents) tagged with a lowercase ISO 4217 currency."""

from __future__ import annotations

import re
from dataclasses import dataclass

_CURRENCY_RE = re.compile(r"^[a-z]{3}$")


# ISO 4217 minor units where they are not 2 (Stripe's list of zero- and three-decimal currencies).
ZERO_DECIMAL = frozenset({"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf",
                          "ugx", "vnd", "vuv", "xaf", "xof", "xpf"})
THREE_DECIMAL = frozenset({"bhd", "iqd", "jod", "kwd", "lyd", "omr", "tnd"})


def minor_units(currency: str) -> int:
    """Digits after the decimal point of the currency: 0 (JPY), 2 (EUR) or 3 (KWD)."""
    code = normalize_currency(currency)
    if code in ZERO_DECIMAL:
        return 0
    if code in THREE_DECIMAL:
        return 3
    return 2


def format_minor(cents: int, currency: str) -> str:
    """Integer minor units as a decimal string in the currency's own precision (1234 jpy -> '1234')."""
    digits = minor_units(currency)
    sign = "-" if cents < 0 else ""
    if digits == 0:
        return f"{sign}{abs(cents)}"
    whole, frac = divmod(abs(cents), 10 ** digits)
    return f"{sign}{whole}.{frac:0{digits}d}"


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
        """Render as e.g. '12.34 eur', '1234 jpy' or '1.234 kwd' (display only)."""
        return f"{format_minor(self.cents, self.currency)} {self.currency}"

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
