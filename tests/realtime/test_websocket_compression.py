"""GIGCX_WEBSOCKET_COMPRESSION decides whether a browser's permessage-deflate offer is accepted."""
from __future__ import annotations

import base64
import io
import os
import socket
import threading
from typing import Any

import pytest

from gigcx import create_app
from gigcx.config import Settings

BROWSER_OFFER = "permessage-deflate; client_max_window_bits"


def _handshake(app: Any) -> str:
    """Upgrade one Engine.IO WebSocket through the whole WSGI stack (simple-websocket answers on a
    socket pair): the server's 101 response headers."""
    ours, theirs = socket.socketpair()
    environ = {
        "REQUEST_METHOD": "GET", "PATH_INFO": "/socket.io/", "QUERY_STRING": "EIO=4&transport=websocket",
        "SERVER_NAME": "localhost", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(), "wsgi.errors": io.StringIO(),
        "wsgi.version": (1, 0), "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
        "werkzeug.socket": theirs, "HTTP_HOST": "localhost", "HTTP_UPGRADE": "websocket",
        "HTTP_CONNECTION": "Upgrade", "HTTP_SEC_WEBSOCKET_VERSION": "13",
        "HTTP_SEC_WEBSOCKET_KEY": base64.b64encode(os.urandom(16)).decode(),
        "HTTP_SEC_WEBSOCKET_EXTENSIONS": BROWSER_OFFER,
    }

    def serve() -> None:
        try:
            app.wsgi_app(environ, lambda *a, **kw: None)
        except Exception:  # noqa: BLE001, S110 - werkzeug mode ends the request by raising
            pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ours.settimeout(5)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = ours.recv(4096)
        assert chunk, data
        data += chunk
    ours.close()
    thread.join(5)
    head = data.split(b"\r\n\r\n", 1)[0].decode()
    assert head.startswith("HTTP/1.1 101"), head
    return head.lower()


@pytest.mark.parametrize("enabled", [False, True])
def test_the_setting_decides_whether_deflate_is_negotiated(settings: Settings, enabled: bool) -> None:
    app = create_app({"GIGCX": settings.model_copy(update={"websocket_compression": enabled}), "TESTING": True})
    try:
        head = _handshake(app)
    finally:
        app.extensions["gigcx_engine"].dispose()
    assert ("sec-websocket-extensions: permessage-deflate" in head) is enabled


def test_compression_is_off_by_default() -> None:
    assert Settings.load({}).websocket_compression is False
    assert Settings.load({"GIGCX_WEBSOCKET_COMPRESSION": "true"}).websocket_compression is True
