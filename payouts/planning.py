"""Payout planning: which experts get paid how much in a payout run."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Union

from .accounts import parse_account
from .ledger import BalanceKey
from .money import Money


@dataclass(frozen=True)
class PlannedPayout:
    """One payout to make in a run: a deterministic id, the expert and the amount."""

    payout_id: str
    expert_id: str
    amount: Money


Available = Mapping[str, Union[Money, Sequence[Money]]]


def available_by_expert(balances: Mapping[BalanceKey, int]) -> dict[str, list[Money]]:
    """Extract every expert's positive `available` balances from a balances() fold."""
    result: dict[str, list[Money]] = {}
    for (account, currency), cents in sorted(balances.items()):
        name = parse_account(account)
        if name.owner == "expert" and name.bucket == "available" and cents > 0:
            result.setdefault(name.owner_id, []).append(Money(cents, currency))
    return result


def _as_list(value: Union[Money, Sequence[Money]]) -> Iterable[Money]:
    return [value] if isinstance(value, Money) else value


def plan_payouts(available: Available, minimum_cents: Union[int, Mapping[str, int]], run_id: str,
                 *, max_payout_cents: int | None = None,
                 eligible: Callable[[str], bool] | None = None) -> list[PlannedPayout]:
    """Plan one payout per (expert, currency) whose available balance is at or above the minimum."""
    if not run_id or ":" in run_id:
        raise ValueError("run_id must be non-empty and contain no ':'")
    if max_payout_cents is not None and max_payout_cents <= 0:
        raise ValueError("max_payout_cents must be positive")
    plans: list[PlannedPayout] = []
    for expert_id in sorted(available, key=str):
        if eligible is not None and not eligible(expert_id):
            continue
        for money in sorted(_as_list(available[expert_id]), key=lambda m: m.currency):
            if isinstance(minimum_cents, int):
                minimum = minimum_cents
            else:
                minimum = minimum_cents.get(money.currency, 0)
            if money.cents <= 0 or money.cents < max(minimum, 1):
                continue
            cents = money.cents if max_payout_cents is None else min(money.cents, max_payout_cents)
            plans.append(PlannedPayout(payout_id=f"{run_id}-{expert_id}-{money.currency}",
                                       expert_id=str(expert_id), amount=Money(cents, money.currency)))
    return plans
