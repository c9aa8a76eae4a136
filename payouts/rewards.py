"""Reward computation: topic base reward plus brand bonus rules, as plain serialisable data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Union

from .money import Money

CaseStatus = Literal["resolved", "deflected", "escalated", "unresolved"]
PAYABLE_STATUSES: frozenset[str] = frozenset({"resolved"})
KNOWN_STATUSES: frozenset[str] = frozenset({"resolved", "deflected", "escalated", "unresolved"})


class RuleError(ValueError):
    """Raised for an invalid rule definition or serialised rule."""


def _nonneg_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RuleError(f"{name} must be a non-negative int, got {value!r}")
    return value


@dataclass(frozen=True)
class CaseOutcome:
    """What happened on a case, as far as rewards are concerned."""

    status: str
    rating: int | None = None
    first_response_seconds: float | None = None

    def __post_init__(self) -> None:
        if self.status not in KNOWN_STATUSES:
            raise RuleError(f"unknown case status {self.status!r}")
        if self.rating is not None and not 1 <= self.rating <= 5:
            raise RuleError("rating must be within 1..5")
        if self.first_response_seconds is not None and self.first_response_seconds < 0:
            raise RuleError("first_response_seconds must be >= 0")


@dataclass(frozen=True)
class RatingBonus:
    """Pay `bonus_cents` when the customer's rating is at least `min_rating`."""

    bonus_cents: int
    min_rating: int = 5
    type: Literal["rating_bonus"] = field(default="rating_bonus", init=False)

    def __post_init__(self) -> None:
        _nonneg_int(self.bonus_cents, "bonus_cents")
        if isinstance(self.min_rating, bool) or not isinstance(self.min_rating, int) \
                or not 1 <= self.min_rating <= 5:
            raise RuleError("min_rating must be an int within 1..5")

    def applies(self, outcome: CaseOutcome) -> bool:
        """True when this bonus is earned by the outcome."""
        return outcome.rating is not None and outcome.rating >= self.min_rating

    def to_dict(self) -> dict[str, Any]:
        """Serialise to a JSON-friendly dict."""
        return {"type": self.type, "bonus_cents": self.bonus_cents, "min_rating": self.min_rating}


@dataclass(frozen=True)
class FastResponseBonus:
    """Pay `bonus_cents` when the first expert response came within `within_seconds`."""

    bonus_cents: int
    within_seconds: int
    type: Literal["fast_response_bonus"] = field(default="fast_response_bonus", init=False)

    def __post_init__(self) -> None:
        _nonneg_int(self.bonus_cents, "bonus_cents")
        _nonneg_int(self.within_seconds, "within_seconds")

    def applies(self, outcome: CaseOutcome) -> bool:
        """True when this bonus is earned by the outcome."""
        return (outcome.first_response_seconds is not None
                and outcome.first_response_seconds <= self.within_seconds)

    def to_dict(self) -> dict[str, Any]:
        """Serialise to a JSON-friendly dict."""
        return {"type": self.type, "bonus_cents": self.bonus_cents,
                "within_seconds": self.within_seconds}


Rule = Union[RatingBonus, FastResponseBonus]


def rule_from_dict(data: Mapping[str, Any]) -> Rule:
    """Parse one rule dict produced by `to_dict`."""
    if not isinstance(data, Mapping):
        raise RuleError("rule must be a mapping")
    kind = data.get("type")
    try:
        if kind == "rating_bonus":
            return RatingBonus(bonus_cents=data["bonus_cents"], min_rating=data.get("min_rating", 5))
        if kind == "fast_response_bonus":
            return FastResponseBonus(bonus_cents=data["bonus_cents"],
                                     within_seconds=data["within_seconds"])
    except KeyError as exc:
        raise RuleError(f"missing field {exc} in rule {dict(data)!r}") from None
    raise RuleError(f"unknown rule type {kind!r}")


@dataclass(frozen=True)
class RewardRules:
    """A brand's bonus rules plus an optional cap on the bonus total per case."""

    rules: tuple[Rule, ...] = ()
    max_bonus_cents: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", tuple(self.rules))
        if self.max_bonus_cents is not None:
            _nonneg_int(self.max_bonus_cents, "max_bonus_cents")

    def to_dict(self) -> dict[str, Any]:
        """Serialise to a JSON-friendly dict (what the brand row stores)."""
        return {"rules": [r.to_dict() for r in self.rules], "max_bonus_cents": self.max_bonus_cents}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> RewardRules:
        """Parse `to_dict` output; None or {} means no bonus rules."""
        if not data:
            return cls()
        raw_rules = data.get("rules", [])
        if not isinstance(raw_rules, list):
            raise RuleError("rules must be a list")
        return cls(rules=tuple(rule_from_dict(r) for r in raw_rules),
                   max_bonus_cents=data.get("max_bonus_cents"))


@dataclass(frozen=True)
class RewardLine:
    """One component of a reward (base or a bonus)."""

    label: str
    amount: Money


def reward_breakdown(reward_cents: int, currency: str, outcome: CaseOutcome,
                     rules: RewardRules | None = None) -> list[RewardLine]:
    """Itemise the reward for a case; empty when the case is not payable."""
    _nonneg_int(reward_cents, "reward_cents")
    if outcome.status not in PAYABLE_STATUSES:
        return []
    lines = [RewardLine("base", Money(reward_cents, currency))]
    rules = rules or RewardRules()
    budget = rules.max_bonus_cents
    for rule in rules.rules:
        if not rule.applies(outcome) or rule.bonus_cents == 0:
            continue
        amount = rule.bonus_cents if budget is None else min(rule.bonus_cents, budget)
        if budget is not None:
            budget -= amount
        if amount:
            lines.append(RewardLine(rule.type, Money(amount, currency)))
    return lines


def compute_reward(reward_cents: int, currency: str, outcome: CaseOutcome,
                   rules: RewardRules | None = None) -> Money:
    """Total reward for a case: zero unless resolved, else base plus earned bonuses."""
    total = Money.zero(currency)
    for line in reward_breakdown(reward_cents, currency, outcome, rules):
        total = total + line.amount
    return total
