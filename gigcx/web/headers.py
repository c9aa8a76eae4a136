"""Security headers shared by every HTML page GigCX serves (demo page, consoles)."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Response, current_app


def websocket_sources() -> str:
    """The WebSocket origin of the configured public URL (`GIGCX_PUBLIC_URL`), for `connect-src`.

    Never taken from the request's `Host` header: a forged header would be written into the
    policy (and into cached pages). Without a public URL, `'self'` covers the page's own origin,
    WebSockets included (CSP level 3)."""
    url = current_app.config["GIGCX"].public_url
    if not url:
        return ""
    parts = urlsplit(url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return f" {scheme}://{parts.netloc}"


def strict_page(resp: Response, cache_control: str) -> Response:
    """Scripts, styles and connections only from this origin; never framed; no referrer."""
    resp.headers["Content-Security-Policy"] = (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self'{websocket_sources()}; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    )
    resp.headers["Cache-Control"] = cache_control
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "no-referrer"
    return resp
