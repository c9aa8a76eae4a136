"""Pure builders: one balanced, deterministically keyed Transaction per business event."""

from __future__ import annotations

from collections.abc import Mapping

from . import accounts as acc
from .keys import (
    fee_key,
    fund_key,
    fund_restore_key,
    fund_return_key,
    payout_failed_key,
    payout_key,
    payout_paid_key,
    release_key,
    reversal_key,
    reversal_repay_key,
    reversal_write_off_key,
    reverse_key,
    reward_key,
    stripe_fee_key,
)
from .keys import ref as _ref
from .ledger import Entry, Transaction
from .money import Money

KIND_FUND = "fund"
KIND_REWARD = "reward"
KIND_RELEASE = "release"
KIND_REVERSE = "reverse"
KIND_PAYOUT_START = "payout_start"
KIND_PAYOUT_PAID = "payout_paid"
KIND_PAYOUT_FAILED = "payout_failed"
KIND_PAYOUT_REVERSED = "payout_reversed"
KIND_REVERSAL_REPAY = "reversal_repay"
KIND_REVERSAL_WRITE_OFF = "reversal_write_off"
KIND_FUND_RETURN = "fund_return"
KIND_PLATFORM_FEE = "platform_fee"
KIND_STRIPE_FEE = "stripe_fee"


def _positive(amount: Money) -> Money:
    if amount.cents <= 0:
        raise ValueError(f"amount must be positive, got {amount.cents}")
    return amount


def _move(key: str, kind: str, src: str, dst: str, amount: Money, memo: str,
          metadata: Mapping[str, str]) -> Transaction:
    amount = _positive(amount)
    return Transaction(key=key, kind=kind, memo=memo, metadata=dict(metadata), entries=(
        Entry(src, -amount.cents, amount.currency), Entry(dst, amount.cents, amount.currency)))


def fund_brand(brand_id: object, amount: Money, funding_ref: object, memo: str = "") -> Transaction:
    """Brand tops up its budget: brand funding (external) -> brand budget; key fund:{funding_ref}."""
    ref = _ref(funding_ref, "funding_ref")
    return _move(fund_key(ref), KIND_FUND, acc.brand_funding(brand_id), acc.brand_budget(brand_id),
                 amount, memo or f"budget top-up {ref}",
                 {"brand_id": str(brand_id), "funding_ref": ref})


def credit_reward(case_id: object, brand_id: object, expert_id: object, amount: Money,
                  memo: str = "") -> Transaction:
    """Resolved case: brand budget -> expert pending (the budget may go negative, see budget.py)."""
    return _move(reward_key(case_id), KIND_REWARD, acc.brand_budget(brand_id),
                 acc.expert_pending(expert_id), amount, memo or f"reward for case {case_id}",
                 {"case_id": str(case_id), "brand_id": str(brand_id), "expert_id": str(expert_id)})


def release_reward(case_id: object, expert_id: object, amount: Money, memo: str = "") -> Transaction:
    """Review window over without rejection: expert pending -> expert available."""
    return _move(release_key(case_id), KIND_RELEASE, acc.expert_pending(expert_id),
                 acc.expert_available(expert_id), amount, memo or f"release case {case_id}",
                 {"case_id": str(case_id), "expert_id": str(expert_id)})


def reverse_reward(case_id: object, brand_id: object, expert_id: object, amount: Money,
                   memo: str = "") -> Transaction:
    """Brand rejects inside the window: expert pending -> brand budget (refused after release)."""
    return _move(reverse_key(case_id), KIND_REVERSE, acc.expert_pending(expert_id),
                 acc.brand_budget(brand_id), amount, memo or f"brand rejected case {case_id}",
                 {"case_id": str(case_id), "brand_id": str(brand_id), "expert_id": str(expert_id)})


def start_payout(payout_id: object, expert_id: object, amount: Money, memo: str = "") -> Transaction:
    """Payout run picks the money: expert available -> expert in_transit, before calling Stripe."""
    return _move(payout_key(payout_id), KIND_PAYOUT_START, acc.expert_available(expert_id),
                 acc.expert_in_transit(expert_id), amount, memo or f"payout {payout_id} started",
                 {"payout_id": str(payout_id), "expert_id": str(expert_id)})


def payout_succeeded(payout_id: object, expert_id: object, amount: Money,
                     external_ref: str = "", memo: str = "") -> Transaction:
    """Transfer confirmed (or manual payment confirmed): in_transit -> paid."""
    pid = _ref(payout_id, "payout_id")
    return _move(payout_paid_key(pid), KIND_PAYOUT_PAID, acc.expert_in_transit(expert_id),
                 acc.expert_paid(expert_id), amount, memo or f"payout {pid} paid",
                 {"payout_id": pid, "expert_id": str(expert_id), "external_ref": external_ref})


