"""The one payout gateway protocol: what a payout run asks of Stripe, or of a human.

A run reserves the money (available -> in_transit) and then hands a `PayoutOrder` to the
gateway. The gateway answers with one of the outcomes below, and the app settles the ledger
from the outcome alone: it never asks which gateway it is talking to.

* `Sent`            the money left (a transfer exists): in_transit -> paid.
* `AwaitingManual`  a human must pay it: the payout stays in transit until marked paid.
* `Refused`         the provider definitely refused the creation and a successful look-up
                    proved nothing was sent: in_transit -> available (the payout failed).
* `Waiting`         definitely not sent, for a reason that passes by itself (the platform's
                    balance is not settled yet): stays in transit, retried on the next run.
* `Unknown`         anything else (a lost answer, a failed look-up, a 5xx, a mismatch): the
                    payout stays in transit, needs the operator's attention, and is retried.

`rekey` tells the app that the attempt got a definite answer, which the provider keeps under
its idempotency key: the next attempt must use a new key (after a look-up found nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Protocol, Union

from .money import Money


@dataclass(frozen=True)
class PayoutOrder:
    """One reserved payout, as the gateway needs it. `uid` is random, never a database id."""

    payout_id: str
    uid: str
    attempt: int
    expert_id: str
    amount: Money
    destination: Optional[str] = None
    payee_name: str = ""
    payee_email: str = ""

    @property
    def idempotency_key(self) -> str:
        """The provider's idempotency key of this attempt."""
        return f"gigcx-transfer-{self.uid}" + (f"-{self.attempt}" if self.attempt else "")

    @property
    def group(self) -> str:
        """The provider-side tag of every transfer of this payout, whatever the attempt."""
        return f"gigcx_payout_{self.uid}"


@dataclass(frozen=True)
class Sent:
    """The money left: `reference` is the transfer id (or the manual payment reference)."""

    reference: str
    created_now: bool = True


@dataclass(frozen=True)
class AwaitingManual:
    """Nothing was sent: a human pays from the statement and marks the batch paid."""

    status: str = "awaiting_manual_payment"


@dataclass(frozen=True)
class Refused:
    """Definitely not sent (a refusal, and a look-up proved no transfer exists)."""

    reason: str
    rekey: bool = True


@dataclass(frozen=True)
class Waiting:
    """Definitely not sent yet, for a temporary reason: try again on the next run."""

    reason: str
    rekey: bool = True


@dataclass(frozen=True)
class Unknown:
    """The outcome is not known: keep the money in transit and show it to the operator."""

    reason: str
    rekey: bool = False


Outcome = Union[Sent, AwaitingManual, Refused, Waiting, Unknown]


@dataclass(frozen=True)
class PayeeCheck:
    """Whether an expert can be paid now, and why not."""

    ready: bool
    reason: str = ""


class PayoutGateway(Protocol):
    """Stripe Connect or manual payment, chosen from configuration at start-up."""

    mode: str
    """`stripe` or `manual`: shown in run results and statements."""

    def check_payee(self, destination: Optional[str]) -> PayeeCheck:
        """Whether money can be sent to this destination now (live, before each new payout)."""

    def send_payout(self, order: PayoutOrder) -> Outcome:
        """Send the reserved payout at most once, whatever happened to earlier attempts."""

    def verify_settlement(self, order: PayoutOrder, transfer_id: Optional[str]) -> str:
        """Check the operator's evidence (a transfer id, or None for "not sent"); "" if it holds."""
