"""Socket.IO: binding, namespaces by role, and the background loops of a serving process."""
from __future__ import annotations

import logging
from typing import Any

from flask import Flask

from gigcx.extensions import socketio

log = logging.getLogger(__name__)
MAX_FRAME = 64 * 1024  # bytes of one Socket.IO frame (or long-polling POST) from a client


def init_app(app: Flask) -> None:
    """Bind Socket.IO (through Redis when configured) and register the role namespaces."""
    from gigcx.realtime import brand, customer, expert

    settings = app.config["GIGCX"]
    kwargs: dict[str, Any] = {}
    if settings.redis_url:
        kwargs["message_queue"] = settings.redis_url
        kwargs["channel"] = settings.redis_channel
    for ns in (customer.namespace, expert.namespace, brand.namespace):
        if ns not in socketio.namespace_handlers:
            socketio.on_namespace(ns)
    from gigcx.jsonlimits import SocketJSON
    from gigcx.wsgi import PollingBodyLimit, WebSocketCompression

    socketio.init_app(
        app,
        async_mode=app.config.get("SOCKETIO_ASYNC_MODE") or _async_mode(),
        cors_allowed_origins="*",  # the widget runs on brands' own sites; auth is in the payload
        max_http_buffer_size=MAX_FRAME,
        json=SocketJSON,
        ping_interval=settings.socket_ping_s,
        ping_timeout=settings.socket_ping_s,
        **kwargs,
    )
    # outside Socket.IO's middleware: long-polling POSTs over a frame's size answer 413 at once
    app.wsgi_app = PollingBodyLimit(app.wsgi_app, MAX_FRAME)  # type: ignore[method-assign]
    # permessage-deflate costs ~100 KiB per socket for its life (benchmarks.md, "Idle sockets")
    app.wsgi_app = WebSocketCompression(app.wsgi_app, settings.websocket_compression)  # type: ignore[method-assign]


def _async_mode() -> str:
    """gevent when the process was patched for it (`gigcx serve`), else threading (tests, CLI)."""
    try:
        from gevent import monkey
    except ImportError:  # pragma: no cover
        return "threading"
    return "gevent" if monkey.is_module_patched("socket") else "threading"


def start_background(app: Flask) -> None:
    """Start the loops a serving process runs: timers, presence heartbeat, queue sweep."""
    from gigcx import loadshed, sessions

    settings = app.config["GIGCX"]
    loadshed.start(app)
    from gigcx.realtime.pings import PingSchedule

    pings = PingSchedule(settings.socket_ping_s, socketio.sleep)
    pings.install(socketio.server.eio)
    socketio.start_background_task(pings.run)
    if settings.redis_url:
        socketio.start_background_task(sessions.listen, app)
    # often enough that every held credential's cache entry stays fresh: events never wait on a read
    socketio.start_background_task(_loop, app, "session sweep", sessions.sweep_interval(settings), sessions.sweep)
    socketio.start_background_task(_loop, app, "timers", settings.timer_poll_s, _run_due_timers)
    socketio.start_background_task(_loop, app, "heartbeat", max(settings.presence_ttl_s / 3, 1), _heartbeat)
    socketio.start_background_task(_loop, app, "sweep", 2.0, _sweep)
    from gigcx.realtime import notifier

    notifier.start(app)
    if settings.retention_check_s > 0:
        socketio.start_background_task(_loop, app, "retention", settings.retention_check_s, _retention)
    engine = app.extensions["gigcx_engine"]
    if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        from gigcx.db import WalCheckpointer

        checkpointer = WalCheckpointer(engine)
        checkpointer.enable()
        app.extensions["gigcx_checkpointer"] = checkpointer
        socketio.start_background_task(checkpointer.run, socketio.sleep)
    if engine.dialect.name == "sqlite" and _async_mode() == "gevent":
        from gigcx.uow import GroupCommit

        # chat messages of one loop turn share a transaction (gigcx.uow.GroupCommit)
        engine.gigcx_group_commit = app.extensions["gigcx_group_commit"] = GroupCommit(engine)


def _loop(app: Flask, name: str, every: float, step: Any) -> None:
    """Run `step` forever; an error is logged and retried, never fatal (e.g. database restarts)."""
    with app.app_context():
        while True:
            try:
                step(app)
            except Exception:
                log.exception("background %s failed; retrying", name)
            socketio.sleep(every)


def _run_due_timers(app: Flask) -> None:
    from gigcx.db import session_scope
    from gigcx.services import timers
    from gigcx.uow import unit_of_work

    pid = app.config["GIGCX"].process_id
    while True:
        with session_scope() as session:
            ids = timers.due(session)
        for timer_id in ids:  # each timer claimed and handled in a unit of work of its own
            with unit_of_work() as uow:
                timers.fire(uow.session, uow.outbox, timer_id, pid)
        if len(ids) < 100:
            return


def _heartbeat(app: Flask) -> None:
    from gigcx.services import presence
    from gigcx.uow import transaction

    with transaction() as session:
        presence.heartbeat(session, app.config["GIGCX"].process_id)


def _retention(app: Flask) -> None:
    from gigcx.services import privacy
    from gigcx.uow import unit_of_work

    privacy.retention_sweep(unit_of_work())


def _sweep(app: Flask) -> None:
    from gigcx.services import dispatch
    from gigcx.uow import unit_of_work

    dispatch.sweep(unit_of_work())
