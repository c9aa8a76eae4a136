"""HTTP hardening below the app: slow clients cannot hold a connection, bodies are bounded.

- `hardened_handler`: gevent's request handler with a deadline for the request line and headers
  (`GIGCX_HEADER_TIMEOUT_S`, 10 s; it also closes idle keep-alive connections) and one for reading
  a body (`GIGCX_BODY_TIMEOUT_S`, 30 s from the first read; `408`). A slowloris client trickling
  bytes is cut off at the deadline instead of holding its greenlet and socket for ever. After the
  response, at most `DISCARD_LIMIT` unread body bytes are drained (within the body deadline);
  beyond that the connection is closed instead.
- `PollingBodyLimit`: Engine.IO long-polling POSTs larger than Socket.IO's frame limit get `413`
  at once, chunked ones included (Engine.IO itself reads no chunked body, and for a declared
  length it closed the session and let the server drain the rest).
- `MaxBodyRequest`: a chunked REST body over `MAX_CONTENT_LENGTH` is `413`, not silently cut at
  the limit (werkzeug stops reading exactly at the limit and reports nothing).
- `CachedSerializerSessionInterface`: Flask's cookie sessions without rebuilding the signing
  serializer for every request and every Socket.IO event.
"""
from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, Request
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer
from werkzeug.exceptions import RequestEntityTooLarge, RequestTimeout
from werkzeug.wsgi import LimitedStream

DISCARD_LIMIT = 1024 * 1024  # unread body bytes drained after a response before closing instead


class BodyTimeout(RequestTimeout):
    """The client did not send its body within the deadline (`408`)."""

    description = "the request body did not arrive in time"


class HeaderTimeout(ValueError):
    """The client did not send its request line and headers within the deadline."""


RFILE_BUFFER = 1024  # bytes of the buffer a connection's request line, headers and body are read through


def hardened_handler(settings: Any) -> type:
    """gevent's WSGIHandler with header and body deadlines from the settings."""
    import gevent
    from gevent.pywsgi import Input, WSGIHandler

    header_s, body_s = settings.header_timeout_s, settings.body_timeout_s

    class DeadlineInput(Input):
        """Request body reads share one deadline, starting at the first read."""

        __slots__ = ("deadline", "handler")
        deadline: float | None
        handler: Any

        def _timed(self, read: Callable[..., bytes], *args: Any, **kwargs: Any) -> bytes:
            if self.deadline is None:
                self.deadline = time.monotonic() + body_s
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise BodyTimeout()
            with gevent.Timeout(left, BodyTimeout()):
                return read(*args, **kwargs)

        def _do_read(self, *args: Any, **kwargs: Any) -> bytes:
            return self._timed(super()._do_read, *args, **kwargs)

        def _chunked_read(self, *args: Any, **kwargs: Any) -> bytes:
            return self._timed(super()._chunked_read, *args, **kwargs)

        def _discard(self) -> None:
            """Drain a little of what the app did not read; close the connection rather than more."""
            drained = 0
            try:
                while drained <= DISCARD_LIMIT:
                    data = self.read(16384)
                    if not data:
                        return
                    drained += len(data)
            except (BodyTimeout, OSError, ValueError):
                pass
            self.handler.close_connection = True

    class HardenedHandler(WSGIHandler):
        """Request line and headers within `header_s`; bodies within `body_s`."""

        _header_timer: Any = None

        def __init__(self, sock: Any, address: Any, server: Any, rfile: Any = None) -> None:
            # A WebSocket keeps its handler, and this buffer, for its whole life (the frames are
            # read from a dup of the socket): 1 KiB instead of io's 8 KiB default is ~7 KiB less
            # per idle socket (benchmarks.md, "Idle sockets"). Longer header lines and bodies are
            # read all the same, in more reads.
            super().__init__(sock, address, server, rfile if rfile is not None else sock.makefile("rb", RFILE_BUFFER))

        def read_requestline(self) -> str:
            self._header_timer = gevent.Timeout(header_s, HeaderTimeout("headers took too long"))
            self._header_timer.start()
            try:
                return super().read_requestline()
            except HeaderTimeout:  # idle keep-alive, or a client that never finishes its request line
                self._header_timer.cancel()
                return ""  # ends the connection quietly

        def handle_one_request(self) -> Any:
            try:
                return super().handle_one_request()
            finally:  # a request line refused before its headers were read leaves the timer running
                if self._header_timer is not None:
                    self._header_timer.cancel()

        def read_request(self, raw_requestline: str) -> Any:
            try:
                return super().read_request(raw_requestline)  # a HeaderTimeout is answered 400
            finally:
                if self._header_timer is not None:
                    self._header_timer.cancel()

        def get_environ(self) -> dict[str, Any]:
            env = super().get_environ()
            plain: Any = self.wsgi_input  # type: ignore[has-type]
            if env.get("wsgi.input") is plain:  # not an upgrade: reads go through the deadline
                timed = DeadlineInput(plain.rfile, plain.content_length, socket=plain.socket,
                                      chunked_input=plain.chunked_input)
                timed.deadline, timed.handler = None, self
                self.wsgi_input = env["wsgi.input"] = timed
            return env

    return HardenedHandler


