"""Stripe Connect gateway for GigCX payouts: no Flask, no app imports, built from config values.

Every call goes through a per-instance ``stripe.StripeClient`` (never the global ``stripe.api_key``).
Stripe errors are wrapped into :class:`TemporaryGatewayError` (retry later) or
:class:`PermanentGatewayError` (mark failed). Webhooks are verified and mapped to plain dataclasses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Optional, TypeVar, Union

import stripe

T = TypeVar("T")


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------

class GatewayError(Exception):
    """Base class for payment gateway failures."""

    temporary = False

    def __init__(self, message: str, *, code: Optional[str] = None,
                 http_status: Optional[int] = None, request_id: Optional[str] = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.http_status = http_status
        self.request_id = request_id


class TemporaryGatewayError(GatewayError):
    """Timeout, connection loss, rate limit, lock conflict or 5xx: retry later (the outcome may be unknown)."""

    temporary = True


class PermanentGatewayError(GatewayError):
    """Stripe refused the request (bad params, no such account, auth): retrying will not help."""


class IdempotencyConflict(PermanentGatewayError):
    """Stripe refused an Idempotency-Key already used with other parameters (400 idempotency_error)."""


class PaymentDeclined(PermanentGatewayError):
    """The payment method was declined (402 card_error); ``message`` is Stripe's reason for the payer."""


class WebhookVerificationError(PermanentGatewayError):
    """The webhook signature or payload is invalid, or no webhook secret is configured."""


def _classify(exc: stripe.StripeError) -> GatewayError:
    """Map a stripe SDK error to the gateway hierarchy."""
    status = exc.http_status
    kwargs: dict[str, Any] = {"code": exc.code, "http_status": status,
                              "request_id": exc.request_id}
    message = exc.user_message or str(exc) or type(exc).__name__
    if isinstance(exc, (stripe.APIConnectionError, stripe.RateLimitError)):
        return TemporaryGatewayError(message, **kwargs)
    if status is not None and (status >= 500 or status in (409, 429)):  # 409: the same key is in flight
        return TemporaryGatewayError(message, **kwargs)
    if isinstance(exc, stripe.IdempotencyError):
        return IdempotencyConflict(message, **kwargs)
    if isinstance(exc, stripe.CardError):
        return PaymentDeclined(message, **kwargs)
    if isinstance(exc, stripe.APIError) and status is None:
        return TemporaryGatewayError(message, **kwargs)
    return PermanentGatewayError(message, **kwargs)


def _call(fn: Callable[[], T]) -> T:
    try:
        return fn()
    except stripe.StripeError as exc:
        raise _classify(exc) from exc


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ConnectedAccount:
    """A connected (Express) account's onboarding state."""

    account_id: str
    expert_id: Optional[str]
    charges_enabled: bool
    payouts_enabled: bool
    details_submitted: bool
    requirements_due: tuple[str, ...] = ()

    @property
    def ready_for_payouts(self) -> bool:
        """True when transfers to this account can be paid out to the expert's bank."""
        return self.payouts_enabled and self.details_submitted


@dataclass(frozen=True)
class AccountLink:
    """A one-time onboarding URL for an expert."""

    url: str
    expires_at: int


@dataclass(frozen=True)
class Funding:
    """A PaymentIntent that funds a brand budget."""

    payment_intent_id: str
    brand_id: Optional[str]
    amount_cents: int
    currency: str
    status: str
    client_secret: Optional[str]
    failure_message: Optional[str] = None  # last_payment_error.message: why the last attempt failed

    @property
    def succeeded(self) -> bool:
        """True once the money is captured (post fund_brand only then)."""
        return self.status == "succeeded"


@dataclass(frozen=True)
class TransferResult:
    """A Stripe transfer made for one GigCX payout."""

    transfer_id: str
    payout_id: str
    expert_id: Optional[str]
    destination: str
    amount_cents: int
    currency: str
    amount_reversed: int = 0
    created_now: bool = True


# --------------------------------------------------------------------------------------------
# Webhook events (plain dataclasses; `created` is Stripe's event timestamp, for ordering)
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AccountUpdated:
    """account.updated: a connected account's onboarding state changed."""

    event_id: str
    created: int
    account: ConnectedAccount


