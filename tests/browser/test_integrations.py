"""The brand console's Integrations tab in headless Chromium against a real server that sends
to a real local receiver: add an endpoint, see the delivery log with response codes, replay."""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - playwright is a test extra
    if os.environ.get("CI"):
        raise
    pytest.skip("playwright is not installed", allow_module_level=True)

from tests.browser.consoles import Console, brand_login, staff
from tests.conftest import fresh_database
from tests.notify.receivers import Receiver
from tests.servers import Server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def hook_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("hooks")
    with fresh_database(folder) as url:
        live = Server(url, folder / "instance", env={"GIGCX_WEBHOOK_ALLOW_PRIVATE": "1",
                                                     "GIGCX_WEBHOOK_POLL_S": "0.2"}).start()
        yield live
        live.stop()


def test_add_an_endpoint_read_the_log_and_replay(hook_server: Server, peers: Any, contexts: Any,
                                                 device: str) -> None:
    server = hook_server
    receiver = Receiver()
    try:
        slug, key = server.brand(escalate_after_s=86400)
        email = staff(server, key)
        page = contexts().new_page()
        console = Console(page, device, "integrations")
        brand_login(page, server, slug, email)
        console.tab("integrations")
        page.fill("#ep-url", receiver.url)
        page.fill("#ep-desc", "CRM")
        page.locator('input[name="ev-case.created"]').check()
        page.get_by_role("button", name="Add endpoint").click()
        expect(page.locator("#app-msg")).to_contain_text("whsec_")
        expect(page.locator("#endpoints tr")).to_have_count(1)
        expect(page.locator("#endpoints")).to_contain_text("case.created, case.escalated")
        customer = peers(server.url, "/customer", {"brand": slug})
        assert customer.call("ask", {"text": "where is my card", "client_id": uuid.uuid4().hex})["ok"]
        receiver.wait(1)
        # the sender records the outcome after the receiver has answered: the open log follows it
        # by itself, without reopening the tab
        row = page.locator("#deliveries tr").first
        expect(row).to_contain_text("case.created")
        page.fill("#ep-url", "https://typing.example/half")  # a form being filled meanwhile
        expect(row).to_contain_text("delivered", timeout=15_000)
        expect(page.locator("#ep-url")).to_have_value("https://typing.example/half")
        expect(row).to_contain_text("200")
        row.get_by_role("button", name="Replay").click()
        expect(page.locator("#app-msg")).to_contain_text("Replay queued")
        again = receiver.wait(2)
        assert again[0].json["id"] == again[1].json["id"]
        expect(page.locator("#deliveries tr")).to_have_count(2)
        console.shot("log")
        console.check()
    finally:
        receiver.close()
