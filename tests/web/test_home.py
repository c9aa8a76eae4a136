"""The landing page at `/`: what the server is, and where to go next."""
from __future__ import annotations

import re
from typing import Any


def test_home_page_explains_and_links(client: Any) -> None:
    r = client.get("/")
    assert r.status_code == 200 and r.mimetype == "text/html"
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    page = r.get_data(as_text=True)
    assert "peer-to-peer customer support" in page.lower()
    for href in ("/expert/", "/brand/", "/api/v1/openapi.json", "/healthz"):
        assert f'href="{href}"' in page, href
    # No demo brand yet: the page says how to make one instead of linking to a 404.
    assert "/demo/demo" not in page and "make demo" in page
    assert not re.search(r"<script", page), "a static page"


def test_home_links_the_demo_page_once_seeded(client: Any, api: Any) -> None:
    api.brand("demo")
    page = client.get("/").get_data(as_text=True)
    assert 'href="/demo/demo"' in page
    assert client.get("/demo/demo").status_code == 200


def test_home_answers_json_to_api_clients(client: Any) -> None:
    r = client.get("/", headers={"Accept": "application/json"})
    assert r.status_code == 200
    body = r.get_json()
    import gigcx

    assert body["name"] == "GigCX" and body["version"] == gigcx.__version__
    assert body["links"]["api"] == "/api/v1/openapi.json"
    assert "demo" not in body["links"]
