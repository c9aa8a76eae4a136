"""The pages a newcomer meets first, in headless Chromium against a real server: the landing
page, the consoles' log-in screens and the demo page of an unknown brand. Each is checked with
axe-core, worked by keyboard, and saved as a screenshot at phone and desktop size."""
from __future__ import annotations

import os
from typing import Any

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - playwright is a test extra
    if os.environ.get("CI"):
        raise
    pytest.skip("playwright is not installed", allow_module_level=True)

from tests.browser.conftest import SCREENSHOTS, assert_accessible
from tests.servers import ADMIN_TOKEN, Server

pytestmark = pytest.mark.browser


def shot(page: Any, device: str, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"page-{device}-{name}.png"), full_page=True)


def tab_to(page: Any, name: str, limit: int = 30) -> None:
    """Press Tab until the focused element's accessible text is `name` (keyboard only)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("() => (document.activeElement.textContent || '').trim()") == name:
            return
    raise AssertionError(f"{name!r} is not reachable with Tab")


def test_landing_page_links_everything_by_keyboard(server: Server, browser_context: Any, device: str) -> None:
    page = browser_context.new_page()
    page.goto(server.url + "/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Peer-to-peer customer support")
    for name in ("Expert console", "Brand console", "REST API (OpenAPI document)"):
        expect(page.get_by_role("link", name=name)).to_be_visible()
    assert_accessible(page, f"home-{device}")
    shot(page, device, "home")
    tab_to(page, "Brand console")
    page.keyboard.press("Enter")
    expect(page).to_have_url(server.url + "/brand/")
    expect(page.get_by_role("heading", name="Staff log in")).to_be_visible()


def test_landing_page_leads_to_the_demo(server: Server, browser_context: Any, device: str) -> None:
    r = server.rest("POST", "/brands", ADMIN_TOKEN, json={"slug": "demo", "name": "Demo Bank"})
    assert r.status_code in (201, 409), r.text  # the module's server is shared by both sizes
    page = browser_context.new_page()
    page.goto(server.url + "/")
    shot(page, device, "home-with-demo")
    tab_to(page, "Open the demo page")
    page.keyboard.press("Enter")
    expect(page).to_have_url(server.url + "/demo/demo")
    expect(page.locator("gigcx-widget button.launcher")).to_be_visible()


def test_brand_login_checks_the_slug_and_says_what_is_wrong(server: Server, browser_context: Any,
                                                           device: str, page_watch: Any) -> None:
    page = browser_context.new_page()
    page.goto(server.url + "/brand/")
    brand = page.locator("#login-brand")
    # The pattern compiles under the `v` flag Chromium uses (an invalid one logs a console
    # error, which fails every browser test, and is skipped): a bad slug is refused.
    brand.fill("Not a slug!")
    assert brand.evaluate("e => e.validity.patternMismatch") is True
    brand.fill("acme-shop_2")
    assert brand.evaluate("e => e.validity.valid") is True
    assert_accessible(page, f"brand-login-{device}")
    shot(page, device, "brand-login")
    # Wrong credentials: said on the page (the 401 behind it is expected here).
    page_watch.allow(r"/api/v1/staff/token: 401|status of 401")
    page.fill("#login-email", "nobody@example.com")
    page.fill("#login-password", "password-123")
    page.locator("#login-password").press("Enter")
    expect(page.locator("#auth-msg")).to_be_visible()


def test_expert_login_and_sign_up_page(server: Server, browser_context: Any, device: str) -> None:
    page = browser_context.new_page()
    page.goto(server.url + "/expert/")
    expect(page.get_by_role("heading", name="New here? Sign up")).to_be_visible()
    assert_accessible(page, f"expert-login-{device}")
    shot(page, device, "expert-login")


def test_demo_page_of_an_unknown_brand(server: Server, browser_context: Any, device: str, page_watch: Any) -> None:
    page_watch.allow(r"/demo/nope: 404|status of 404")
    page = browser_context.new_page()
    page.goto(server.url + "/demo/nope")
    expect(page.get_by_role("heading", level=1)).to_contain_text("No brand called")
    assert_accessible(page, f"demo-404-{device}")
    shot(page, device, "demo-404")
