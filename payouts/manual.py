"""Manual payout mode (no Stripe configured): payouts become CSV statements paid by a human."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .gateway import AwaitingManual, Outcome, PayeeCheck, PayoutOrder
from .ledger import Transaction
from .planning import PlannedPayout
from .statements import render_statement
from .transactions import payout_failed, payout_succeeded

MANUAL_STATUS = "awaiting_manual_payment"


@dataclass(frozen=True)
class ManualPayout:
    """A payout that an operator must pay by hand, with its CSV statement."""

    payout_id: str
    expert_id: str
    amount_cents: int
    currency: str
    status: str
    statement_csv: str


class ManualGateway:
    """Gateway used when Stripe is not configured: no I/O, only instructions and ledger transactions."""

    name = "manual"
    mode = "manual"

    def check_payee(self, destination: str | None) -> PayeeCheck:
        """Anyone can be paid by hand."""
        return PayeeCheck(True)

    def send_payout(self, order: PayoutOrder) -> Outcome:
        """Nothing is sent: the operator pays from the statement, then marks the batch paid."""
        return AwaitingManual(MANUAL_STATUS)

    def verify_settlement(self, order: PayoutOrder, transfer_id: str | None) -> str:
        """Nothing to check against: the operator's word is the evidence."""
        return ""

    def prepare_payout(self, payout: PlannedPayout, history: Iterable[Transaction],
                       generated_at: str = "") -> ManualPayout:
        """Mark a started payout for manual payment and render the expert's statement."""
        csv_text = render_statement(payout.expert_id, history, payout=payout, manual=True,
                                    generated_at=generated_at)
        return ManualPayout(payout_id=payout.payout_id, expert_id=payout.expert_id,
                            amount_cents=payout.amount.cents, currency=payout.amount.currency,
                            status=MANUAL_STATUS, statement_csv=csv_text)

    def confirm_paid(self, payout: PlannedPayout, reference: str = "") -> Transaction:
        """Operator confirms the bank transfer: the in_transit -> paid transaction to post."""
        return payout_succeeded(payout.payout_id, payout.expert_id, payout.amount,
                                external_ref=reference or "manual")

    def cancel(self, payout: PlannedPayout, reason: str = "manual payment cancelled") -> Transaction:
        """Operator could not pay: the in_transit -> available transaction to post."""
        return payout_failed(payout.payout_id, payout.expert_id, payout.amount, reason=reason)
