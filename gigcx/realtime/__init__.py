"""Socket.IO: binding, namespaces by role, and the background loops of a serving process."""
from __future__ import annotations

from typing import Any

from flask import Flask

from gigcx.extensions import socketio


def init_app(app: Flask) -> None:
    """Bind Socket.IO (through Redis when configured) and register the role namespaces."""
    settings = app.config["GIGCX"]
    kwargs: dict[str, Any] = {}
    if settings.redis_url:
        kwargs["message_queue"] = settings.redis_url
    socketio.init_app(
        app,
        async_mode=app.config.get("SOCKETIO_ASYNC_MODE") or _async_mode(),
        cors_allowed_origins="*",  # the widget runs on brands' own sites
        max_http_buffer_size=64 * 1024,
        ping_interval=20,
        ping_timeout=20,
        **kwargs,
    )


def _async_mode() -> str:
    """gevent when the process was patched for it (`gigcx serve`), else threading (tests, CLI)."""
    try:
        from gevent import monkey
    except ImportError:  # pragma: no cover
        return "threading"
    return "gevent" if monkey.is_module_patched("socket") else "threading"


def start_background(app: Flask) -> None:
    """Start the loops a serving process runs (timers, presence heartbeat)."""
