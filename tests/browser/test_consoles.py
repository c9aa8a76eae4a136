"""The expert and brand consoles in headless Chromium against a real server.

The walk-through runs at phone (390x844) and desktop (1280x800) sizes: a brand admin creates a
topic and approves an expert who applied in the expert console; the expert goes online, accepts
an offer within its countdown, answers and proposes resolution; the customer (a real Socket.IO
client) confirms and rates; the brand reads the transcript, approves it in QA review and sees the
dashboard numbers change. Screenshots go to artifacts/screenshots/console-<device>-<state>.png.
"""
from __future__ import annotations

import json
import os
import re
import threading
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

from tests.browser.conftest import DEVICES, SCREENSHOTS, HeldFrame, ack_body
from tests.servers import Server

pytestmark = pytest.mark.browser

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
        self.page.screenshot(path=str(SCREENSHOTS / f"console-{self.device}-{self.name}-{state}.png"), full_page=True)

    def tab(self, name: str) -> None:
        self.page.locator(f'nav [data-tab="{name}"]').click()
        expect(self.page.locator(f"#tab-{name}")).to_be_visible()

    def kpi(self, key: str) -> Any:
        return self.page.locator(f'[data-kpi="{key}"] .v')

    def check(self) -> None:
        assert not self.errors, self.errors
        assert not self.dialogs, self.dialogs
        assert self.page.locator("img").count() == 0  # nothing the customer wrote became markup
        # Mobile first: nothing wider than the screen (no sideways scrolling, no zoomed-out page).
        assert self.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


@pytest.fixture
def contexts(chromium: Any, device: str) -> Iterator[Any]:
    made: list[Any] = []

    def make() -> Any:
        ctx = chromium.new_context(locale="en-US", **DEVICES[device])
        ctx.set_default_timeout(10_000)
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.close()


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


