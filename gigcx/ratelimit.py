"""Rate limits on asks, messages, logins, sign-ups and new customers (moving windows; shared through Redis
when the service runs as several processes)."""
from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

from flask import Flask, current_app
from limits import RateLimitItemPerMinute, storage, strategies

from gigcx.errors import ApiError


class MovingWindows:
    """Moving windows in this process's memory: at most `limit` hits of a key in any `window_s`
    seconds, exactly as limits' MovingWindowRateLimiter on its MemoryStorage counts them.

    Each key keeps the times of its hits within the window, at most `limit` of them (a bounded
    deque); a hit is refused while `limit` are kept. limits' memory storage did the same with an RLock
    per key, an entry object per hit, a composed key string and a sweep timer, which made a
    message's rate check cost ~7 % of the message (docs/benchmarks.md, "The message path").
    Keys idle for a whole window are dropped by a sweep at most every `SWEEP_S`, run by the hit
    that finds it due (no timer thread): correctness does not depend on it, it only frees memory."""

    SWEEP_S = 10.0

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._hits: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()
        self._next_sweep = clock() + self.SWEEP_S

    def hit(self, kind: str, key: str, limit: int, window_s: float) -> bool:
        """Count a hit of `kind` for `key` if the window has room for it; False (not counted) if not."""
        if limit <= 0:
            return False
        now = self._clock()
        with self._lock:
            if now >= self._next_sweep:
                self._sweep(now, window_s)
            times = self._hits.get((kind, key))
            if times is None:
                times = self._hits[(kind, key)] = deque(maxlen=limit)
            else:
                # Hits older than the window no longer count: forget them, so a key in steady use
                # holds one window's hits, not `limit` of them (with limits raised far above the
                # traffic, that was a slow climb of memory for as long as the key was in use).
                start = now - window_s
                while times and times[0] < start:  # (limits' comparison: a hit at `start` still counts)
                    times.popleft()
                if len(times) >= limit:
                    return False
            times.append(now)
            return True

    def _sweep(self, now: float, window_s: float) -> None:
        self._next_sweep = now + self.SWEEP_S
        stale = [k for k, times in self._hits.items() if not times or times[-1] < now - window_s]
        for k in stale:
            del self._hits[k]

    def __len__(self) -> int:
        return len(self._hits)

    def held(self) -> int:
        """How many hit times are kept, all keys together."""
        with self._lock:
            return sum(len(times) for times in self._hits.values())


class _RedisWindows:
    """limits' moving windows in Redis, shared by every process of the service."""

    def __init__(self, url: str, namespace: str) -> None:
        self._limiter = strategies.MovingWindowRateLimiter(storage.storage_from_string(url))
        self._namespace = namespace
        self._items: dict[int, RateLimitItemPerMinute] = {}

    def hit(self, kind: str, key: str, limit: int, window_s: float) -> bool:
        item = self._items.get(limit)
        if item is None:
            item = self._items[limit] = RateLimitItemPerMinute(limit)
        return self._limiter.hit(item, self._namespace, kind, key)


WINDOW_S = 60.0  # every limit is per minute


def init_app(app: Flask) -> None:
    """Build the limiter from the settings (memory, or the service's Redis)."""
    settings = app.config["GIGCX"]
    app.extensions["gigcx_limiter"] = (_RedisWindows(settings.redis_url, settings.redis_channel)
                                       if settings.redis_url else MovingWindows())
    app.extensions["gigcx_limits"] = {
        "ask": settings.rate_limit_asks_per_min,
        "message": settings.rate_limit_messages_per_min,
        "auth": settings.rate_limit_auth_per_min,
        "customer": settings.rate_limit_customers_per_min,
    }


def check(kind: str, key: object) -> None:
    """Count one `kind` action for `key`; `rate_limited` once the window is full."""
    extensions = current_app.extensions
    if not extensions["gigcx_limiter"].hit(kind, str(key), extensions["gigcx_limits"][kind], WINDOW_S):
        raise ApiError("rate_limited", f"too many {kind} requests; slow down and retry in a minute")
