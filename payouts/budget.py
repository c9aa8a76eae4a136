"""Budget-exhaustion policy: rewards are always owed; routing stops once the credit limit is reached."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .rewards import RewardRules

BudgetState = Literal["funded", "low", "in_credit", "exhausted"]


@dataclass(frozen=True)
class BudgetPolicy:
    """How far a brand's budget may go below zero, and when to warn it."""

    credit_limit_cents: int = 0
    low_watermark_cents: int = 0

    def __post_init__(self) -> None:
        for name in ("credit_limit_cents", "low_watermark_cents"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative int")

    def to_dict(self) -> dict[str, int]:
        """Serialise to a JSON-friendly dict."""
        return {"credit_limit_cents": self.credit_limit_cents,
                "low_watermark_cents": self.low_watermark_cents}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> BudgetPolicy:
        """Parse `to_dict` output; None means the default (no credit)."""
        data = data or {}
        return cls(credit_limit_cents=data.get("credit_limit_cents", 0),
                   low_watermark_cents=data.get("low_watermark_cents", 0))


def max_case_reward_cents(reward_cents: int, rules: RewardRules | None = None) -> int:
    """Worst-case reward of one case (base plus every bonus, capped): its budget exposure."""
    rules = rules or RewardRules()
    bonus = sum(r.bonus_cents for r in rules.rules)
    if rules.max_bonus_cents is not None:
        bonus = min(bonus, rules.max_bonus_cents)
    return reward_cents + bonus


def headroom_cents(budget_cents: int, exposure_cents: int, policy: BudgetPolicy) -> int:
    """Money the brand can still commit: budget minus open-case exposure plus credit limit."""
    return budget_cents - exposure_cents + policy.credit_limit_cents


def budget_state(budget_cents: int, exposure_cents: int, policy: BudgetPolicy) -> BudgetState:
    """Classify a brand: funded, low (warn), in_credit (negative but allowed), exhausted (stop routing)."""
    room = headroom_cents(budget_cents, exposure_cents, policy)
    if room <= 0:
        return "exhausted"
    if budget_cents - exposure_cents < 0:
        return "in_credit"
    if budget_cents - exposure_cents <= policy.low_watermark_cents:
        return "low"
    return "funded"


def can_route_case(budget_cents: int, exposure_cents: int, next_case_max_cents: int,
                   policy: BudgetPolicy) -> bool:
    """True when a new case of this brand may be routed without exceeding the credit limit."""
    return headroom_cents(budget_cents, exposure_cents, policy) >= next_case_max_cents


def owed_by_brand_cents(budget_cents: int) -> int:
    """What the brand owes the platform (rewards credited beyond its funding)."""
    return max(0, -budget_cents)


def is_over_credit_limit(budget_cents: int, policy: BudgetPolicy) -> bool:
    """True when rewards already credited pushed the budget below minus the credit limit."""
    return budget_cents < -policy.credit_limit_cents