def test_brand_and_expert_walk_through(server: Server, peers: Any, contexts: Any, device: str) -> None:
    slug, key = server.brand(offer_timeout_s=60)
    admin_email = staff(server, key)
    brand = Console(contexts().new_page(), device, "brand")
    expert = Console(contexts().new_page(), device, "expert")
    b, e = brand.page, expert.page

    # The brand admin logs in and creates a topic with a reward and example questions.
    brand_login(b, server, slug, admin_email)
    expect(brand.kpi("cases")).to_have_text("0")
    brand.shot("01-dashboard-empty")
    brand.tab("topics")
    b.fill("#t-slug", "cards")
    b.fill("#t-name", "Card delivery")
    b.fill("#t-reward", "3.50")
    b.fill("#t-examples", "where is my card\nmy card has not arrived\nwhen will my new card come")
    b.get_by_role("button", name="Save topic").click()
    expect(b.locator("#topics tr[data-slug=cards]")).to_contain_text("Card delivery")
    expect(b.locator("#topics tr[data-slug=cards]")).to_contain_text("$3.50")
    brand.shot("02-topics")

    # An expert signs up in the expert console and applies to the brand's program.
    e.goto(server.url + "/expert/")
    e.fill("#su-name", "Ana")
    e.fill("#su-email", f"ana-{uuid.uuid4().hex[:6]}@example.com")
    e.fill("#su-password", PASSWORD)
    e.get_by_role("button", name="Sign up").click()
    expect(e.locator("#tab-programs")).to_be_visible()
    e.locator("#program-lookup input").fill(slug)
    e.get_by_role("button", name="Find").click()
    e.get_by_label(re.compile("Card delivery")).check()
    e.get_by_role("button", name="Apply").click()
    expect(e.locator("#programs")).to_contain_text("pending")
    expert.shot("01-applied")

    # The brand approves the application.
    brand.tab("experts")
    row = b.locator("#programs tr", has_text="Ana")
    expect(row).to_contain_text("pending")
    brand.shot("03-application")
    row.get_by_role("button", name="Approve").click()
    expect(b.locator("#programs tr", has_text="Ana")).to_contain_text("approved")

    # The expert goes online; a customer asks; the offer counts down; the expert accepts.
    expert.tab("work")
    e.get_by_role("button", name="Go online").click()
    expect(e.locator("#presence")).to_contain_text("You are online")
    customer = peers(server.url, "/customer", {"brand": slug})
    question = f"Where is my card? It has not arrived {XSS}"
    case_id = customer.call("ask", {"text": question, "client_id": "q1"})["case"]["id"]
    offer = e.locator(f".offer[data-case-id='{case_id}']")
    expect(offer).to_contain_text(XSS)  # shown as text, not markup
    expect(offer.locator(".countdown")).to_have_text(re.compile(r"^\d+ s left$"))
    expert.shot("02-offer")
    offer.get_by_role("button", name="Accept").click()
    chat = e.locator(f".chat[data-case-id='{case_id}']")
    expect(chat.locator(".pill")).to_have_text("active")
    expect(chat.locator("li.msg.customer .text")).to_have_text(question)

    # They chat; the expert proposes resolution; the customer confirms and rates 5.
    customer.wait_for("case", lambda d: d["status"] == "active")
    chat.locator("textarea").fill("Cards arrive within 5 working days; yours was posted on Monday.")
    chat.get_by_role("button", name="Send").click()
    customer.wait_for("message", lambda d: d["sender"] == "expert" and "5 working days" in d["text"])
    assert customer.call("message", {"case_id": case_id, "text": "Thanks! <b>great</b>", "client_id": "m2"})["ok"]
    expect(chat.locator("li.msg.customer .text").last).to_have_text("Thanks! <b>great</b>")
    expert.shot("03-chat")
    chat.get_by_role("button", name="Propose resolution").click()
    expect(chat.locator(".pill")).to_have_text("pending confirmation")
    customer.wait_for("case", lambda d: d["status"] == "pending_confirmation")
    assert customer.call("resolve", {"case_id": case_id, "resolved": True})["ok"]
    assert customer.call("rate", {"case_id": case_id, "csat": 5, "nps": 10})["ok"]
    expect(chat.locator(".pill")).to_have_text("resolved")
    expert.shot("04-resolved")

    # The expert sees the pending reward and the rating per topic.
    expert.tab("earnings")
    expect(e.locator("#earn-kpis")).to_contain_text("$3.50")
    expect(e.locator("#earn-entries")).to_contain_text(f"#{case_id}")
    expert.shot("05-earnings")
    expert.tab("profile")
    expect(e.locator("#profile-topics tr", has_text="cards")).to_contain_text("5")
    expert.shot("06-profile")

    # The brand: live feed, transcript, QA review, and the dashboard numbers changed.
    brand.tab("live")
    expect(b.locator("#feed")).to_contain_text(XSS)
    brand.tab("cases")
    b.locator(f"#cases tr[data-case-id='{case_id}']").click()
    detail = b.locator("#case-detail")
    expect(detail.locator("li.msg.customer .text").first).to_have_text(question)
    expect(detail).to_contain_text("CSAT 5")
    expect(detail.locator(".clawback")).to_contain_text("takes the expert's reward back")
    brand.shot("04-case")
    detail.locator("#review-note").fill("Clear and quick.")
    detail.get_by_role("button", name="Save review").click()
    expect(b.locator("#app-msg")).to_contain_text("Review saved: approve")
    expect(b.locator(f"#cases tr[data-case-id='{case_id}']")).to_contain_text("approve")
    brand.tab("dashboard")
    b.get_by_role("button", name="Refresh").click()
    expect(brand.kpi("cases")).to_have_text("1")
    expect(brand.kpi("resolved")).to_have_text("1")
    expect(brand.kpi("csat_avg")).to_have_text("5")
    expect(brand.kpi("nps")).to_have_text("100")
    expect(b.locator("#by-expert")).to_contain_text("Ana")
    brand.shot("05-dashboard")
    brand.tab("settings")
    expect(b.locator("#snippet")).to_have_text(f'<script src="{server.url}/widget.js" data-brand="{slug}" async></script>')
    brand.shot("06-settings")
    brand.check()
    expert.check()


