"""The console pages and their assets as HTTP resources (no browser needed)."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import assert_error

STATIC = Path(__file__).resolve().parents[2] / "gigcx" / "web" / "static"


@pytest.mark.parametrize("path", ["/expert/", "/brand/"])
def test_console_pages_are_locked_down(client: Any, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 200 and r.mimetype == "text/html"
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self';" in csp and "'unsafe-inline'" not in csp
    assert "connect-src 'self'" in csp and "frame-ancestors 'none'" in csp and "form-action 'none'" in csp
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["Referrer-Policy"] == "no-referrer"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in r.headers  # bearer tokens only: nothing for a CSRF to ride on
    page = r.get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)", page), "no inline script"
    assert not re.search(r"<[^>]+\son[a-z]+=", page), "no inline event handlers"
    assert client.get(path.rstrip("/")).status_code == 308


@pytest.mark.parametrize("name", ["socket.io.min.js", "chart.umd.js"])
def test_vendor_scripts_come_from_node_modules_with_an_etag(client: Any, name: str) -> None:
    r = client.get(f"/console/vendor/{name}")
    assert r.status_code == 200 and r.mimetype == "text/javascript"
    assert b"sourceMappingURL" not in r.data
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    again = client.get(f"/console/vendor/{name}", headers={"If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304 and not again.data


def test_vendor_scripts_say_how_to_install_them(app: Any, client: Any, tmp_path: Path) -> None:
    app.config["GIGCX_NODE_MODULES"] = str(tmp_path / "nowhere")
    r = client.get("/console/vendor/chart.umd.js")
    assert_error(r, 503, "unavailable")
    assert "npm install" in r.get_json()["error"]["message"] and r.headers["Cache-Control"] == "no-store"
    assert client.get("/console/vendor/evil.js").status_code == 404


def test_console_scripts_never_use_innerhtml(client: Any) -> None:
    names = sorted(p.name for p in STATIC.glob("*.js"))  # every console module (the widget's are in widget/)
    assert {"common.js", "expert.js", "brand.js", "flagged.js"} <= set(names)
    for name in names:
        with client.get(f"/console/static/{name}") as r:
            assert r.status_code == 200 and "javascript" in r.mimetype
        source = (STATIC / name).read_text()
        sinks = re.findall(r"\.(?:inner|outer)HTML\b|insertAdjacentHTML|document\.write|\beval\(|new Function", source)
        assert not sinks, (name, sinks)
        assert "localStorage" not in source  # tokens live for the tab only (sessionStorage)
    with client.get("/console/static/console.css") as css:
        assert css.status_code == 200 and css.mimetype == "text/css"
