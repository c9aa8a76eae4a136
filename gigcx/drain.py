"""Graceful stop of a serving process (`gigcx serve` on SIGTERM or SIGINT).

A process told to stop first closes its listener (a load balancer sends new connections to the
other processes) and turns *draining*: `/healthz` answers 503, and new asks and messages get
the retryable `overloaded` (clients resend them, with the same
`client_id`, once they have reconnected elsewhere). Everything already being handled (Socket.IO
events of any kind, REST requests) runs to its end: the process waits until none is left, for at
most `GIGCX_DRAIN_S` (a second signal, e.g. Ctrl-C pressed again, stops the wait), then exits.
Its WebSockets close with the process, and their clients reconnect and `sync`.

Nothing acknowledged is lost either way: every event commits before it is acknowledged
(`gigcx.uow`). Draining makes a stop also lose nothing *in flight*: a message being handled when
the signal arrives is committed and acknowledged, not cut between its commit and its ack.

The state is the process's (a signal stops a process, not an app), kept in this module.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, g

POLL_S = 0.02


class Drain:
    """Counts the events and requests in progress, and whether the process is stopping."""

    def __init__(self) -> None:
        self.draining = False
        self.busy = 0
        self.cut_short = False  # a second signal: stop waiting

    @contextmanager
    def tracking(self) -> Iterator[None]:
        """Around one event or request: the process waits for it before it exits."""
        self.busy += 1
        try:
            yield
        finally:
            self.busy -= 1

    def begin(self) -> None:
        self.draining = True

    def wait(self, timeout_s: float) -> bool:
        """Wait until nothing is in progress (True), or `timeout_s` passed (False)."""
        deadline = time.monotonic() + timeout_s
        while self.busy > 0:
            if self.cut_short or time.monotonic() >= deadline:
                return False
            time.sleep(POLL_S)  # gevent's sleep in a serving process: the handlers run meanwhile
        return True


DRAIN = Drain()


def init_app(app: Flask) -> None:
    """Count the app's REST requests in progress (Socket.IO events are counted where they are
    dispatched, `gigcx.realtime.common`)."""

    @app.before_request
    def _started() -> None:
        DRAIN.busy += 1
        g.gigcx_drain_counted = True

    @app.teardown_request
    def _ended(_exc: BaseException | None) -> None:
        if g.pop("gigcx_drain_counted", False):
            DRAIN.busy -= 1
