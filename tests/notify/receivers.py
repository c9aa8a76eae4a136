"""Real local receivers for the notification tests: a threaded HTTP server that records what it
is sent (and answers as told), and an SMTP server (aiosmtpd) that keeps what arrives."""
from __future__ import annotations

import email
import email.policy
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """An HTTP endpoint on 127.0.0.1: records every POST; answers `status` (after `delay` seconds,
    with a `Location` when given) as queued by `answer`, then 200."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.plan: deque[tuple[int, float, str | None]] = deque()
        self.default: tuple[int, float, str | None] = (200, 0.0, None)
        self.cond = threading.Condition()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with outer.cond:
                    status, delay, location = outer.plan.popleft() if outer.plan else outer.default
                    outer.received.append(Received(self.path, dict(self.headers.items()), body))
                    outer.cond.notify_all()
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    if location:
                        self.send_header("Location", location)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:  # the sender gave up waiting
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, status: int, times: int = 1, delay: float = 0.0, location: str | None = None) -> None:
        with self.cond:
            self.plan.extend([(status, delay, location)] * times)

    def wait(self, n: int, timeout: float = 15) -> list[Received]:
        """The first `n` requests, waiting for them if needed."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.received) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"got {len(self.received)} of {n} requests")
                self.cond.wait(left)
            return list(self.received[:n])

    def events(self) -> list[Any]:
        with self.cond:
            return [r.json for r in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Mailbox:
    """An SMTP server on 127.0.0.1 (aiosmtpd, in its own thread) keeping every message."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[EmailMessage] = []
        self.cond = threading.Condition()
        outer = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
                msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
                with outer.cond:
                    outer.messages.append(msg)  # type: ignore[arg-type]
                    outer.cond.notify_all()
                return "250 OK"

        from tests.servers import free_port

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def wait(self, n: int, timeout: float = 15) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.messages) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"got {len(self.messages)} of {n} e-mails: "
                                         f"{[m['Subject'] for m in self.messages]}")
                self.cond.wait(left)
            return list(self.messages[:n])

    def close(self) -> None:
        self.controller.stop()


def parts(msg: EmailMessage) -> tuple[str, str]:
    """The plain-text and HTML bodies."""
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()
