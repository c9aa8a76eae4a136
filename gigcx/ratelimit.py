"""Rate limits on asks, messages, logins, sign-ups and new customers (moving windows; shared through Redis
when the service runs as several processes)."""
from __future__ import annotations

import threading
import time

from flask import Flask, current_app
from limits import RateLimitItemPerMinute, storage, strategies
from limits.storage import MemoryStorage

from gigcx.errors import ApiError


class SweepingMemoryStorage(MemoryStorage):
    """limits' in-memory storage, sweeping expired entries once a second instead of every 10 ms.

    The stock storage re-arms a 10 ms timer that walks every key; with one key per connected
    customer (thousands) that sweep alone took ~13 % of the server's core in `bench/load.py`.
    Correctness does not depend on the sweep: a moving window compares each entry's time with
    the window when it is hit; the sweep only frees memory, so once a second is plenty."""

    SWEEP_S = 1.0
    _next_sweep = 0.0

    def _MemoryStorage__schedule_expiry(self) -> None:  # the base class's private hook
        # By time, not by `self.timer.is_alive()`: under `gigcx serve` that answered False for
        # pending timers, so every hit started another sweep (thousands of timers queued).
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + self.SWEEP_S
            self.timer = threading.Timer(self.SWEEP_S, self._MemoryStorage__expire_events)  # type: ignore[attr-defined]
            self.timer.daemon = True
            self.timer.start()


def init_app(app: Flask) -> None:
    """Build the limiter from the settings (memory, or the service's Redis)."""
    settings = app.config["GIGCX"]
    backend = storage.storage_from_string(settings.redis_url) if settings.redis_url else SweepingMemoryStorage()
    app.extensions["gigcx_limiter"] = strategies.MovingWindowRateLimiter(backend)
    app.extensions["gigcx_limits"] = {
        "ask": RateLimitItemPerMinute(settings.rate_limit_asks_per_min),
        "message": RateLimitItemPerMinute(settings.rate_limit_messages_per_min),
        "auth": RateLimitItemPerMinute(settings.rate_limit_auth_per_min),
        "customer": RateLimitItemPerMinute(settings.rate_limit_customers_per_min),
    }


def check(kind: str, key: object) -> None:
    """Count one `kind` action for `key`; `rate_limited` once the window is full."""
    limiter = current_app.extensions["gigcx_limiter"]
    item = current_app.extensions["gigcx_limits"][kind]
    namespace = current_app.config["GIGCX"].redis_channel
    if not limiter.hit(item, namespace, kind, str(key)):
        raise ApiError("rate_limited", f"too many {kind} requests; slow down and retry in a minute")
