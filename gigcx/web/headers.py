"""Security headers shared by every HTML page GigCX serves (demo page, consoles)."""
from __future__ import annotations

from flask import Response, request


def strict_page(resp: Response, cache_control: str) -> Response:
    """Scripts, styles and connections only from this origin; never framed; no referrer."""
    host = request.host
    resp.headers["Content-Security-Policy"] = (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self' ws://{host} wss://{host}; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    )
    resp.headers["Cache-Control"] = cache_control
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "no-referrer"
    return resp
