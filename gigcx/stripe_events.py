"""Stripe webhook events as plain dataclasses: no Flask, no app imports, no HTTP.

`map_event` turns a verified event (a StripeObject or a dict) into one of the dataclasses
below. Every event keeps Stripe's `livemode` and, for Connect events, the connected `account`
it is about, so the app can drop events of the other mode and check the account.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Optional, Union


def _plain(obj: Any) -> Any:
    """Turn a StripeObject (not a Mapping in stripe>=13) into plain dicts and lists."""
    to_dict = getattr(obj, "to_dict", None)
    return to_dict() if callable(to_dict) else obj


def get(obj: Any, key: str, default: Any = None) -> Any:
    """Read a key from a StripeObject or dict without raising."""
    obj = _plain(obj)
    value = obj.get(key) if isinstance(obj, dict) else None
    return default if value is None else value


def metadata(obj: Any) -> dict[str, str]:
    """The object's metadata as a str -> str dict."""
    meta = get(obj, "metadata", {})
    if not isinstance(meta, dict):
        return {}
    return {str(k): str(v) for k, v in meta.items()}


@dataclass(frozen=True)
class ConnectedAccount:
    """A connected (Express) account's onboarding state."""

    account_id: str
    expert_id: Optional[str]
    charges_enabled: bool
    payouts_enabled: bool
    details_submitted: bool
    requirements_due: tuple[str, ...] = ()
    transfers_capability: str = "inactive"

    @property
    def ready_for_payouts(self) -> bool:
        """Transfers can reach the account and leave it to the expert's bank."""
        return self.payouts_enabled and self.transfers_capability == "active"


def account_from(obj: Any) -> ConnectedAccount:
    """A ConnectedAccount from an account object."""
    requirements = get(obj, "requirements", {}) or {}
    due = tuple(str(x) for x in (get(requirements, "currently_due", []) or []))
    caps = get(obj, "capabilities", {}) or {}
    transfers = get(caps, "transfers", "inactive")
    if isinstance(transfers, dict):  # older API versions: {"status": ...}
        transfers = transfers.get("status", "inactive")
    return ConnectedAccount(account_id=str(get(obj, "id", "")),
                            expert_id=metadata(obj).get("expert_id"),
                            charges_enabled=bool(get(obj, "charges_enabled", False)),
                            payouts_enabled=bool(get(obj, "payouts_enabled", False)),
                            details_submitted=bool(get(obj, "details_submitted", False)),
                            requirements_due=due, transfers_capability=str(transfers))


@dataclass(frozen=True)
class EventBase:
    """What every event has: id, Stripe's timestamp, mode and (Connect) account."""

    event_id: str
    created: int
    livemode: bool = field(default=False, kw_only=True)
    connect_account: Optional[str] = field(default=None, kw_only=True)


@dataclass(frozen=True)
class AccountUpdated(EventBase):
    """account.updated: a connected account's onboarding state changed."""

    account: ConnectedAccount


@dataclass(frozen=True)
class TransferReversed(EventBase):
    """transfer.reversed: money of a (paid) transfer came back to the platform."""

    transfer_id: str
    payout_uid: Optional[str]
    amount_cents: int
    amount_reversed_cents: int
    currency: str
    reversals: tuple[tuple[str, int], ...] = ()  # (reversal id, amount) embedded in the event
    reversals_has_more: bool = False

    @property
    def reversal_ids(self) -> tuple[str, ...]:
        """Ids of the reversals embedded in the event."""
        return tuple(r for r, _ in self.reversals)


@dataclass(frozen=True)
class PayoutUpdate(EventBase):
    """payout.paid / payout.failed: a connected account's bank payout (informational for GigCX)."""

    type: str
    payout_id: str
    account_id: Optional[str]
    amount_cents: int
    currency: str
    status: str
    failure_code: Optional[str] = None
    failure_message: Optional[str] = None


@dataclass(frozen=True)
class PaymentSucceeded(EventBase):
    """payment_intent.succeeded: a brand's budget top-up was captured."""

    payment_intent_id: str
    brand_id: Optional[str]
    amount_cents: int
    currency: str


@dataclass(frozen=True)
class ChargeRefunded(EventBase):
    """charge.refunded: (part of) a top-up went back to the brand's card."""

    charge_id: str
    payment_intent_id: Optional[str]
    brand_id: Optional[str]
    currency: str
    refunds: tuple[tuple[str, int], ...] = ()  # (refund id, amount)
    amount_refunded_cents: int = 0