@dataclass(frozen=True)
class TransferReversed:
    """transfer.reversed: money of a (paid) transfer came back to the platform."""

    event_id: str
    created: int
    transfer_id: str
    payout_id: Optional[str]
    expert_id: Optional[str]
    amount_cents: int
    amount_reversed_cents: int
    currency: str
    reversal_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class PayoutUpdate:
    """payout.paid / payout.failed: a connected account's bank payout (informational for GigCX)."""

    event_id: str
    created: int
    type: str
    payout_id: str
    account_id: Optional[str]
    amount_cents: int
    currency: str
    status: str
    failure_code: Optional[str] = None
    failure_message: Optional[str] = None


@dataclass(frozen=True)
class PaymentSucceeded:
    """payment_intent.succeeded: a brand's budget top-up was captured."""

    event_id: str
    created: int
    payment_intent_id: str
    brand_id: Optional[str]
    amount_cents: int
    currency: str


@dataclass(frozen=True)
class UnhandledEvent:
    """Any other verified event; acknowledge it and ignore it."""

    event_id: str
    created: int
    type: str
    data: Mapping[str, Any] = field(default_factory=dict)


WebhookEvent = Union[AccountUpdated, TransferReversed, PayoutUpdate, PaymentSucceeded,
                     UnhandledEvent]


def is_newer(event_created: int, event_id: str, last_created: Optional[int],
             last_event_id: Optional[str]) -> bool:
    """Order rule for snapshot events: apply only if strictly newer, or same second but a new id."""
    if last_created is None:
        return True
    if event_created != last_created:
        return event_created > last_created
    return event_id != last_event_id


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------

def _plain(obj: Any) -> Any:
    """Turn a StripeObject (not a Mapping in stripe>=13) into plain dicts and lists."""
    to_dict = getattr(obj, "to_dict", None)
    return to_dict() if callable(to_dict) else obj


def _get(obj: Any, key: str, default: Any = None) -> Any:
    """Read a key from a StripeObject or dict without raising."""
    obj = _plain(obj)
    value = obj.get(key) if isinstance(obj, dict) else None
    return default if value is None else value


def _metadata(obj: Any) -> dict[str, str]:
    meta = _get(obj, "metadata", {})
    if not isinstance(meta, dict):
        return {}
    return {str(k): str(v) for k, v in meta.items()}


def _account(obj: Any) -> ConnectedAccount:
    requirements = _get(obj, "requirements", {}) or {}
    due = tuple(str(x) for x in (_get(requirements, "currently_due", []) or []))
    return ConnectedAccount(account_id=str(_get(obj, "id", "")),
                            expert_id=_metadata(obj).get("expert_id"),
                            charges_enabled=bool(_get(obj, "charges_enabled", False)),
                            payouts_enabled=bool(_get(obj, "payouts_enabled", False)),
                            details_submitted=bool(_get(obj, "details_submitted", False)),
                            requirements_due=due)


def _transfer(obj: Any, created_now: bool) -> TransferResult:
    meta = _metadata(obj)
    return TransferResult(transfer_id=str(_get(obj, "id", "")),
                          payout_id=meta.get("payout_id", ""), expert_id=meta.get("expert_id"),
                          destination=str(_get(obj, "destination", "")),
                          amount_cents=int(_get(obj, "amount", 0)),
                          currency=str(_get(obj, "currency", "")),
                          amount_reversed=int(_get(obj, "amount_reversed", 0)),
                          created_now=created_now)


def transfer_group_for(payout_id: str) -> str:
    """The transfer_group that tags every Stripe transfer of one GigCX payout."""
    return f"gigcx_payout_{payout_id}"


def transfer_idempotency_key(payout_id: str) -> str:
    """The Idempotency-Key used when creating the transfer of one GigCX payout."""
    return f"gigcx-transfer-{payout_id}"


# --------------------------------------------------------------------------------------------
# Gateway
# --------------------------------------------------------------------------------------------

