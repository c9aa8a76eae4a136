"""Rate limits on asks, messages, logins and sign-ups (moving windows; shared through Redis
when the service runs as several processes)."""
from __future__ import annotations

from flask import Flask, current_app
from limits import RateLimitItemPerMinute, storage, strategies

from gigcx.errors import ApiError


def init_app(app: Flask) -> None:
    """Build the limiter from the settings (memory, or the service's Redis)."""
    settings = app.config["GIGCX"]
    uri = settings.redis_url or "memory://"
    app.extensions["gigcx_limiter"] = strategies.MovingWindowRateLimiter(storage.storage_from_string(uri))
    app.extensions["gigcx_limits"] = {
        "ask": RateLimitItemPerMinute(settings.rate_limit_asks_per_min),
        "message": RateLimitItemPerMinute(settings.rate_limit_messages_per_min),
        "auth": RateLimitItemPerMinute(settings.rate_limit_auth_per_min),
    }


def check(kind: str, key: object) -> None:
    """Count one `kind` action for `key`; `rate_limited` once the window is full."""
    limiter = current_app.extensions["gigcx_limiter"]
    item = current_app.extensions["gigcx_limits"][kind]
    namespace = current_app.config["GIGCX"].redis_channel
    if not limiter.hit(item, namespace, kind, str(key)):
        raise ApiError("rate_limited", f"too many {kind} requests; slow down and retry in a minute")
