"""Ledger account naming convention and which accounts must never go negative."""

from __future__ import annotations

from dataclasses import dataclass

BRAND_BUCKETS = ("budget", "funding")
EXPERT_BUCKETS = ("pending", "available", "in_transit", "paid", "held")
PLATFORM_BUCKETS = ("revenue", "stripe_fees", "written_off")
PLATFORM_ID = "gigcx"


class AccountNameError(ValueError):
    """Raised for an id or account name that does not follow the convention."""


def _check_id(owner_id: object) -> str:
    text = str(owner_id)
    if not text or ":" in text or any(c.isspace() for c in text):
        raise AccountNameError(f"invalid owner id {owner_id!r}")
    return text


def brand_budget(brand_id: object) -> str:
    """Brand's prepaid budget; negative means the brand owes the platform."""
    return f"brand:{_check_id(brand_id)}:budget"


def brand_funding(brand_id: object) -> str:
    """External source of a brand's money (card/bank); its balance is minus all funding."""
    return f"brand:{_check_id(brand_id)}:funding"


def expert_pending(expert_id: object) -> str:
    """Rewards earned but still inside the brand's review window."""
    return f"expert:{_check_id(expert_id)}:pending"


def expert_available(expert_id: object) -> str:
    """Released rewards that can be paid out."""
    return f"expert:{_check_id(expert_id)}:available"


def expert_in_transit(expert_id: object) -> str:
    """Money in a payout that has started but is not confirmed yet."""
    return f"expert:{_check_id(expert_id)}:in_transit"


def expert_paid(expert_id: object) -> str:
    """Cumulative money that left the platform to the expert (external sink)."""
    return f"expert:{_check_id(expert_id)}:paid"


def expert_held(expert_id: object) -> str:
    """Money of a reversed transfer, waiting for the operator: pay it again or write it off."""
    return f"expert:{_check_id(expert_id)}:held"


def expert_account(expert_id: object, bucket: str) -> str:
    """One of the expert's accounts by bucket name ('pending', 'available', ...)."""
    if bucket not in EXPERT_BUCKETS:
        raise AccountNameError(f"no expert bucket {bucket!r}")
    return f"expert:{_check_id(expert_id)}:{bucket}"


def accounts_like(owner: str, owner_id: object = "%", bucket: str = "%") -> str:
    """SQL LIKE pattern of account names: one owner's accounts, or one bucket of every owner."""
    return f"{owner}:{owner_id}:{bucket}"


def bucket_of(name: str) -> str:
    """The bucket of an account name ('expert:42:pending' -> 'pending')."""
    return parse_account(name).bucket


def platform_revenue() -> str:
    """The platform's fees on rewards (its own money; brands pay it on top of the reward)."""
    return f"platform:{PLATFORM_ID}:revenue"


def platform_stripe_fees() -> str:
    """What Stripe charged the platform (from balance transactions); an expense, so <= 0 normally."""
    return f"platform:{PLATFORM_ID}:stripe_fees"


def platform_written_off() -> str:
    """Reversed transfers the operator decided not to pay again (back in the platform's hands)."""
    return f"platform:{PLATFORM_ID}:written_off"


@dataclass(frozen=True)
class AccountName:
    """A parsed account name: owner kind, owner id and bucket."""

    owner: str
    owner_id: str
    bucket: str


def parse_account(name: str) -> AccountName:
    """Split 'expert:42:pending' into its parts, validating the convention."""
    parts = name.split(":")
    if len(parts) != 3:
        raise AccountNameError(f"bad account name {name!r}")
    owner, owner_id, bucket = parts
    valid = (owner == "brand" and bucket in BRAND_BUCKETS) or (
        owner == "expert" and bucket in EXPERT_BUCKETS) or (
        owner == "platform" and bucket in PLATFORM_BUCKETS)
    if not valid or not owner_id:
        raise AccountNameError(f"bad account name {name!r}")
    return AccountName(owner, owner_id, bucket)


def must_stay_non_negative(name: str) -> bool:
    """Every expert account must stay >= 0; brand and platform accounts may go negative."""
    return parse_account(name).owner == "expert"