def test_a_message_that_overtakes_the_accepts_ack_is_shown(server: Server, peers: Any, contexts: Any,
                                                           device: str) -> None:
    """The customer writes the moment the expert accepts: their message event can reach the
    console before the accept's ack has opened the chat. The socket here holds the ack back until
    that message has been delivered; the console must still show it (and not a stale status)."""
    slug, key = server.brand(offer_timeout_s=60)
    server.topic(key, "cards", examples=["where is my card"])
    expert_id, token = server.expert(slug, key, ["cards"], name="Ana")
    console = Console(contexts().new_page(), device, "expert-order")
    e = console.page
    e.add_init_script(f"sessionStorage.setItem('gigcx.expert', {json.dumps(json.dumps({'token': token, 'expert_id': expert_id}))})")

    def accept_ack(frame: str) -> bool:
        body = ack_body(frame, "/expert")
        return body is not None and "messages" in body and body["case"]["status"] == "active"

    held = HeldFrame(e, accept_ack, release_after=lambda f: f.startswith('42/expert,["message"') and "Are you there" in f)
    e.goto(server.url + "/expert/")
    e.get_by_role("button", name="Go online").click()
    expect(e.locator("#presence")).to_contain_text("You are online")
    customer = peers(server.url, "/customer", {"brand": slug})
    case_id = customer.call("ask", {"text": "where is my card", "client_id": "q1"})["case"]["id"]

    def write_once_accepted() -> None:
        customer.wait_for("case", lambda d: d["status"] == "active", timeout=30)
        assert customer.call("message", {"case_id": case_id, "text": "Are you there?", "client_id": "c1"})["ok"]

    writer = threading.Thread(target=write_once_accepted, daemon=True)
    writer.start()
    e.locator(f".offer[data-case-id='{case_id}']").get_by_role("button", name="Accept").click()
    chat = e.locator(f".chat[data-case-id='{case_id}']")
    expect(chat.locator(".pill")).to_have_text("active", timeout=30_000)
    writer.join(5)
    assert held.released.is_set(), "the accept's ack was not held until the message was through"
    expect(chat.locator("li.msg.customer .text")).to_have_text(["where is my card", "Are you there?"])
    console.check()


def test_escalation_inbox_and_analyst(server: Server, peers: Any, contexts: Any, device: str) -> None:
    slug, key = server.brand(offer_timeout_s=60)
    server.topic(key, "cards", examples=["where is my card"])
    admin_email, analyst_email = staff(server, key), staff(server, key, "analyst")
    _, token = server.expert(slug, key, ["cards"], name="Ben")
    ex = peers(server.url, "/expert", {"token": token})
    assert ex.call("availability", {"online": True})["ok"]
    customer = peers(server.url, "/customer", {"brand": slug})
    case_id = customer.call("ask", {"text": f"where is my card {XSS}", "client_id": "q"})["case"]["id"]
    ex.wait_for("offer", lambda d: d["case_id"] == case_id)
    assert ex.call("accept", {"case_id": case_id})["ok"]
    assert ex.call("escalate", {"case_id": case_id, "reason": "needs an account change"})["ok"]

    # Staff answer the customer in the same conversation, then close the case.
    brand = Console(contexts().new_page(), device, "inbox")
    b = brand.page
    brand_login(b, server, slug, admin_email)
    expect(b.locator("#inbox-count")).to_have_text("1")
    brand.tab("inbox")
    b.locator("#inbox button", has_text=f"#{case_id}").click()
    detail = b.locator("#inbox-detail")
    expect(detail).to_contain_text("needs an account change")
    detail.locator("textarea").fill("I have changed it for you.")
    detail.get_by_role("button", name="Send to customer").click()
    got = customer.wait_for("message", lambda d: d["sender"] == "staff")
    assert got["text"] == "I have changed it for you."
    expect(detail.locator("li.msg.staff .text")).to_have_text("I have changed it for you.")
    brand.shot("01-escalated")

    # A change to the open case (here the customer rates it) redraws it without losing the reply
    # being typed.
    draft = detail.locator("textarea")
    draft.fill("Half-written answer")
    draft.evaluate("e => e.dataset.old = '1'")
    assert customer.call("rate", {"case_id": case_id, "csat": 4})["ok"]
    expect(detail.locator("textarea:not([data-old])")).to_have_value("Half-written answer")
    expect(detail.locator("li.msg.staff .text")).to_have_text("I have changed it for you.")
    detail.get_by_role("button", name="Close case").click()
    customer.wait_for("case", lambda d: d["status"] == "closed")
    expect(b.locator("#inbox")).to_contain_text("Nothing escalated")
    brand.check()

    # An analyst sees the same data without any write control.
    analyst = Console(contexts().new_page(), device, "analyst")
    a = analyst.page
    brand_login(a, server, slug, analyst_email)
    expect(a.locator("#who")).to_contain_text("analyst")
    analyst.tab("topics")
    expect(a.locator("#topics")).to_contain_text("cards")
    expect(a.locator("#topic-form")).to_be_hidden()
    analyst.tab("settings")
    expect(a.get_by_role("button", name="Save settings")).to_be_hidden()
    expect(a.get_by_role("button", name="Rotate API key")).to_be_hidden()
    expect(a.locator("#s-offer")).to_be_disabled()
    analyst.shot("01-settings-read-only")
    analyst.check()
