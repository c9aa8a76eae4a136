"""Stripe Connect gateway for GigCX payouts: no Flask, no app imports, built from config values.

Every call goes through a per-instance ``stripe.StripeClient`` (never the global ``stripe.api_key``)
pinned to :data:`STRIPE_API_VERSION`. Stripe errors are wrapped into :class:`TemporaryGatewayError`
or :class:`PermanentGatewayError`; a payout's send answers a `payouts.Outcome` instead, so that
an unknown outcome can never be mistaken for a failure (see docs/payouts.md). Webhook events
are mapped to the dataclasses of :mod:`gigcx.stripe_events`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Optional

import stripe

import payouts
from gigcx.stripe_errors import (  # noqa: F401 - re-exported
    GatewayError,
    IdempotencyConflict,
    PaymentDeclined,
    PermanentGatewayError,
    TemporaryGatewayError,
    WebhookVerificationError,
    _call,
)
from gigcx.stripe_events import (  # noqa: F401 - re-exported: the events are part of the gateway's API
    AccountUpdated,
    ChargeRefunded,
    ConnectedAccount,
    DisputeUpdate,
    PaymentSucceeded,
    PayoutUpdate,
    TransferReversed,
    UnhandledEvent,
    WebhookEvent,
    account_from,
    get,
    is_newer,
    map_event,
    metadata,
)

# The API version every request asks for; the SDK range in setup.cfg is the one tested with it.
STRIPE_API_VERSION = "2026-10-28.endive"


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
    amount_received: int = 0

    @property
    def succeeded(self) -> bool:
        """True once the money is captured (post fund_brand only then)."""
        return self.status == "succeeded"


@dataclass(frozen=True)
class TransferResult:
    """A Stripe transfer made for one GigCX payout."""

    transfer_id: str
    payout_uid: str
    destination: str
    amount_cents: int
    currency: str
    amount_reversed: int = 0
    created_now: bool = True


@dataclass(frozen=True)
class BalanceLine:
    """One balance transaction: what moved in the platform's Stripe balance, and Stripe's fee."""

    id: str
    type: str
    source: Optional[str]
    amount_cents: int
    fee_cents: int
    currency: str


def _funding(pi: Any) -> Funding:
    return Funding(payment_intent_id=str(get(pi, "id", "")), brand_id=metadata(pi).get("brand_id"),
                   amount_cents=int(get(pi, "amount", 0)), currency=str(get(pi, "currency", "")),
                   status=str(get(pi, "status", "")), client_secret=get(pi, "client_secret"),
                   failure_message=get(get(pi, "last_payment_error", {}), "message"),
                   amount_received=int(get(pi, "amount_received", 0)))


def _transfer(obj: Any, created_now: bool) -> TransferResult:
    return TransferResult(transfer_id=str(get(obj, "id", "")),
                          payout_uid=metadata(obj).get("gigcx_payout", ""),
                          destination=str(get(obj, "destination", "")),
                          amount_cents=int(get(obj, "amount", 0)),
                          currency=str(get(obj, "currency", "")),
                          amount_reversed=int(get(obj, "amount_reversed", 0)),
                          created_now=created_now)


def transfer_group_for(payout_uid: str) -> str:
    """The transfer_group that tags every Stripe transfer of one GigCX payout (by its random uid)."""
    return f"gigcx_payout_{payout_uid}"


def key_mode(api_key: str) -> bool:
    """True for a live-mode key (sk_live_/rk_live_), False for test mode."""
    return "_live_" in api_key[:8]


class StripeGateway:
    """Stripe Connect operations GigCX needs, on a per-instance StripeClient: a `PayoutGateway`."""

    name = "stripe"
    mode = "stripe"

    def __init__(self, api_key: str, api_base: Optional[str] = None,
                 webhook_secret: Optional[str] = None, *, webhook_secrets: Sequence[str] = (),
                 timeout_seconds: float = 30.0, max_network_retries: int = 2,
                 webhook_tolerance_seconds: int = 300) -> None:
        if not api_key:
            raise ValueError("api_key is required for StripeGateway")
        base_addresses: dict[str, str] = {}
        if api_base:
            base_addresses["api"] = api_base.rstrip("/")
        http_client = stripe.RequestsClient(timeout=timeout_seconds)
        self._client = stripe.StripeClient(api_key, base_addresses=base_addresses or None,  # type: ignore[arg-type]
                                           stripe_version=STRIPE_API_VERSION,
                                           max_network_retries=max_network_retries,
                                           http_client=http_client)
        # Platform and Connect endpoints sign with different secrets: accept any of them.
        self._secrets = [s for s in (webhook_secret, *webhook_secrets) if s]
        self._tolerance = webhook_tolerance_seconds
        self.livemode = key_mode(api_key)

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
        return account_from(acct)

    def create_account_link(self, account_id: str, refresh_url: str, return_url: str) -> AccountLink:
        """Create a one-time Express onboarding URL for the account."""
        link = _call(lambda: self._client.v1.account_links.create(params={
            "account": account_id, "refresh_url": refresh_url, "return_url": return_url,
            "type": "account_onboarding"}))
        return AccountLink(url=str(link.url), expires_at=int(link.expires_at))

    def retrieve_account(self, account_id: str) -> ConnectedAccount:
        """Fetch the current onboarding state (authoritative, whatever order webhooks came in)."""
        return account_from(_call(lambda: self._client.v1.accounts.retrieve(account_id)))

    def check_payee(self, destination: Optional[str]) -> payouts.PayeeCheck:
        """Live check before a new payout: the transfers capability is active and payouts enabled."""
        if not destination:
            return payouts.PayeeCheck(False, "no connected Stripe account")
        try:
            acct = self.retrieve_account(destination)
        except GatewayError as exc:
            return payouts.PayeeCheck(False, f"account look-up failed ({exc.describe()})")
        if not acct.ready_for_payouts:
            return payouts.PayeeCheck(False, f"account {destination} cannot be paid yet (transfers "
                                             f"{acct.transfers_capability}, payouts_enabled "
                                             f"{acct.payouts_enabled})")
        return payouts.PayeeCheck(True)

    # ---- Brand funding --------------------------------------------------------------------

    def fund_brand_budget(self, brand_id: str, amount_cents: int, currency: str,
                          idempotency_key: str, *, payment_method: Optional[str] = None,
                          customer: Optional[str] = None, confirm: bool = False,
                          off_session: bool = False, return_url: Optional[str] = None) -> Funding:
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
            if off_session:  # a saved card charged without the brand at hand
                params["off_session"] = True
            elif return_url:  # 3-D Secure may send the payer away and back
                params["return_url"] = return_url
        pi = _call(lambda: self._client.v1.payment_intents.create(
            params=params, options={"idempotency_key": idempotency_key}))  # type: ignore[arg-type]
        return _funding(pi)

    def retrieve_payment_intent(self, payment_intent_id: str) -> Funding:
        """The PaymentIntent as Stripe has it now (a funding retry never creates another)."""
        return _funding(_call(lambda: self._client.v1.payment_intents.retrieve(payment_intent_id)))

    # ---- Transfers (payouts) --------------------------------------------------------------

    def find_transfer(self, payout_uid: str, destination: Optional[str] = None) -> Optional[TransferResult]:
        """The transfer already made for a payout (by transfer_group, checked by metadata), if any."""
        params: dict[str, Any] = {"transfer_group": transfer_group_for(payout_uid), "limit": 100}
        if destination:
            params["destination"] = destination
        page = _call(lambda: self._client.v1.transfers.list(params=params))  # type: ignore[arg-type]
        found = [tr for tr in _call(lambda: list(page.auto_paging_iter()))
                 if metadata(tr).get("gigcx_payout") == payout_uid]
        if len(found) > 1:  # never by our doing; refuse to pick one
            raise PermanentGatewayError(f"{len(found)} transfers for payout {payout_uid}",
                                        code="payout_mismatch")
        return _transfer(found[0], created_now=False) if found else None

    def create_transfer(self, order: payouts.PayoutOrder) -> TransferResult:
        """Create the payout's transfer with its idempotency key, metadata and transfer_group."""
        if order.amount.cents <= 0 or not order.destination:
            raise ValueError("a transfer needs a positive amount and a destination")
        params: dict[str, Any] = {
            "amount": order.amount.cents, "currency": order.amount.currency,
            "destination": order.destination, "transfer_group": order.group,
            "metadata": {"gigcx_payout": order.uid}, "description": f"GigCX payout {order.uid}"}
        tr = _call(lambda: self._client.v1.transfers.create(
            params=params,  # type: ignore[arg-type]
            options={"idempotency_key": order.idempotency_key}))
        return _transfer(tr, created_now=True)

    def _matches(self, order: payouts.PayoutOrder, tr: TransferResult) -> payouts.Outcome:
        if tr.amount_cents != order.amount.cents or tr.currency != order.amount.currency:
            return payouts.Unknown(f"payout_mismatch: transfer {tr.transfer_id} is for "
                                   f"{tr.amount_cents} {tr.currency}, the payout for "
                                   f"{order.amount.cents} {order.amount.currency}")
        return payouts.Sent(tr.transfer_id, created_now=tr.created_now)

    def send_payout(self, order: payouts.PayoutOrder) -> payouts.Outcome:
        """Look the payout's transfer up, else create it once; never call an unknown outcome failed."""
        try:
            existing = self.find_transfer(order.uid, order.destination)
        except GatewayError as exc:
            return payouts.Unknown(f"look-up failed ({exc.describe()})")
        if existing is not None:
            return self._matches(order, existing)
        try:
            return self._matches(order, self.create_transfer(order))
        except GatewayError as exc:
            created = exc
        if not created.definite:  # lost answer, timeout, 5xx, in flight: it may exist
            return payouts.Unknown(f"transfer outcome unknown ({created.describe()})",
                                   rekey=created.answered)
        try:  # Stripe refused the creation: prove that no transfer exists before saying so
            existing = self.find_transfer(order.uid, order.destination)
        except GatewayError as exc:
            return payouts.Unknown(f"transfer refused ({created.describe()}); look-up failed "
                                   f"({exc.describe()})", rekey=True)
        if existing is not None:
            return self._matches(order, existing)
        if created.code == "balance_insufficient":
            return payouts.Waiting(f"waiting for settled funds ({created.describe()})")
        if created.code == "idempotency_error":
            return payouts.Unknown(f"idempotency key refused ({created.describe()})", rekey=True)
        return payouts.Refused(f"transfer refused ({created.describe()})")

    def verify_settlement(self, order: payouts.PayoutOrder, transfer_id: Optional[str]) -> str:
        """Check an operator's evidence for a payout; returns the problem, or "" if it holds."""
        try:
            if transfer_id is None:
                found = self.find_transfer(order.uid)
                return f"transfer {found.transfer_id} exists for this payout: settle it with that " \
                       "transfer" if found else ""
            tr = self.retrieve_transfer(transfer_id)
        except GatewayError as exc:
            return f"Stripe could not confirm it ({exc.describe()}); try again when it answers"
        if (tr.amount_cents, tr.currency) != (order.amount.cents, order.amount.currency) or \
                (order.destination and tr.destination != order.destination) or \
                (tr.payout_uid and tr.payout_uid != order.uid):
            return f"transfer {transfer_id} ({tr.amount_cents} {tr.currency} to {tr.destination}) is " \
                   "not this payout's"
        return ""

    def retrieve_transfer(self, transfer_id: str) -> TransferResult:
        """Fetch one transfer by id."""
        return _transfer(_call(lambda: self._client.v1.transfers.retrieve(transfer_id)), False)

    def list_reversals(self, transfer_id: str) -> list[tuple[str, int]]:
        """Every reversal of a transfer as (id, amount), paging past the ones an event embeds."""
        page = _call(lambda: self._client.v1.transfers.reversals.list(
            transfer_id, params={"limit": 100}))
        return [(str(get(r, "id", "")), int(get(r, "amount", 0)))
                for r in _call(lambda: list(page.auto_paging_iter()))]

    def iter_transfers(self) -> Iterator[TransferResult]:
        """Every transfer of the platform that carries a GigCX payout uid."""
        page = _call(lambda: self._client.v1.transfers.list(params={"limit": 100}))
        for tr in _call(lambda: list(page.auto_paging_iter())):
            result = _transfer(tr, created_now=False)
            if result.payout_uid:
                yield result

    def iter_balance_transactions(self) -> Iterator[BalanceLine]:
        """Every balance transaction of the platform (amounts and Stripe's fees)."""
        page = _call(lambda: self._client.v1.balance_transactions.list(params={"limit": 100}))
        for bt in _call(lambda: list(page.auto_paging_iter())):
            src = get(bt, "source")
            yield BalanceLine(id=str(get(bt, "id", "")), type=str(get(bt, "type", "")),
                              source=str(get(src, "id", src)) if src else None,
                              amount_cents=int(get(bt, "amount", 0)), fee_cents=int(get(bt, "fee", 0)),
                              currency=str(get(bt, "currency", "")))

    # ---- Webhooks -------------------------------------------------------------------------

    def parse_webhook(self, payload: bytes, signature_header: Optional[str]) -> WebhookEvent:
        """Verify a webhook against any configured secret and map the event to a dataclass."""
        if not self._secrets:
            raise WebhookVerificationError("no webhook secret configured")
        event: Any = None
        last: Exception | None = None
        for secret in self._secrets:
            try:
                event = self._client.construct_event(payload, signature_header or "", secret,
                                                     self._tolerance)
                break
            except stripe.SignatureVerificationError as exc:
                last = exc
            except ValueError as exc:
                raise WebhookVerificationError(f"bad payload: {exc}") from exc
        if event is None:
            raise WebhookVerificationError(f"bad signature: {getattr(last, 'user_message', None) or last}")
        return map_event(event)
