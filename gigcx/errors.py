"""The contract's error format for REST (`{"error": {code, message}}`) and for Socket.IO acks."""
from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from gigcx.stripe_gateway import GatewayError, PaymentDeclined

STATUS = {
    "invalid": 422,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "rate_limited": 429,
    "method_not_allowed": 405,
    "payload_too_large": 413,
    "bad_request": 400,
    "request_timeout": 408,
    "unavailable": 503,
    "overloaded": 503,
    "payment_failed": 402,
    "payment_provider_error": 502,
}


class ApiError(Exception):
    """An error the client caused (or may retry); carries the contract's code."""

    def __init__(self, code: str, message: str, status: int | None = None, **details: Any):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status or STATUS.get(code, 400)
        self.details = details

    def body(self) -> dict[str, Any]:
        """The error as the contract's JSON object."""
        err: dict[str, Any] = {"code": self.code, "message": self.message}
        err.update(self.details)
        return {"error": err}

    def ack(self) -> dict[str, Any]:
        """The error as a Socket.IO acknowledgement."""
        return {"ok": False, **self.body()}


def describe_validation(exc: ValidationError) -> tuple[str, list[dict[str, Any]]]:
    """A one-line human message and a compact field list from a pydantic error."""
    fields = []
    for e in exc.errors(include_url=False, include_input=False, include_context=False):
        loc = ".".join(str(p) for p in e.get("loc", ())) or "body"
        fields.append({"field": loc, "problem": e.get("msg", "invalid")})
    first = fields[0] if fields else {"field": "body", "problem": "invalid"}
    more = f" (and {len(fields) - 1} more)" if len(fields) > 1 else ""
    return f"{first['field']}: {first['problem']}{more}", fields


def validation_response(exc: ValidationError) -> Response:
    """flask-openapi3's hook: a rejected request body or query in the contract's format."""
    message, fields = describe_validation(exc)
    resp = jsonify(ApiError("invalid", message, fields=fields).body())
    resp.status_code = 422
    return resp


def init_app(app: Flask) -> None:
    """Answer every error, including Flask's own, in the contract's format."""

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> tuple[Response, int]:
        return jsonify(exc.body()), exc.status

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> tuple[Response, int]:
        code = {404: "not_found", 405: "method_not_allowed", 408: "request_timeout", 413: "payload_too_large",
                401: "unauthorized", 403: "forbidden", 429: "rate_limited"}.get(
            exc.code or 400, "bad_request")
        return jsonify({"error": {"code": code, "message": exc.description or exc.name}}), exc.code or 400

    @app.errorhandler(GatewayError)
    def _gateway_error(exc: GatewayError) -> tuple[Response, int]:
        """Stripe refused or did not answer: say which, never a 500 (the request changed nothing here)."""
        app.logger.warning("payment provider: %s (%s, status %s, request %s)", exc.message,
                           type(exc).__name__, exc.http_status, exc.request_id)
        if exc.temporary:
            err = ApiError("unavailable", f"the payment provider did not answer ({exc.message}); retry later")
        elif isinstance(exc, PaymentDeclined):
            err = ApiError("payment_failed", exc.message)
        else:
            err = ApiError("payment_provider_error", f"the payment provider refused the request: {exc.message}")
        return jsonify(err.body()), err.status

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> tuple[Response, int]:
        app.logger.exception("unhandled error")
        return jsonify({"error": {"code": "internal", "message": "internal server error"}}), 500