class StripeGateway:
    """Stripe Connect operations GigCX needs, on a per-instance StripeClient."""

    name = "stripe"

    def __init__(self, api_key: str, api_base: Optional[str] = None,
                 webhook_secret: Optional[str] = None, *, timeout_seconds: float = 30.0,
                 max_network_retries: int = 2, webhook_tolerance_seconds: int = 300) -> None:
        if not api_key:
            raise ValueError("api_key is required for StripeGateway")
        base_addresses: dict[str, str] = {}
        if api_base:
            base_addresses["api"] = api_base.rstrip("/")
        http_client = stripe.RequestsClient(timeout=timeout_seconds)
        # Keyword arguments as in stripe>=8 StripeClient; base_addresses["api"] replaces api.stripe.com.
        self._client = stripe.StripeClient(api_key, base_addresses=base_addresses or None,  # type: ignore[arg-type]
                                           max_network_retries=max_network_retries,
                                           http_client=http_client)
        self._webhook_secret = webhook_secret
        self._tolerance = webhook_tolerance_seconds

    @property
    def client(self) -> stripe.StripeClient:
        """The underlying StripeClient (for calls the gateway does not wrap)."""
        return self._client

    # ---- Connect accounts -----------------------------------------------------------------

    def create_expert_account(self, expert_id: str, *, email: Optional[str] = None,
                              country: Optional[str] = None,
                              idempotency_key: Optional[str] = None) -> ConnectedAccount:
        """Create an Express connected account tagged with metadata expert_id."""
        params: dict[str, Any] = {"type": "express", "metadata": {"expert_id": str(expert_id)},
                                  "capabilities": {"transfers": {"requested": True}}}
        if email:
            params["email"] = email
        if country:
            params["country"] = country
        key = idempotency_key or f"gigcx-account-expert-{expert_id}"
        acct = _call(lambda: self._client.v1.accounts.create(
            params=params, options={"idempotency_key": key}))  # type: ignore[arg-type]
        return _account(acct)

    def create_account_link(self, account_id: str, refresh_url: str, return_url: str) -> AccountLink:
        """Create a one-time Express onboarding URL for the account."""
        link = _call(lambda: self._client.v1.account_links.create(params={
            "account": account_id, "refresh_url": refresh_url, "return_url": return_url,
            "type": "account_onboarding"}))
        return AccountLink(url=str(link.url), expires_at=int(link.expires_at))

    def retrieve_account(self, account_id: str) -> ConnectedAccount:
        """Fetch the current onboarding state (the authoritative answer to an account.updated)."""
        return _account(_call(lambda: self._client.v1.accounts.retrieve(account_id)))

    # ---- Brand funding --------------------------------------------------------------------

    def fund_brand_budget(self, brand_id: str, amount_cents: int, currency: str,
                          idempotency_key: str, *, payment_method: Optional[str] = None,
                          customer: Optional[str] = None, confirm: bool = False) -> Funding:
        """Create (and optionally confirm) a PaymentIntent topping up a brand budget."""
        if amount_cents <= 0:
            raise ValueError("amount_cents must be positive")
        params: dict[str, Any] = {"amount": amount_cents, "currency": currency.lower(),
                                  "metadata": {"brand_id": str(brand_id),
                                               "purpose": "gigcx_budget_topup"}}
        if payment_method:
            params["payment_method"] = payment_method
        if customer:
            params["customer"] = customer
        if confirm:
            params["confirm"] = True
        pi = _call(lambda: self._client.v1.payment_intents.create(
            params=params, options={"idempotency_key": idempotency_key}))  # type: ignore[arg-type]
        return Funding(payment_intent_id=str(pi.id), brand_id=_metadata(pi).get("brand_id"),
                       amount_cents=int(pi.amount), currency=str(pi.currency),
                       status=str(pi.status), client_secret=_get(pi, "client_secret"),
                       failure_message=_get(_get(pi, "last_payment_error", {}), "message"))

    # ---- Transfers (payouts) --------------------------------------------------------------

    def find_transfer(self, payout_id: str, destination: Optional[str] = None) -> Optional[TransferResult]:
        """Find the transfer already made for a payout (by transfer_group, checked by metadata)."""
        params: dict[str, Any] = {"transfer_group": transfer_group_for(payout_id), "limit": 100}
        if destination:
            params["destination"] = destination
        page = _call(lambda: self._client.v1.transfers.list(params=params))  # type: ignore[arg-type]
        for tr in _call(lambda: list(page.auto_paging_iter())):
            if _metadata(tr).get("payout_id") == str(payout_id):
                return _transfer(tr, created_now=False)
        return None

    def create_transfer(self, payout_id: str, expert_id: str, destination: str,
                        amount_cents: int, currency: str) -> TransferResult:
        """Create the payout's transfer with its idempotency key, metadata and transfer_group."""
        if amount_cents <= 0:
            raise ValueError("amount_cents must be positive")
        params: dict[str, Any] = {
            "amount": amount_cents, "currency": currency.lower(), "destination": destination,
            "transfer_group": transfer_group_for(payout_id),
            "metadata": {"payout_id": str(payout_id), "expert_id": str(expert_id)},
            "description": f"GigCX payout {payout_id}"}
        tr = _call(lambda: self._client.v1.transfers.create(
            params=params,  # type: ignore[arg-type]
            options={"idempotency_key": transfer_idempotency_key(payout_id)}))
        return _transfer(tr, created_now=True)

    def send_payout(self, payout_id: str, expert_id: str, destination: str,
                    amount_cents: int, currency: str) -> TransferResult:
        """Crash-safe payout: return the existing transfer for payout_id, else create exactly one."""
        existing = self.find_transfer(payout_id, destination)
        if existing is not None:
            if existing.amount_cents != amount_cents or existing.currency != currency.lower():
                raise PermanentGatewayError(
                    f"payout {payout_id} already has transfer {existing.transfer_id} "
                    f"for {existing.amount_cents} {existing.currency}", code="payout_mismatch")
            return existing
        return self.create_transfer(payout_id, expert_id, destination, amount_cents, currency)

    def retrieve_transfer(self, transfer_id: str) -> TransferResult:
        """Fetch one transfer by id."""
        return _transfer(_call(lambda: self._client.v1.transfers.retrieve(transfer_id)), False)

    # ---- Webhooks -------------------------------------------------------------------------

    def parse_webhook(self, payload: bytes, signature_header: Optional[str]) -> WebhookEvent:
        """Verify a webhook's Stripe-Signature and map the event to a plain dataclass."""
        if not self._webhook_secret:
            raise WebhookVerificationError("no webhook secret configured")
        try:
            event = self._client.construct_event(payload, signature_header or "",
                                                 self._webhook_secret, self._tolerance)
        except stripe.SignatureVerificationError as exc:
            raise WebhookVerificationError(f"bad signature: {exc.user_message or exc}") from exc
        except ValueError as exc:
            raise WebhookVerificationError(f"bad payload: {exc}") from exc
        return map_event(event)


