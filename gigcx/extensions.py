"""Extension objects, created unbound at import and bound to the app in `create_app`."""
from __future__ import annotations

import sys
from typing import Any

import flask
from engineio import packet as eio_packet
from flask import Flask
from flask.ctx import RequestContext
from flask.sessions import SessionMixin
from flask_socketio import SocketIO
from socketio import Manager


class EventContext(RequestContext):
    """The Flask context of one Socket.IO event after `connect`: Flask's request context without
    what an event never uses.

    Flask-SocketIO pushes a full request context per event, built from the connection's handshake
    (its WSGI environ): a URL adapter bound to it and the handshake's URL routed again, and the
    cookie session opened, only to be replaced by the connection's own session. That was half of
    the dispatch overhead around every event handler (docs/benchmarks.md, "The message path").
    Here the request object is still new per event (handlers set attributes on it), the session is
    the connection's, and there is no URL adapter: `url_for` in an event handler needs
    `SERVER_NAME` (none calls it). Teardown functions run as for any request context."""

    def __init__(self, app: Flask, environ: dict[str, Any], session: SessionMixin) -> None:
        # RequestContext.__init__ minus create_url_adapter (the attributes it sets, Flask 3.1)
        request = app.request_class(environ)
        request.json_module = app.json
        self.app = app
        self.request = request
        self.url_adapter = None
        self.flashes = None
        self._session = session
        self._after_request_functions = []
        self._cv_tokens = []


class GigSocketIO(SocketIO):
    """Flask-SocketIO with `EventContext` around every event after `connect`, and `emit_rooms`."""

    def emit_rooms(self, items: list[tuple[str, dict[str, Any], str, str]]) -> None:
        """Emit (event, payload, namespace, room) items, as `emit` would each, for less: a payload is
        JSON-encoded once however many rooms (and namespaces) it goes to (a chat message's customer
        and brand copies are one dict), and nothing is encoded for a room with nobody in it in this
        process. python-socketio's `Manager.emit` builds and encodes a packet per call before it
        looks at the room (docs/benchmarks.md, "The message path"). Through a message queue
        (several processes) and for payloads JSON cannot encode (bytes: binary packets), `emit`."""
        server = self.server
        manager: Any = getattr(server, "manager", None)
        if server is None or type(manager) is not Manager:  # a pub/sub manager: every process must hear
            for event, payload, namespace, room in items:
                self.emit(event, payload, namespace=namespace, to=room)
            return
        dumps = server.packet_class.json.dumps  # the packets' JSON module (`json=` of init_app)
        encoded: dict[tuple[str, int], str] = {}  # (the payloads are held by `items`: ids are not reused)
        for event, payload, namespace, room in items:
            members = manager.rooms.get(namespace, {}).get(room)
            if not members:
                continue
            text = encoded.get((event, id(payload)))
            if text is None:
                try:
                    text = encoded[(event, id(payload))] = dumps([event, payload], separators=(",", ":"))
                except TypeError:
                    self.emit(event, payload, namespace=namespace, to=room)
                    continue
            # a Socket.IO EVENT packet ("2"), as socketio.packet.Packet.encode writes it
            pkt = eio_packet.Packet(eio_packet.MESSAGE, f"2{namespace}," + text if namespace != "/" else "2" + text)
            for eio_sid in list(members._fwdm.values()):
                server._send_eio_packet(eio_sid, pkt)

    def _handle_event(self, handler: Any, message: str, namespace: str, sid: str, *args: Any) -> Any:
        environ: dict[str, Any] | None = self.server.get_environ(sid, namespace=namespace) if self.server else None
        session = environ.get("saved_session") if environ else None
        if environ is None or session is None or message == "connect" or not self.manage_session:
            # Flask-SocketIO's own path: it saves the connection's session on its first event
            return super()._handle_event(handler, message, namespace, sid, *args)
        with EventContext(environ["flask.app"], environ, session):
            request: Any = flask.request
            request.sid = sid
            request.namespace = namespace
            request.event = {"message": message, "args": args}
            try:
                return handler(*args)
            except ConnectionRefusedError:
                raise  # let this error bubble up to python-socketio
            except Exception:
                err_handler = self.exception_handlers.get(namespace, self.default_exception_handler)
                if err_handler is None:
                    raise
                return err_handler(sys.exc_info()[1])


socketio = GigSocketIO()
