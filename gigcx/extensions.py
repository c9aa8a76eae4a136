"""Extension objects, created unbound at import and bound to the app in `create_app`."""
from __future__ import annotations

import sys
from typing import Any

import flask
from flask import Flask
from flask.ctx import RequestContext
from flask.sessions import SessionMixin
from flask_socketio import SocketIO


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
    """Flask-SocketIO with `EventContext` around every event after `connect`."""

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
