"""The ceiling for the load benchmark: a bare Flask-SocketIO relay in the same async mode as GigCX.

Same stack as `gigcx serve` (gevent without greenlet spawn stacks, simple-websocket, gevent's
WSGIServer on a TCP_NODELAY listener, the same garbage-collector settings), no database, no validation: a client in room `p<N>-a` sends `message {to, ...}` with an
ack, the server emits it to room `to` and acks. That is the least work one relayed chat message
can cost on this stack, so GigCX's relay throughput is quoted as a fraction of it.

    python bench/echo_server.py --port 8765
"""
from __future__ import annotations

import gevent
from gevent import monkey

gevent.config.track_greenlet_tree = False  # as gigcx.entry does for `gigcx serve`
monkey.patch_all()

import argparse
import socket
from typing import Any

from flask import Flask
from flask_socketio import SocketIO, emit, join_room
from gevent.pywsgi import WSGIServer
from gevent.socket import socket as green_socket

app = Flask(__name__)
sio = SocketIO(app, async_mode="gevent", cors_allowed_origins="*", max_http_buffer_size=64 * 1024,
               ping_interval=20, ping_timeout=20)


@sio.on("connect", namespace="/echo")
def connect(auth: Any = None) -> None:
    if isinstance(auth, dict) and isinstance(auth.get("room"), str):
        join_room(auth["room"])


@sio.on("message", namespace="/echo")
def message(data: Any) -> dict[str, Any]:
    if isinstance(data, dict) and isinstance(data.get("to"), str):
        emit("message", data, to=data["to"])
    return {"ok": True}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    listener = green_socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    listener.bind((args.host, args.port))
    listener.listen(1024)
    from gigcx.observability import tune_gc_for_serving

    tune_gc_for_serving()  # what `gigcx serve` does after start-up
    print(f"echo listening on {args.host}:{args.port}", flush=True)
    WSGIServer(listener, app, log=None).serve_forever()


if __name__ == "__main__":
    main()