class PollingBodyLimit:
    """WSGI middleware: Engine.IO long-polling POSTs over `limit` bytes answer `413` at once."""

    def __init__(self, app: Callable[..., Iterable[bytes]], limit: int, path: str = "/socket.io"):
        self.app, self.limit, self.path = app, limit, path

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "POST" and environ.get("PATH_INFO", "").startswith(self.path):
            length = environ.get("CONTENT_LENGTH")
            if length:
                if not length.isdigit() or int(length) > self.limit:
                    return self._too_large(start_response)
            elif environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked":
                body = environ["wsgi.input"].read(self.limit + 1)  # the input ends at the last chunk
                if len(body) > self.limit:
                    return self._too_large(start_response)
                environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
        return self.app(environ, start_response)

    def _too_large(self, start_response: Callable[..., Any]) -> list[bytes]:
        body = json.dumps({"error": {"code": "payload_too_large",
                                     "message": f"a long-polling POST carries at most {self.limit} bytes"}}).encode()
        start_response("413 Request Entity Too Large", [("Content-Type", "application/json"),
                                                        ("Content-Length", str(len(body))),
                                                        ("Connection", "close")])
        return [body]


class WebSocketCompression:
    """WSGI middleware: with `enabled` false, WebSocket upgrades under `path` are served as if the
    client had offered no extension, so permessage-deflate is never negotiated. simple-websocket
    accepts the deflate offer of every client that makes one and has no option against it; it
    reads the offer from the environ, so removing the header there is the switch."""

    def __init__(self, app: Callable[..., Iterable[bytes]], enabled: bool, path: str = "/socket.io"):
        self.app, self.enabled, self.path = app, enabled, path

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if (not self.enabled and "HTTP_SEC_WEBSOCKET_EXTENSIONS" in environ
                and environ.get("PATH_INFO", "").startswith(self.path)):
            del environ["HTTP_SEC_WEBSOCKET_EXTENSIONS"]
        return self.app(environ, start_response)


class _StrictMaxStream(LimitedStream):
    """A LimitedStream at `max_content_length` that says `413` when more would follow, instead of
    ending quietly at the limit (a chunked body has no length to check up front)."""

    def readall(self) -> bytes:
        data = super().readall()
        if self.is_exhausted and self._stream.read(1):
            raise RequestEntityTooLarge()
        return data


class MaxBodyRequest(Request):
    """Flask's request, with `413` for chunked bodies over `MAX_CONTENT_LENGTH`."""

    @property
    def stream(self) -> Any:
        cached = self.__dict__.get("_gigcx_stream")
        if cached is None:
            cached = super().stream
            if isinstance(cached, LimitedStream) and cached._limit_is_max:
                cached = _StrictMaxStream(cached._stream, cached.limit, is_max=True)
            self.__dict__["_gigcx_stream"] = cached
        return cached


class CachedSerializerSessionInterface(SecureCookieSessionInterface):
    """Flask's cookie sessions, with the signing serializer built once per set of keys.

    Flask builds it for every request context, and Flask-SocketIO pushes one for every Socket.IO
    event: building it (itsdangerous checks its serializer by dumping `{}`) was a fifth of the
    per-event overhead around a chat message's handler (docs/benchmarks.md, "The message path").
    The serializer is immutable; a changed key or fallback list builds a new one."""

    def __init__(self) -> None:
        self._serializers: dict[tuple[Any, ...], URLSafeTimedSerializer | None] = {}

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        key = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        serializer = self._serializers.get(key, _MISSING)
        if serializer is _MISSING:
            serializer = super().get_signing_serializer(app)
            if len(self._serializers) > 8:  # keys rotated many times: start over
                self._serializers.clear()
            self._serializers[key] = serializer
        return serializer


_MISSING: Any = object()
