"""What every namespace shares: per-connection identity, the ack envelope, validation."""
from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from flask import request
from flask_socketio import Namespace, join_room
from pydantic import BaseModel, ValidationError

from gigcx import loadshed, ratelimit, sessions
from gigcx.auth import declared, requires
from gigcx.db import engine, session_scope
from gigcx.drain import DRAIN
from gigcx.errors import ApiError, describe_validation
from gigcx.jsonlimits import MAX_DEPTH, TOO_DEEP_EVENT
from gigcx.observability import EVENTS, SOCKETS
from gigcx.realtime.payloads import SendMessage, Sync
from gigcx.services import cases
from gigcx.services.cases import Actor
from gigcx.uow import transact, transact_core  # noqa: F401 - one unit of work per event (namespaces import transact from here)

log = logging.getLogger("gigcx.realtime")
M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], data: Any) -> M:
    """Validate an event payload or raise `invalid`."""
    if not isinstance(data, dict):
        raise ApiError("invalid", "the payload must be an object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        message, fields = describe_validation(exc)
        raise ApiError("invalid", message, fields=fields) from None


def acked(fn: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """Turn a handler's result or error into the contract's ack; never drop the connection."""

    event = fn.__name__.removeprefix("on_")

    @functools.wraps(fn)
    def wrapper(self: RoleNamespace, data: Any = None, *extra: Any) -> dict[str, Any]:
        start, outcome = time.perf_counter(), "ok"
        try:
            return {"ok": True, **fn(self, data)}
        except ApiError as exc:
            outcome = exc.code
            return exc.ack()
        except Exception:
            outcome = "internal"
            log.exception("event %s failed", event, extra={"namespace": self.namespace})
            return {"ok": False, "error": {"code": "internal", "message": "internal error; retry later"}}
        finally:
            _event_timer(self.namespace, event, outcome).observe(time.perf_counter() - start)

    return wrapper


_event_timers: dict[tuple[str, str, str], Any] = {}


def _event_timer(namespace: str, event: str, outcome: str) -> Any:
    """The histogram child of one (namespace, event, outcome), looked up once: `labels()` takes a
    lock and checks its arguments on every call."""
    key = (namespace, event, outcome)
    child = _event_timers.get(key)
    if child is None:
        child = _event_timers[key] = EVENTS.labels(namespace, event, outcome)
    return child


def request_sid() -> str:
    """The Socket.IO session id Flask-SocketIO sets on the request (Flask's types do not declare it)."""
    sid: str = request.sid  # type: ignore[attr-defined]
    return sid


class RoleNamespace(Namespace):
    """A namespace whose connections each belong to one actor (kept in this process). Every
    `on_*` handler declares who may send it (`@requires`, `@public`); an undeclared one is refused."""

    #: The principal every connection of this namespace authenticated as (`customer`, `expert`, `brand`).
    role = ""

    def __init__(self, namespace: str):
        super().__init__(namespace)
        self.actors: dict[str, Actor] = {}
        #: sid -> the credential the connection authenticated with (`token:<id>`, `key:<id>`)
        self.credentials: dict[str, str] = {}
        sessions.register(self)

    def actor(self) -> Actor:
        """The actor of the connection sending the current event, if its credential still stands."""
        sid = request_sid()
        actor = self.actors.get(sid)
        if actor is None:
            raise ApiError("unauthorized", "this connection is not authenticated")
        credential = self.credentials.get(sid)
        if credential is not None and not sessions.credential_ok(credential):
            self.actors.pop(sid, None)
            from gigcx.extensions import socketio

            socketio.start_background_task(sessions.end_local, [credential], "revoked")
            raise ApiError("unauthorized", "this session has ended: its credential was revoked")
        return actor

    def authenticated(self, actor: Actor, credential: str | None, *rooms: str) -> None:
        """Bind the connecting socket to its actor and credential, and join their rooms."""
        sid = request_sid()
        self.actors[sid] = actor
        if credential is not None:
            self.credentials[sid] = credential
            join_room(credential)
        for room in rooms:
            join_room(room)

    def forget(self) -> None:
        """The connection closed: drop what this process knew about it."""
        sid = request_sid()
        self.actors.pop(sid, None)
        self.credentials.pop(sid, None)

    def trigger_event(self, event: str, *args: Any) -> Any:
        """Unknown events get an error ack instead of silence; connections are counted.

        `connect` and `disconnect` are the server's own: sent by a client as events (the socket is
        then fully connected, which it never is while the server runs those handlers) they are
        refused like unknown events, instead of re-running authentication."""
        if event == TOO_DEEP_EVENT:
            return ApiError("invalid", f"the payload is not JSON or nests deeper than {MAX_DEPTH} levels").ack()
        handler = "on_" + event.replace("-", "_")
        if event in ("connect", "disconnect") and args and self._connected(args[0]):
            return ApiError("invalid", f"{event!r} is reserved; it cannot be sent as an event").ack()
        if not hasattr(self, handler) and event not in ("connect", "disconnect"):
            return ApiError("invalid", f"unknown event {event!r}").ack()
        refused = self._refused(event, handler)
        if refused is not None:
            if event == "connect":
                return False
            return None if event == "disconnect" else refused.ack()
        known = args[0] in self.actors if event == "disconnect" and args else False
        DRAIN.busy += 1  # DRAIN.tracking(), without a generator per event
        try:
            result = super().trigger_event(event, *args)
        finally:
            DRAIN.busy -= 1
        if event == "connect" and args and args[0] in self.actors:
            SOCKETS.labels(self.namespace).inc()
        elif known:
            SOCKETS.labels(self.namespace).dec()
        return result

    def _refused(self, event: str, handler: str) -> ApiError | None:
        """Why this namespace's principal may not send this event (None: it may)."""
        fn = getattr(type(self), handler, None)
        if fn is None:  # connect/disconnect without a handler: Flask-SocketIO's default
            return None
        roles = declared(fn)
        if roles is None:
            log.error("refused event %r on %s: %s declares no roles (@requires or @public)",
                      event, self.namespace, handler)
            return ApiError("forbidden", f"the event {event!r} is not available")
        if roles and self.role not in roles:
            return ApiError("forbidden", f"this event is for: {', '.join(roles)}")
        return None

    def _connected(self, sid: Any) -> bool:
        server = self.socketio.server if self.socketio is not None else None
        manager = getattr(server, "manager", None)
        return bool(manager is not None and isinstance(sid, str) and manager.is_connected(sid, self.namespace))

    def writer(self) -> Actor:
        """The actor, if this connection may change data (namespaces with read-only users override)."""
        return self.actor()

    @requires("customer", "expert", "brand")  # brand analysts: writer() refuses
    @acked
    def on_message(self, data: Any) -> dict[str, Any]:
        """Write in a case: customers in theirs, experts in assigned ones, staff in escalated ones."""
        body = parse(SendMessage, data)
        actor = self.writer()
        loadshed.admit("message")
        if actor.role != "staff":
            ratelimit.check("message", f"{actor.role}:{actor.id}")
        return {"message": cases.send_message(engine(), actor, case_id=body.case_id, text=body.text,
                                              client_id=body.client_id)}

    @requires("customer", "expert", "brand")
    @acked
    def on_sync(self, data: Any) -> dict[str, Any]:
        """The case and every message after `after_seq` (masked for experts)."""
        body = parse(Sync, data)
        with session_scope() as session:
            return cases.sync(session, self.actor(), case_id=body.case_id, after_seq=body.after_seq)