def map_event(event: Any) -> WebhookEvent:
    """Map a verified Stripe event (StripeObject or dict) to a gateway dataclass."""
    event = _plain(event)
    event_id = str(_get(event, "id", ""))
    created = int(_get(event, "created", 0))
    etype = str(_get(event, "type", ""))
    obj = _get(_get(event, "data", {}), "object", {})
    if etype == "account.updated":
        return AccountUpdated(event_id, created, _account(obj))
    if etype == "transfer.reversed":
        meta = _metadata(obj)
        reversals = _get(_get(obj, "reversals", {}), "data", []) or []
        return TransferReversed(event_id, created, transfer_id=str(_get(obj, "id", "")),
                                payout_id=meta.get("payout_id"), expert_id=meta.get("expert_id"),
                                amount_cents=int(_get(obj, "amount", 0)),
                                amount_reversed_cents=int(_get(obj, "amount_reversed", 0)),
                                currency=str(_get(obj, "currency", "")),
                                reversal_ids=tuple(str(_get(r, "id", "")) for r in reversals))
    if etype in ("payout.paid", "payout.failed"):
        return PayoutUpdate(event_id, created, etype, payout_id=str(_get(obj, "id", "")),
                            account_id=_get(event, "account"),
                            amount_cents=int(_get(obj, "amount", 0)),
                            currency=str(_get(obj, "currency", "")),
                            status=str(_get(obj, "status", "")),
                            failure_code=_get(obj, "failure_code"),
                            failure_message=_get(obj, "failure_message"))
    if etype == "payment_intent.succeeded":
        return PaymentSucceeded(event_id, created, payment_intent_id=str(_get(obj, "id", "")),
                                brand_id=_metadata(obj).get("brand_id"),
                                amount_cents=int(_get(obj, "amount", 0)),
                                currency=str(_get(obj, "currency", "")))
    data = _plain(obj)
    return UnhandledEvent(event_id, created, etype, data if isinstance(data, dict) else {})