@dataclass(frozen=True)
class DisputeUpdate(EventBase):
    """charge.dispute.created / charge.dispute.closed on a top-up."""

    type: str
    dispute_id: str
    charge_id: str
    payment_intent_id: Optional[str]
    amount_cents: int
    currency: str
    status: str


@dataclass(frozen=True)
class UnhandledEvent(EventBase):
    """Any other verified event; acknowledge it and ignore it."""

    type: str
    data: Mapping[str, Any] = field(default_factory=dict)


WebhookEvent = Union[AccountUpdated, TransferReversed, PayoutUpdate, PaymentSucceeded,
                     ChargeRefunded, DisputeUpdate, UnhandledEvent]


def is_newer(event_created: int, event_id: str, last_created: Optional[int],
             last_event_id: Optional[str]) -> bool:
    """Order rule for snapshot events: apply only if strictly newer, or same second but a new id."""
    if last_created is None:
        return True
    if event_created != last_created:
        return event_created > last_created
    return event_id != last_event_id


def _pairs(listing: Any) -> tuple[tuple[str, int], ...]:
    return tuple((str(get(r, "id", "")), int(get(r, "amount", 0)))
                 for r in (get(listing, "data", []) or []))


def _intent_of(obj: Any) -> Optional[str]:
    pi = get(obj, "payment_intent")
    if isinstance(pi, dict):
        pi = pi.get("id")
    return str(pi) if pi else None


def map_event(event: Any) -> WebhookEvent:
    """Map a verified Stripe event (StripeObject or dict) to a dataclass."""
    event = _plain(event)
    base: dict[str, Any] = {"event_id": str(get(event, "id", "")),
                            "created": int(get(event, "created", 0)),
                            "livemode": bool(get(event, "livemode", False)),
                            "connect_account": get(event, "account")}
    etype = str(get(event, "type", ""))
    obj = get(get(event, "data", {}), "object", {})
    if etype == "account.updated":
        return AccountUpdated(**base, account=account_from(obj))
    if etype == "transfer.reversed":
        reversals = get(obj, "reversals", {}) or {}
        return TransferReversed(**base, transfer_id=str(get(obj, "id", "")),
                                payout_uid=metadata(obj).get("gigcx_payout"),
                                amount_cents=int(get(obj, "amount", 0)),
                                amount_reversed_cents=int(get(obj, "amount_reversed", 0)),
                                currency=str(get(obj, "currency", "")),
                                reversals=_pairs(reversals),
                                reversals_has_more=bool(get(reversals, "has_more", False)))
    if etype in ("payout.paid", "payout.failed"):
        return PayoutUpdate(**base, type=etype, payout_id=str(get(obj, "id", "")),
                            account_id=get(event, "account"),
                            amount_cents=int(get(obj, "amount", 0)),
                            currency=str(get(obj, "currency", "")),
                            status=str(get(obj, "status", "")),
                            failure_code=get(obj, "failure_code"),
                            failure_message=get(obj, "failure_message"))
    if etype == "payment_intent.succeeded":
        received = get(obj, "amount_received")
        return PaymentSucceeded(**base, payment_intent_id=str(get(obj, "id", "")),
                                brand_id=metadata(obj).get("brand_id"),
                                amount_cents=int(get(obj, "amount", 0) if received is None else received),
                                currency=str(get(obj, "currency", "")))
    if etype == "charge.refunded":
        return ChargeRefunded(**base, charge_id=str(get(obj, "id", "")), payment_intent_id=_intent_of(obj),
                              brand_id=metadata(obj).get("brand_id"),
                              currency=str(get(obj, "currency", "")),
                              refunds=_pairs(get(obj, "refunds", {}) or {}),
                              amount_refunded_cents=int(get(obj, "amount_refunded", 0)))
    if etype in ("charge.dispute.created", "charge.dispute.closed"):
        return DisputeUpdate(**base, type=etype, dispute_id=str(get(obj, "id", "")),
                             charge_id=str(get(obj, "charge", "")), payment_intent_id=_intent_of(obj),
                             amount_cents=int(get(obj, "amount", 0)),
                             currency=str(get(obj, "currency", "")), status=str(get(obj, "status", "")))
    data = _plain(obj)
    return UnhandledEvent(**base, type=etype, data=data if isinstance(data, dict) else {})
