"""CPU-heavy work (loading or running a model) off the gevent hub, in a real OS thread."""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def _gevent_hub() -> Any:
    try:
        from gevent import get_hub, monkey
    except ImportError:  # pragma: no cover
        return None
    return get_hub() if monkey.is_module_patched("socket") else None


def call_blocking(fn: Callable[..., T], *args: Any) -> T:
    """Run `fn` and wait for it; under gevent in the hub's thread pool so other greenlets run."""
    hub = _gevent_hub()
    if hub is None:
        return fn(*args)
    return hub.threadpool.apply(fn, args)


def spawn(fn: Callable[..., Any], *args: Any) -> None:
    """Run `fn` concurrently: a greenlet under gevent (it may use the database), a thread otherwise."""
    if _gevent_hub() is not None:
        import gevent

        gevent.spawn(fn, *args)
    else:
        threading.Thread(target=fn, args=args, daemon=True).start()


def green_postgres() -> None:
    """Let psycopg wait for PostgreSQL on gevent's own I/O watchers (`gigcx serve` only).

    Under gevent psycopg falls back to `select.poll`, which gevent emulates with a poll object, a
    watcher per call and a timeout (psycopg polls at an interval to notice Ctrl-C). Waiting on the
    socket with `gevent.socket.wait_read`/`wait_write` instead costs 20 µs less CPU per round trip
    (85 → 65 µs for `SELECT 1` in 20 greenlets, docs/benchmarks.md), and a chat event makes 6 to
    12 of them. Waits with a deadline (connection attempts, cancels) keep psycopg's own function."""
    from gevent.socket import wait_read, wait_readwrite, wait_write
    from psycopg import waiting

    fallback = waiting.wait

    def wait(gen: Any, fileno: int, interval: float = 0.0, timeout: float | None = None) -> Any:
        if timeout is not None:
            return fallback(gen, fileno, interval, timeout)
        try:
            state = next(gen)
            while True:
                if state == waiting.WAIT_R:
                    wait_read(fileno)
                    ready = waiting.READY_R
                elif state == waiting.WAIT_W:
                    wait_write(fileno)
                    ready = waiting.READY_W
                else:  # either will do: psycopg's reads and writes here never block
                    wait_readwrite(fileno)
                    ready = waiting.READY_RW
                state = gen.send(ready)
        except StopIteration as done:
            return done.value

    waiting.wait = wait
