"""Outbound HTTP for webhooks: one POST to a brand's URL that cannot be turned against us.

Brands choose the URLs, so a URL is a request forgery (SSRF) vector: by default only public
(globally routable) addresses are contacted. The host is resolved once, every address is checked,
and the connection goes to the checked address (a DNS answer cannot change between the check and
the connection). Redirects are never followed: a 3xx is a failed attempt. The answer's body is
read up to 4 KiB. `allow_private` (GIGCX_WEBHOOK_ALLOW_PRIVATE) lifts the address rule for
development and tests with local receivers.
"""
from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_BODY = 4096
_LOCAL_NAMES = ("localhost", ".localhost", ".local", ".internal", ".localdomain", ".home.arpa")


class Refused(ValueError):
    """The URL may not be contacted (scheme, private address, malformed)."""


@dataclass(frozen=True)
class Result:
    """What one POST got: the status code (None when no answer), or what went wrong."""

    status: int | None
    error: str | None
    duration_ms: int
    body: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def _public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None:
        ip = mapped
    return ip.is_global and not ip.is_multicast


def check_url(url: str, allow_private: bool) -> None:
    """Refuse a URL that is malformed or names a private address outright (registration time;
    names are resolved and checked again at every delivery)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise Refused(f"malformed URL: {exc}") from None
    if parts.scheme not in ("https", "http"):
        raise Refused("the URL must start with https://")
    if parts.scheme == "http" and not allow_private:
        raise Refused("the URL must use https://")
    if not parts.hostname:
        raise Refused("the URL has no host")
    if parts.username or parts.password:
        raise Refused("the URL must not contain credentials")
    if port == 0:
        raise Refused("the URL's port is invalid")
    if allow_private:
        return
    host = parts.hostname.lower().rstrip(".")
    if host == "localhost" or host.endswith(_LOCAL_NAMES):
        raise Refused("the URL names a local host")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return
    if not _public(ip):
        raise Refused("the URL names a private, loopback or reserved address")


def _resolve(host: str, port: int, allow_private: bool) -> str:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise Refused(f"cannot resolve {host}: {exc.strerror}") from None
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise Refused(f"cannot resolve {host}")
    if not allow_private:
        for a in addresses:
            if not _public(ipaddress.ip_address(a.split("%")[0])):
                raise Refused(f"{host} resolves to a private address ({a}); refused")
    return addresses[0]


class _PinnedHTTP(http.client.HTTPConnection):
    """HTTP to a checked address, with the URL's host in the Host header."""

    def __init__(self, host: str, address: str, port: int, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to a checked address; the certificate is verified against the URL's host name."""

    def __init__(self, host: str, address: str, port: int, timeout: float, context: ssl.SSLContext):
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address
        self._ctx = context

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._ctx.wrap_socket(sock, server_hostname=self.host)


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float, allow_private: bool,
         context: ssl.SSLContext | None = None) -> Result:
    """POST `body`; never raises for the endpoint's failures (they are the Result)."""
    start = time.monotonic()

    def done(status: int | None, error: str | None, text: str = "") -> Result:
        return Result(status, error[:500] if error else None, int((time.monotonic() - start) * 1000), text)

    try:
        check_url(url, allow_private)
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        address = _resolve(host, port, allow_private)
    except Refused as exc:
        return done(None, f"refused: {exc}")
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = _PinnedHTTPS(host, address, port, timeout, context or ssl.create_default_context())
    else:
        conn = _PinnedHTTP(host, address, port, timeout)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        conn.request("POST", path, body=body, headers={**headers, "Content-Length": str(len(body))})
        resp = conn.getresponse()
        text = resp.read(MAX_BODY).decode("utf-8", "replace")
        if 300 <= resp.status < 400:
            where = resp.getheader("Location") or "?"
            return done(resp.status, f"redirect to {where} not followed", text)
        return done(resp.status, None if 200 <= resp.status < 300 else f"HTTP {resp.status}", text)
    except ssl.SSLError as exc:
        return done(None, f"TLS error: {exc.reason or exc}")
    except TimeoutError:
        return done(None, f"timed out after {timeout:g} s")
    except OSError as exc:
        return done(None, f"connection failed: {exc.strerror or exc}")
    except http.client.HTTPException as exc:
        return done(None, f"bad HTTP answer: {type(exc).__name__}")
    finally:
        conn.close()
