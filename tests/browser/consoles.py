"""Helpers of the console browser tests: a watched console page, browser contexts, staff logins."""
from __future__ import annotations

import os
import uuid
from typing import Any

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - playwright is a test extra
    if os.environ.get("CI"):
        raise
    pytest.skip("playwright is not installed", allow_module_level=True)

from tests.browser.conftest import SCREENSHOTS, assert_accessible
from tests.servers import Server

XSS = "<img src=x onerror=alert(1)>"
PASSWORD = "password-123"


class Console:
    """One page of a console; records script errors and dialogs (an XSS would open one)."""

    def __init__(self, page: Any, device: str, name: str):
        self.page, self.device, self.name = page, device, name
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("dialog", self._dialog)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def shot(self, state: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.evaluate("window.scrollTo(0, 0)")  # else the sticky tab bar lands mid-page
        self.page.screenshot(path=str(SCREENSHOTS / f"console-{self.device}-{self.name}-{state}.png"), full_page=True)

    def tab(self, name: str) -> None:
        self.page.locator(f'nav [data-tab="{name}"]').click()
        expect(self.page.locator(f"#tab-{name}")).to_be_visible()

    def kpi(self, key: str) -> Any:
        return self.page.locator(f'[data-kpi="{key}"] .v')

    def a11y(self, state: str) -> None:
        """No serious or critical axe-core violation on this screen."""
        assert_accessible(self.page, f"console-{self.device}-{self.name}-{state}")

    def nav_positions(self) -> list[float]:
        return [b["x"] for b in self.page.locator("nav [data-tab]").evaluate_all(
            "els => els.map(e => e.getBoundingClientRect().toJSON())")]

    def check(self) -> None:
        assert not self.errors, self.errors
        assert not self.dialogs, self.dialogs
        assert self.page.locator("img").count() == 0  # nothing the customer wrote became markup
        # Mobile first: nothing wider than the screen (no sideways scrolling, no zoomed-out page).
        assert self.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def staff(server: Server, key: str, role: str = "admin") -> str:
    email = f"{role}-{uuid.uuid4().hex[:6]}@brand.example"
    r = server.rest("POST", "/staff", key, json={"email": email, "password": PASSWORD,
                                                 "display_name": role.title(), "role": role})
    assert r.status_code == 201, r.text
    return email


def brand_login(page: Any, server: Server, slug: str, email: str) -> None:
    page.goto(server.url + "/brand/")
    page.fill("#login-brand", slug)
    page.fill("#login-email", email)
    page.fill("#login-password", PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#app")).to_be_visible()