def payout_failed(payout_id: object, expert_id: object, amount: Money, reason: str = "",
                  memo: str = "") -> Transaction:
    """Transfer permanently failed: in_transit -> available, so the next run can retry it."""
    pid = _ref(payout_id, "payout_id")
    return _move(payout_failed_key(pid), KIND_PAYOUT_FAILED, acc.expert_in_transit(expert_id),
                 acc.expert_available(expert_id), amount, memo or f"payout {pid} failed",
                 {"payout_id": pid, "expert_id": str(expert_id), "reason": reason})


def payout_reversed(payout_id: object, expert_id: object, amount: Money, reversal_id: object = "full",
                    memo: str = "") -> Transaction:
    """A paid transfer came back (transfer.reversed): paid -> held, until the operator decides."""
    pid = _ref(payout_id, "payout_id")
    rid = _ref(reversal_id, "reversal_id")
    return _move(reversal_key(pid, rid), KIND_PAYOUT_REVERSED, acc.expert_paid(expert_id),
                 acc.expert_held(expert_id), amount, memo or f"payout {pid} reversed ({rid}): held",
                 {"payout_id": pid, "expert_id": str(expert_id), "reversal_id": rid})


def reversal_repaid(payout_id: object, expert_id: object, amount: Money, reversal_id: object,
                    memo: str = "") -> Transaction:
    """Operator decides to pay a reversed amount again: held -> available (the next run pays it)."""
    pid, rid = _ref(payout_id, "payout_id"), _ref(reversal_id, "reversal_id")
    return _move(reversal_repay_key(pid, rid), KIND_REVERSAL_REPAY, acc.expert_held(expert_id),
                 acc.expert_available(expert_id), amount, memo or f"reversal {rid} of payout {pid}: pay again",
                 {"payout_id": pid, "expert_id": str(expert_id), "reversal_id": rid})


def reversal_written_off(payout_id: object, expert_id: object, amount: Money, reversal_id: object,
                         memo: str = "") -> Transaction:
    """Operator decides not to pay a reversed amount again: held -> platform written_off."""
    pid, rid = _ref(payout_id, "payout_id"), _ref(reversal_id, "reversal_id")
    return _move(reversal_write_off_key(pid, rid), KIND_REVERSAL_WRITE_OFF, acc.expert_held(expert_id),
                 acc.platform_written_off(), amount, memo or f"reversal {rid} of payout {pid}: written off",
                 {"payout_id": pid, "expert_id": str(expert_id), "reversal_id": rid})


def fund_returned(brand_id: object, amount: Money, ref: object, memo: str = "") -> Transaction:
    """A captured top-up went back to the brand (refund, or a dispute lost): budget -> funding.

    `ref` names the event (`refund:{re_id}`, `dispute:{dp_id}`); a won dispute posts the opposite
    movement with `fund_restored`.
    """
    r = _ref(ref, "ref")
    return _move(fund_return_key(r), KIND_FUND_RETURN, acc.brand_budget(brand_id),
                 acc.brand_funding(brand_id), amount, memo or f"top-up returned ({r})",
                 {"brand_id": str(brand_id), "funding_ref": r})


def fund_restored(brand_id: object, amount: Money, ref: object, memo: str = "") -> Transaction:
    """A disputed top-up came back to the platform (dispute won): funding -> budget."""
    r = _ref(ref, "ref")
    return _move(fund_restore_key(r), KIND_FUND, acc.brand_funding(brand_id),
                 acc.brand_budget(brand_id), amount, memo or f"top-up restored ({r})",
                 {"brand_id": str(brand_id), "funding_ref": r})


def platform_fee(case_id: object, brand_id: object, amount: Money, memo: str = "") -> Transaction:
    """The platform's fee on a resolved case: brand budget -> platform revenue."""
    return _move(fee_key(case_id), KIND_PLATFORM_FEE, acc.brand_budget(brand_id),
                 acc.platform_revenue(), amount, memo or f"platform fee for case {case_id}",
                 {"case_id": str(case_id), "brand_id": str(brand_id)})


def stripe_fee(balance_transaction_id: object, brand_id: object, amount: Money, memo: str = "") -> Transaction:
    """Stripe's fee on a brand's top-up (its balance transaction): platform revenue -> stripe_fees.

    The platform bears Stripe's fees: the brand's budget is credited with what it paid.
    """
    ref = _ref(balance_transaction_id, "balance_transaction_id")
    return _move(stripe_fee_key(ref), KIND_STRIPE_FEE, acc.platform_revenue(), acc.platform_stripe_fees(),
                 amount, memo or f"Stripe fee ({ref})",
                 {"brand_id": str(brand_id), "balance_transaction": ref})
