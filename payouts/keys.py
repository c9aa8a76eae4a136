"""Idempotency keys of ledger transactions: one builder per key.

A key is `prefix:ref...`; posting twice under one key posts once, and `ledger.preconditions`
pairs keys by prefix (a release needs its reward, a payout is paid or failed, never both).
Whoever posts, looks up or searches a key builds it here, so the spellings cannot drift.
"""

from __future__ import annotations

REWARD = "reward"
BONUS = "bonus"
RELEASE = "release"
REVERSE = "reverse"
FEE = "fee"
PAYOUT = "payout"
PAYOUT_PAID = "payout-paid"
PAYOUT_FAILED = "payout-failed"
PAYOUT_REVERSED = "payout-reversed"
REVERSAL_REPAY = "reversal-repay"
REVERSAL_WRITE_OFF = "reversal-writeoff"
FUND = "fund"
FUND_RETURN = "fund-return"
FUND_RESTORE = "fund-restore"
STRIPE_FEE = "stripe-fee"


def ref(value: object, name: str) -> str:
    """One part of a key: non-empty, without a colon or whitespace."""
    text = str(value)
    if not text or ":" in text or any(c.isspace() for c in text):
        raise ValueError(f"invalid {name}: {value!r}")
    return text


def join(prefix: str, rest: str) -> str:
    """`prefix:rest` (the inverse of `split`)."""
    return f"{prefix}:{rest}"


def split(key: str) -> tuple[str, str]:
    """A key's prefix and the rest, which names what it is about ('case:7', '12:trr_1')."""
    prefix, _, rest = key.partition(":")
    return prefix, rest


def _case(prefix: str, case_id: object) -> str:
    return join(prefix, f"case:{ref(case_id, 'case_id')}")


def reward_key(case_id: object) -> str:
    """Idempotency key of the reward credit for a case."""
    return _case(REWARD, case_id)


def bonus_key(case_id: object, rule: str = "rating") -> str:
    """Idempotency key of a bonus credited after the reward (the rating bonus)."""
    return f"{_case(BONUS, case_id)}:{ref(rule, 'rule')}"


def release_key(case_id: object) -> str:
    """Idempotency key of the end-of-review-window release for a case."""
    return _case(RELEASE, case_id)


def reverse_key(case_id: object) -> str:
    """Idempotency key of a brand rejection reversing a case reward."""
    return _case(REVERSE, case_id)


def fee_key(case_id: object) -> str:
    """Idempotency key of the platform's fee on a case."""
    return _case(FEE, case_id)


def payout_key(payout_id: object) -> str:
    """Idempotency key of the start of a payout (available -> in_transit)."""
    return join(PAYOUT, ref(payout_id, "payout_id"))


def payout_paid_key(payout_id: object) -> str:
    """Idempotency key of a payout confirmed paid (in_transit -> paid)."""
    return join(PAYOUT_PAID, ref(payout_id, "payout_id"))


def payout_failed_key(payout_id: object) -> str:
    """Idempotency key of a failed payout (in_transit -> available)."""
    return join(PAYOUT_FAILED, ref(payout_id, "payout_id"))


def reversal_key(payout_id: object, reversal_id: object) -> str:
    """Idempotency key of one reversal of a paid transfer."""
    return join(PAYOUT_REVERSED, f"{ref(payout_id, 'payout_id')}:{ref(reversal_id, 'reversal_id')}")


def reversals_like(payout_id: object) -> str:
    """SQL LIKE pattern matching every reversal key of one payout."""
    return join(PAYOUT_REVERSED, f"{ref(payout_id, 'payout_id')}:%")


def reversal_repay_key(payout_id: object, reversal_id: object) -> str:
    """Idempotency key of the operator paying a reversed amount again."""
    return join(REVERSAL_REPAY, f"{ref(payout_id, 'payout_id')}:{ref(reversal_id, 'reversal_id')}")


def reversal_write_off_key(payout_id: object, reversal_id: object) -> str:
    """Idempotency key of the operator writing a reversed amount off."""
    return join(REVERSAL_WRITE_OFF, f"{ref(payout_id, 'payout_id')}:{ref(reversal_id, 'reversal_id')}")


def fund_key(funding_ref: object) -> str:
    """Idempotency key of a brand's top-up."""
    return join(FUND, ref(funding_ref, "funding_ref"))


def fund_return_key(event_ref: object) -> str:
    """Idempotency key of a top-up going back to the brand (refund, dispute lost)."""
    return join(FUND_RETURN, ref(event_ref, "ref"))


def fund_restore_key(event_ref: object) -> str:
    """Idempotency key of a disputed top-up coming back (dispute won)."""
    return join(FUND_RESTORE, ref(event_ref, "ref"))


def stripe_fee_key(balance_transaction_id: object) -> str:
    """Idempotency key of Stripe's fee on one balance transaction."""
    return join(STRIPE_FEE, ref(balance_transaction_id, "balance_transaction_id"))
