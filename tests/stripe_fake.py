"""Launcher and client for a localstripe subprocess extended with the Connect endpoints GigCX uses.

Run as a script (``python tests/stripe_fake.py --port 0``) it serves localstripe's aiohttp app
on 127.0.0.1, adds fake Connect routes (accounts, account links, transfers, transfer reversals),
honours ``Idempotency-Key`` on every POST /v1/ route like real Stripe (same key and same params
give the same answer; same key and other params give a 400 idempotency_error), and accepts
fault injection on ``/_test/faults``. It prints ``LOCALSTRIPE_PORT=<port>`` once listening.

The server's parts are in the ``fakestripe`` package beside this file (imported only in that
subprocess). Imported, this module offers :class:`LocalStripe`, which starts that script in a subprocess and talks to
its ``/_config`` and ``/_test`` routes. The importing side needs no aiohttp or localstripe import.
"""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from typing import Any, Optional

API_KEY = "sk_test_gigcx_localstripe"
PORT_LINE = "LOCALSTRIPE_PORT="


# --------------------------------------------------------------------------------------------
# Client side (imported by tests)
# --------------------------------------------------------------------------------------------

class LocalStripe:
    """A localstripe subprocess on a free 127.0.0.1 port, with helpers for its config routes."""

    def __init__(self, startup_timeout: float = 20.0) -> None:
        self.startup_timeout = startup_timeout
        self.api_key = API_KEY
        self.port: Optional[int] = None
        self._proc: Optional[subprocess.Popen[bytes]] = None
        self._log_path = ""

    @property
    def url(self) -> str:
        """Base URL to give the Stripe SDK as its api base."""
        if self.port is None:
            raise RuntimeError("LocalStripe is not started")
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LocalStripe:
        """Start the subprocess and wait until it listens."""
        fd, self._log_path = tempfile.mkstemp(prefix="localstripe-", suffix=".log")
        log = os.fdopen(fd, "wb")
        env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONWARNINGS="ignore")
        self._proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--port", "0"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        log.close()
        atexit.register(self.stop)  # never leave our subprocess behind, even if a test run aborts
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"localstripe exited early:\n{self.log()}")
            for line in self.log().splitlines():
                if line.startswith(PORT_LINE):
                    self.port = int(line[len(PORT_LINE):])
                    return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"localstripe did not start in time:\n{self.log()}")

    def log(self) -> str:
        """The subprocess's output so far (useful in assertion messages)."""
        try:
            with open(self._log_path, "rb") as fh:
                return fh.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """Terminate the subprocess we started (by its own pid) and remove its log."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if self._log_path:
            try:
                os.unlink(self._log_path)
            except OSError:
                pass

    def __enter__(self) -> LocalStripe:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _call(self, method: str, path: str, body: Optional[dict[str, Any]] = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json",
                                              "Authorization": f"Bearer {self.api_key}"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read()
        return json.loads(raw) if raw.strip() else None

    def reset(self) -> None:
        """Forget every object, idempotency record, fault and webhook-free state."""
        self._call("DELETE", "/_config/data")
        self._call("DELETE", "/_test/faults")

    def register_webhook(self, name: str, url: str, secret: str,
                         events: Optional[list[str]] = None) -> None:
        """Ask localstripe to POST signed events to `url` (about one second late)."""
        body: dict[str, Any] = {"url": url, "secret": secret}
        if events is not None:
            body["events"] = events
        self._call("POST", f"/_config/webhooks/{name}", body)

    def add_fault(self, mode: str, *, path: str = "/v1/transfers", method: str = "POST",
                  count: int = 1, delay: float = 0.0, skip: int = 0) -> None:
        """Make the next `count` matching requests misbehave.

        Modes: ``error_500`` (answer a Stripe-shaped 500, create nothing), ``timeout``
        (sleep `delay` seconds, then answer 500 without creating anything), ``drop_after_commit``
        (perform the request at "Stripe", then close the connection without answering),
        ``card_declined`` (perform it, then answer Stripe's 402 card_error, which localstripe never
        gives for a PaymentIntent created with confirm=true). Each outcome of a request with an
        Idempotency-Key is kept and replayed for that key, errors included, as Stripe does.
        """
        self._call("POST", "/_test/faults", {"mode": mode, "path": path, "method": method,
                                             "count": count, "delay": delay, "skip": skip})

    def add_status_fault(self, status: int, *, code: str = "", path: str = "/v1/transfers",
                         method: str = "GET", count: int = 1, skip: int = 0) -> None:
        """The next `count` matching requests answer `status` (401/403 as authentication errors).

        401/403 (authentication) and 502/503/504 (Stripe's edge) happen before the API runs, so
        Stripe keeps nothing under the idempotency key; any other status is the key's first
        outcome and is replayed like Stripe does. `skip` lets that many matching requests pass first.
        """
        self._call("POST", "/_test/faults", {"mode": "status", "status": status, "code": code,
                                             "path": path, "method": method, "count": count,
                                             "skip": skip})

    def set_balance(self, currency: str, cents: Optional[int]) -> None:
        """The platform's available balance in a currency (None: unlimited, the default)."""
        self._call("POST", "/_test/balance", {"currency": currency, "cents": cents})

    def configure(self, **options: Any) -> None:
        """Test options: `reversals_embedded` (how many reversals an event embeds, default 10)."""
        self._call("POST", "/_test/config", options)

    def reverse(self, transfer_id: str, amount: Optional[int] = None) -> dict[str, Any]:
        """Reverse (part of) a transfer, as the platform would in the dashboard."""
        body: dict[str, Any] = {} if amount is None else {"amount": amount}
        result: dict[str, Any] = self._call("POST", f"/_test/transfers/{transfer_id}/reverse", body)
        return result

    def transfers(self) -> list[dict[str, Any]]:
        """Every transfer the server holds (test-only view, no faults)."""
        result: list[dict[str, Any]] = self._call("GET", "/_test/transfers")
        return result

    def clear_faults(self) -> None:
        """Remove every pending fault."""
        self._call("DELETE", "/_test/faults")

    def complete_onboarding(self, account_id: str) -> dict[str, Any]:
        """Mark a connected account fully onboarded and emit account.updated."""
        result: dict[str, Any] = self._call("POST", f"/_test/accounts/{account_id}/complete", {})
        return result

    def request_count(self, method: str, path: str) -> int:
        """How many requests the server saw for method+path (e.g. to count transfer creations)."""
        counts: dict[str, int] = self._call("GET", "/_test/requests")
        return counts.get(f"{method} {path}", 0)


def _serve(port: int) -> None:  # pragma: no cover - executed in the subprocess
    import socket

    from aiohttp import web
    from fakestripe.app import build_app  # beside this file: the script's folder is on sys.path

    app = build_app()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)  # accept (queue) connections before the event loop runs
    print(f"{PORT_LINE}{sock.getsockname()[1]}", flush=True)
    web.run_app(app, sock=sock, print=None, access_log=None, handle_signals=True)


if __name__ == "__main__":  # pragma: no cover
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    _serve(parser.parse_args().port)
