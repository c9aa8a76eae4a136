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
