"""Load shedding: when this process falls behind, refuse new asks and messages at once.

A gevent server queues every event it receives; past its capacity the queue, and every
client's latency, grows without bound until Engine.IO drops connections (measured in
docs/benchmarks.md, "Load"). A monitor greenlet sleeps a fixed interval and measures how late
it wakes up: that lag is how long any event now waits before it runs. While the lag is above
`GIGCX_SHED_LAG_MS`, `admit()` answers new asks and messages with the retryable error
`overloaded` (with `retry_after_ms`): a cheap refusal instead of expensive work, so the backlog
drains and the events already admitted keep their latency. Nothing is stored for a refused
event, and clients resend it with the same `client_id` (the widget does). Accepts, resolutions,
syncs and the rest are never refused: they finish conversations already under way.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app
from sqlalchemy.pool import QueuePool

from gigcx.drain import DRAIN
from gigcx.errors import ApiError
from gigcx.observability import LOOP_LAG, SHED

INTERVAL_S = 0.05


class LagMonitor:
    """How late this process' event loop runs a timer, measured continuously."""

    def __init__(self) -> None:
        self.lag_s = 0.0  # the smaller of the last two measurements: one long step is not a backlog

    def run(self, sleep: Callable[[float], object]) -> None:
        """Measure forever (started as a background task of the serving process)."""
        last = 0.0
        while True:
            start = time.perf_counter()
            sleep(INTERVAL_S)
            lag = max(time.perf_counter() - start - INTERVAL_S, 0.0)
            LOOP_LAG.observe(lag)
            self.lag_s, last = min(lag, last), lag


def init_app(app: Flask) -> None:
    app.extensions["gigcx_lag"] = LagMonitor()


def start(app: Flask) -> None:
    """Start the monitor in a serving process (`gigcx serve`); without it nothing is refused."""
    from gigcx.extensions import socketio

    socketio.start_background_task(app.extensions["gigcx_lag"].run, socketio.sleep)


def pool_exhausted(engine: Any) -> bool:
    """Whether every connection of a pooled database (PostgreSQL: pool plus overflow) is checked
    out, so a new transaction would queue for one. A one-connection pool (SQLite, where every
    transaction takes turns on the one connection by design) and a pool without an overflow limit
    (``max_overflow=-1``: a new connection is always opened) never count as exhausted."""
    pool = engine.pool
    if not isinstance(pool, QueuePool):
        return False
    overflow = pool._max_overflow  # SQLAlchemy keeps the overflow limit private
    if overflow < 0:
        return False
    capacity = pool.size() + overflow
    return capacity > 1 and pool.checkedout() >= capacity


def admit(event: str) -> None:
    """Refuse `event` with `overloaded` while the loop lags more than the configured limit, or
    while every pooled database connection is busy.

    The second backlog is the one a lagging loop does not show: once every connection is in use,
    further events park on the pool (not on the loop) for up to its 30-s timeout, then fail. On
    PostgreSQL at full load that turned a saturated process into seconds of latency and
    `internal` answers (docs/benchmarks.md); refusing new asks and messages while the pool is
    exhausted lets the transactions already running finish."""
    if DRAIN.draining:  # stopping: the client resends once it has reconnected to another process
        SHED.labels(event).inc()
        raise ApiError("overloaded", "this server is restarting; send this again shortly", retry_after_ms=1000)
    settings = current_app.config["GIGCX"]
    limit_ms = settings.shed_lag_ms
    if limit_ms <= 0:
        return
    lag_s = current_app.extensions["gigcx_lag"].lag_s
    if lag_s * 1000 > limit_ms:
        SHED.labels(event).inc()
        raise ApiError("overloaded", "the service is busy; send this again shortly",
                       retry_after_ms=int(max(lag_s * 1000, 100)))
    if pool_exhausted(current_app.extensions["gigcx_engine"]):
        SHED.labels(event).inc()
        raise ApiError("overloaded", "the service is busy; send this again shortly", retry_after_ms=200)
