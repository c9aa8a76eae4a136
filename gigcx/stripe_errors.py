"""Stripe SDK errors mapped to the gateway's own: temporary (may pass) or permanent (refused).

`GatewayError.definite` and `.answered` tell a payout whether Stripe finished the request,
which decides whether its outcome is known (docs/payouts.md, "Unknown is never failed").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Optional, TypeVar

import stripe

T = TypeVar("T")


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

    @property
    def definite(self) -> bool:
        """Stripe answered and finished the request: a 4xx other than 409 (in flight) and 429."""
        return self.http_status is not None and 400 <= self.http_status < 500 \
            and self.http_status not in (409, 429)

    @property
    def answered(self) -> bool:
        """Stripe answered (any status but 409/429): it keeps that outcome under the request's key."""
        return self.http_status is not None and self.http_status not in (409, 429)

    def describe(self) -> str:
        """One line for logs and the operator: status, code and message."""
        status = f"HTTP {self.http_status}" if self.http_status else "no answer"
        return f"{status}{' ' + self.code if self.code else ''}: {self.message}"[:400]


class TemporaryGatewayError(GatewayError):
    """Timeout, connection loss, rate limit, lock conflict or 5xx: the outcome may be unknown."""

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
