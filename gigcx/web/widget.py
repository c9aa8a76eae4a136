"""The customer widget: `/widget.js` (one file, Socket.IO client included) and `/demo/<slug>`.

`/widget.js` is built on the fly and cached in memory, with no build step, from:

- the official browser build of `socket.io-client`, installed by `npm install` (`make setup`) into
  `node_modules/` at the repository root (or `$GIGCX_NODE_MODULES`), and
- the widget itself, the files of `gigcx/web/static/widget/` in the order of `WIDGET_PARTS`,
  joined inside one function scope (they share it, as one file would).

The Socket.IO build is wrapped in a function scope so it never touches the host page's globals
(no `window.io`, no AMD `define`), and the brand's page pays for one request only.
"""
from __future__ import annotations

import gzip
import hashlib
import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, render_template, request

from gigcx.auth import public
from gigcx.db import session_scope
from gigcx.schemas import LANGUAGE_PATTERN
from gigcx.services import brands
from gigcx.web.headers import strict_page

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
SOCKET_IO_BUILD = Path("socket.io-client") / "dist" / "socket.io.min.js"
WIDGET_DIR = HERE / "static" / "widget"
#: The widget's source files, in the order they run (the last one mounts the widget).
WIDGET_PARTS = tuple(WIDGET_DIR / name for name in (
    "config.js", "strings.js", "storage.js", "dom.js", "connection.js", "conversation.js",
    "render.js", "mount.js",
))
#: `/widget.js` keeps its URL across releases, so browsers revalidate it (cheaply, by ETag)
#: after five minutes and may keep using the old copy for a day while they do.
WIDGET_CACHE = "public, max-age=300, stale-while-revalidate=86400"
LANG = re.compile(LANGUAGE_PATTERN)  # the same tags `ask` accepts (it allowed one subtag only)

bp = Blueprint("web", __name__, static_folder="static", static_url_path="/widget/static",
               template_folder="templates")


class WidgetUnavailable(RuntimeError):
    """The Socket.IO client is not installed (npm install was not run)."""


def node_modules() -> Path:
    """Where npm installed the browser dependencies."""
    configured = current_app.config.get("GIGCX_NODE_MODULES") or current_app.config["GIGCX"].node_modules
    return Path(configured) if configured else REPO_ROOT / "node_modules"


@dataclass(frozen=True)
class Bundle:
    body: bytes
    gzipped: bytes
    etag: str


_cache: dict[tuple[object, ...], Bundle] = {}
_lock = threading.Lock()


def bundle() -> Bundle:
    """The widget with the Socket.IO client inlined; rebuilt only when a source file changes."""
    client = node_modules() / SOCKET_IO_BUILD
    try:
        client_stat = client.stat()
    except FileNotFoundError:
        raise WidgetUnavailable(
            f"the widget's Socket.IO client is missing ({client}): run `make setup` "
            f"(or `npm install` in {REPO_ROOT}) to install the npm packages of package.json") from None
    sources = (client, *WIDGET_PARTS)
    stats = (client_stat, *(part.stat() for part in WIDGET_PARTS))
    key = tuple((str(p), s.st_mtime_ns, s.st_size) for p, s in zip(sources, stats))
    cached = _cache.get(key)
    if cached is not None:
        return cached
    sio = "\n".join(line for line in client.read_text("utf-8").splitlines()
                    if not line.startswith("//# sourceMappingURL="))
    widget = "".join(f"\n{part.read_text('utf-8')}" for part in WIDGET_PARTS)
    text = (
        "/*! GigCX customer widget. Includes socket.io-client (MIT), scoped to this file. */\n"
        "(function () {\n"
        "var io = (function () {\n"
        "var module = { exports: {} }, exports = module.exports, define;\n"
        f"{sio}\n"
        "return module.exports;\n"
        "})();\n"
        "(function (io) {\n"
        '"use strict";\n'
        f"{widget}"
        "})(io);\n"
        "})();\n"
    )
    body = text.encode("utf-8")
    built = Bundle(body, gzip.compress(body, 9, mtime=0), hashlib.sha256(body).hexdigest()[:32])
    with _lock:
        _cache.clear()
        _cache[key] = built
    return built


@bp.get("/widget.js")
@public
def widget_js() -> Response:
    """The one script a brand embeds."""
    try:
        b = bundle()
    except WidgetUnavailable as exc:
        log.error("%s", exc)
        resp = jsonify({"error": {"code": "unavailable", "message": str(exc)}})
        resp.status_code = 503
        resp.headers["Cache-Control"] = "no-store"
        return resp
    headers = {
        "Cache-Control": WIDGET_CACHE,
        "ETag": f'"{b.etag}"',
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
        # Brands' pages load it cross-origin, possibly under COEP.
        "Cross-Origin-Resource-Policy": "cross-origin",
        "Access-Control-Allow-Origin": "*",
    }
    if b.etag in request.if_none_match:
        return Response(status=304, headers=headers)
    gz = "gzip" in request.accept_encodings
    resp = Response(b.gzipped if gz else b.body, mimetype="text/javascript", headers=headers)
    if gz:
        resp.headers["Content-Encoding"] = "gzip"
    return resp


@bp.get("/demo/<slug>")
@public
def demo(slug: str) -> tuple[Response | str, int] | Response:
    """A sample brand page with the widget embedded, for brands to try it."""
    with session_scope() as session:
        brand = brands.brand_by_slug(session, slug)
        name = brand.name if brand is not None else None
    if name is None:
        if request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json":
            resp = jsonify({"error": {"code": "not_found", "message": f"no brand {slug!r}"}})
            resp.status_code = 404
            return resp
        html = render_template("demo_404.html", slug=slug)
        return _page(Response(html, status=404, mimetype="text/html"))
    lang = request.args.get("lang", "")
    position = request.args.get("position", "")
    html = render_template(
        "demo.html", slug=slug, name=name,
        lang=lang if LANG.match(lang) else "",
        position=position if position in ("left", "right") else "",
    )
    return _page(Response(html, mimetype="text/html"))


def _page(resp: Response) -> Response:
    """Headers of an HTML page: revalidated on every visit, a strict CSP the widget works under."""
    return strict_page(resp, "no-cache")
