"""`/widget.js` and `/demo/<slug>` as HTTP resources (no browser needed)."""
from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

from tests.conftest import Api, assert_error


def test_widget_js_is_one_cacheable_script_with_the_socket_io_client_inside(client: Any) -> None:
    r = client.get("/widget.js")
    assert r.status_code == 200
    assert r.mimetype == "text/javascript"
    body = r.get_data(as_text=True)
    assert "Socket.IO v4." in body and "gigcx:v1:" in body
    assert "sourceMappingURL" not in body
    assert r.headers["Cache-Control"].startswith("public, max-age=")
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    etag = r.headers["ETag"]
    again = client.get("/widget.js", headers={"If-None-Match": etag})
    assert again.status_code == 304 and not again.data
    zipped = client.get("/widget.js", headers={"Accept-Encoding": "gzip, br"})
    assert zipped.headers["Content-Encoding"] == "gzip" and zipped.headers["Vary"] == "Accept-Encoding"
    assert gzip.decompress(zipped.data).decode() == body
    assert len(zipped.data) < 40_000, "keep the widget light on phones"


def test_widget_js_says_how_to_install_a_missing_socket_io_client(app: Any, client: Any, tmp_path: Path) -> None:
    app.config["GIGCX_NODE_MODULES"] = str(tmp_path / "nowhere")
    r = client.get("/widget.js")
    assert_error(r, 503, "unavailable")
    assert "npm install" in r.get_json()["error"]["message"]
    assert r.headers["Cache-Control"] == "no-store"


def test_demo_page_embeds_the_widget_under_a_strict_csp(api: Api, client: Any) -> None:
    api.post("/brands", "test-operator-token", json={"slug": "acme", "name": "Acme <script>alert(1)</script>"})
    r = client.get("/demo/acme")
    assert r.status_code == 200 and r.mimetype == "text/html"
    page = r.get_data(as_text=True)
    assert '<script src="/widget.js" data-brand="acme" async></script>' in page
    assert "<script>alert(1)" not in page and "Acme &lt;script&gt;" in page
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert "frame-ancestors 'none'" in csp
    assert r.headers["Cache-Control"] == "no-cache"

    french = client.get("/demo/acme?lang=fr&position=left").get_data(as_text=True)
    assert 'data-lang="fr" data-position="left"' in french
    hostile = client.get('/demo/acme?lang="><script>x</script>&position=top').get_data(as_text=True)
    assert '<script src="/widget.js" data-brand="acme" async></script>' in hostile and "<script>x" not in hostile


def test_demo_page_of_an_unknown_brand_is_a_404(client: Any) -> None:
    r = client.get("/demo/nobody", headers={"Accept": "text/html"})
    assert r.status_code == 404 and r.mimetype == "text/html"
    assert "No brand called" in r.get_data(as_text=True)
    assert "Content-Security-Policy" in r.headers
    assert_error(client.get("/demo/nobody", headers={"Accept": "application/json"}), 404, "not_found")
