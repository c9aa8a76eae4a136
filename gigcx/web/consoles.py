"""The landing page (`/`), the expert console (`/expert/`) and the brand console (`/brand/`).

The pages are static shells; `static/expert.js` and `static/brand.js` (ES modules, no build step)
talk to the REST API and Socket.IO with a bearer token kept in `sessionStorage`. No cookie is ever
used for authentication, so there is no CSRF surface: a forged cross-site request carries no token.

Browser libraries come from `node_modules` (npm, `make setup`), like the widget's Socket.IO client:
`/console/vendor/socket.io.min.js` and `/console/vendor/chart.umd.js`; missing files answer 503.
"""
from __future__ import annotations

import hashlib
import logging
import sys
import threading
from pathlib import Path

from flask import Blueprint, Response, jsonify, render_template, request

from gigcx.auth import public
from gigcx.db import session_scope
from gigcx.services import brands
from gigcx.web.headers import strict_page
from gigcx.web.widget import node_modules

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
VENDOR = {
    "socket.io.min.js": Path("socket.io-client") / "dist" / "socket.io.min.js",
    "chart.umd.js": Path("chart.js") / "dist" / "chart.umd.js",
}
#: Vendor files keep their URL across upgrades: revalidate (cheaply, by ETag) after an hour.
VENDOR_CACHE = "public, max-age=3600, stale-while-revalidate=86400"

#: The brand `gigcx demo` creates; the landing page links to its demo page when it exists.
DEMO_SLUG = "demo"

bp = Blueprint("consoles", __name__, static_folder="static", static_url_path="/console/static",
               template_folder="templates")

_vendor_cache: dict[tuple[str, int, int], tuple[bytes, str]] = {}
_lock = threading.Lock()


@bp.get("/")
@public
def home() -> Response:
    """The landing page: what this server is, and links to the demo, the consoles and the API."""
    links = {"expert_console": "/expert/", "brand_console": "/brand/", "api": "/api/v1/openapi.json",
             "widget": "/widget.js", "health": "/healthz", "metrics": "/metrics"}
    with session_scope() as session:
        brand = brands.brand_by_slug(session, DEMO_SLUG)
        demo = {"slug": brand.slug, "name": brand.name} if brand is not None else None
    if demo is not None:
        links["demo"] = f"/demo/{demo['slug']}"
    if request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json":
        return jsonify({"name": "GigCX", "version": _version(), "links": links})
    return _page(render_template("home.html", demo=demo, version=_version()))


def _version() -> str:
    """The package's version (read from the loaded package: importing `gigcx` here would make the
    pages layer depend on the app factory)."""
    return str(getattr(sys.modules.get("gigcx"), "__version__", "unknown"))


@bp.get("/expert/")
@public  # the page; its API calls carry the token
def expert_console() -> Response:
    """The expert console."""
    return _page(render_template("expert.html"))


@bp.get("/brand/")
@public  # the page; its API calls carry the token
def brand_console() -> Response:
    """The brand console (staff of a brand: admins and analysts)."""
    return _page(render_template("brand.html"))


@bp.get("/console/vendor/<name>")
@public  # browser libraries
def vendor(name: str) -> Response:
    """An npm-installed browser library, with an ETag; 503 if `npm install` was not run."""
    rel = VENDOR.get(name)
    if rel is None:
        resp = jsonify({"error": {"code": "not_found", "message": "no such file"}})
        resp.status_code = 404
        return resp
    path = node_modules() / rel
    try:
        st = path.stat()
    except FileNotFoundError:
        msg = (f"{path} is missing: run `make setup` (or `npm install`) to install the npm packages "
               "of package.json")
        log.error("%s", msg)
        resp = jsonify({"error": {"code": "unavailable", "message": msg}})
        resp.status_code = 503
        resp.headers["Cache-Control"] = "no-store"
        return resp
    key = (str(path), st.st_mtime_ns, st.st_size)
    cached = _vendor_cache.get(key)
    if cached is None:
        body = b"\n".join(line for line in path.read_bytes().splitlines()
                          if not line.startswith(b"//# sourceMappingURL="))
        cached = (body, hashlib.sha256(body).hexdigest()[:32])
        with _lock:
            _vendor_cache[key] = cached
    body, etag = cached
    headers = {"Cache-Control": VENDOR_CACHE, "ETag": f'"{etag}"', "X-Content-Type-Options": "nosniff"}
    if etag in request.if_none_match:
        return Response(status=304, headers=headers)
    return Response(body, mimetype="text/javascript", headers=headers)


@bp.after_request
def _hardening(resp: Response) -> Response:
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("Referrer-Policy", "no-referrer")
    return resp


def _page(html: str) -> Response:
    """A console page: never cached, never framed, scripts only from this origin."""
    resp = strict_page(Response(html, mimetype="text/html"), "no-store")
    resp.headers["X-Frame-Options"] = "DENY"
    resp.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    return resp
