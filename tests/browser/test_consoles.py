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
from typing import Any

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - playwright is a test extra
    if os.environ.get("CI"):
        raise
    pytest.skip("playwright is not installed", allow_module_level=True)

from tests.browser.conftest import HeldFrame, ack_body
from tests.browser.consoles import PASSWORD, XSS, Console, brand_login, staff
from tests.servers import Server

pytestmark = pytest.mark.browser


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
    brand.a11y("dashboard-empty")
    brand.tab("topics")
    b.fill("#t-slug", "cards")
    b.fill("#t-name", "Card delivery")
    b.fill("#t-reward", "3.50")
    b.fill("#t-examples", "where is my card\nmy card has not arrived\nwhen will my new card come")
    b.get_by_role("button", name="Save topic").click()
    expect(b.locator("#topics tr[data-slug=cards]")).to_contain_text("Card delivery")
    expect(b.locator("#topics tr[data-slug=cards]")).to_contain_text("$3.50")
    brand.shot("02-topics")
    brand.a11y("topics")

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
    # Names, not slugs: the brand's name and the topic's.
    expect(e.locator("#programs tr").first).to_contain_text(slug.title())
    expect(e.locator("#programs tr").first).to_contain_text("Card delivery")
    expert.shot("01-applied")
    expert.a11y("programs")

    # The brand approves the application.
    brand.tab("experts")
    row = b.locator("#programs tr", has_text="Ana")
    expect(row).to_contain_text("pending")
    brand.shot("03-application")
    brand.a11y("experts")
    row.get_by_role("button", name="Approve").click()
    row = b.locator("#programs tr", has_text="Ana")
    expect(row).to_contain_text("approved")
    # Approved already: the action changes topics, it does not approve again.
    expect(row.get_by_role("button", name="Approve")).to_have_count(0)
    expect(row.get_by_role("button", name="Update topics")).to_be_visible()

    # The expert goes online; a customer asks; the offer counts down; the expert accepts.
    expert.tab("work")
    tabs_before = expert.nav_positions()
    e.get_by_role("button", name="Go online").click()
    expect(e.locator("#presence")).to_contain_text("You are online")
    expect(e.locator("#presence")).to_have_class(re.compile(r"\bon\b"))  # shown, not a grey line
    customer = peers(server.url, "/customer", {"brand": slug})
    question = f"Where is my card? It has not arrived {XSS}"
    case_id = customer.call("ask", {"text": question, "client_id": "q1"})["case"]["id"]
    offer = e.locator(f".offer[data-case-id='{case_id}']")
    expect(offer).to_contain_text(XSS)  # shown as text, not markup
    expect(offer.locator(".countdown")).to_have_text(re.compile(r"^\d+ s left$"))
    expect(offer.locator(".case-title")).to_have_text(f"Card delivery · {slug.title()}")
    # The offer's badge does not move the tabs.
    assert expert.nav_positions()[0] == tabs_before[0]
    expert.shot("02-offer")
    expert.a11y("offer")
    offer.get_by_role("button", name="Accept").click()
    chat = e.locator(f".chat[data-case-id='{case_id}']")
    expect(chat.locator(".pill")).to_have_text("active")
    expect(chat.locator("li.msg.customer .text")).to_have_text(question)
    expect(chat.locator(".question")).to_have_count(0)  # the question is the first message, once
    expect(chat.locator(".case-title")).to_have_text(f"#{case_id} · Card delivery · {slug.title()}")
    if device == "desktop":  # the chat takes the whole width
        widths = e.locator("#chats").evaluate("c => [c.clientWidth, c.querySelector('.chat').offsetWidth]")
        assert widths[1] >= 0.9 * widths[0], widths

    # They chat; the expert proposes resolution; the customer confirms and rates 5.
    customer.wait_for("case", lambda d: d["status"] == "active")
    chat.locator("textarea").fill("Cards arrive within 5 working days; yours was posted on Monday.")
    chat.get_by_role("button", name="Send").click()
    customer.wait_for("message", lambda d: d["sender"] == "expert" and "5 working days" in d["text"])
    assert customer.call("message", {"case_id": case_id, "text": "Thanks! <b>great</b>", "client_id": "m2"})["ok"]
    expect(chat.locator("li.msg.customer .text").last).to_have_text("Thanks! <b>great</b>")
    expect(chat.locator("li.msg.expert .who")).to_have_text("You")
    expect(chat.locator("li.msg.customer .who").first).to_have_text("Customer")
    expert.shot("03-chat")
    expert.a11y("chat")
    chat.get_by_role("button", name="Propose resolution").click()
    expect(chat.locator(".pill")).to_have_text("pending confirmation")
    expect(chat.get_by_role("button", name="Propose resolution")).to_be_hidden()
    expect(chat.locator(".waiting")).to_contain_text("waiting for the customer")
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
    expert.a11y("earnings")
    expert.tab("profile")
    expect(e.locator("#profile-topics tr", has_text="cards")).to_contain_text("5")
    expert.shot("06-profile")
    expert.a11y("profile")
    assert expert.nav_positions() == tabs_before

    # The brand: live feed, transcript, QA review, and the dashboard numbers changed.
    brand.tab("live")
    expect(b.locator("#feed")).to_contain_text(XSS)
    expect(b.locator("#feed li time").first).to_have_text(re.compile(r"\d"))  # each line has its time
    brand.shot("07-live")
    brand.a11y("live")
    brand.tab("cases")
    row = b.locator(f"#cases tr[data-case-id='{case_id}']")
    expect(row).to_contain_text("Where is my card?")  # the question, and when it was asked
    expect(row.locator("td.q .muted")).to_have_text(re.compile(r"\d"))
    expect(row).to_contain_text("Card delivery")
    row.click()
    detail = b.locator("#case-detail")
    expect(detail.locator("li.msg.customer .text").first).to_have_text(question)
    expect(detail).to_contain_text("CSAT 5")
    expect(detail.locator(".clawback")).to_contain_text("takes the expert's reward back")
    # Who was offered the case and why, in words: names, no raw field dump.
    routing = detail.locator("table", has_text="Why")
    expect(routing.locator("tbody tr").first).to_contain_text("Ana")
    expect(routing).to_contain_text("Best score")
    expect(routing).not_to_contain_text("expert_id")
    expect(routing).not_to_contain_text("expertise_scaled")
    brand.shot("04-case")
    brand.a11y("case")
    detail.locator("#review-note").fill("Clear and quick.")
    detail.get_by_role("button", name="Save review").click()
    expect(b.locator("#app-msg")).to_contain_text(f"Case #{case_id} approved")
    expect(b.locator(f"#cases tr[data-case-id='{case_id}']")).to_contain_text("approve")
    brand.tab("dashboard")
    b.get_by_role("button", name="Refresh").click()
    expect(brand.kpi("cases")).to_have_text("1")
    expect(brand.kpi("resolved")).to_have_text("1")
    expect(brand.kpi("csat_avg")).to_have_text("5")
    expect(brand.kpi("nps")).to_have_text("100")
    expect(b.locator("#by-expert")).to_contain_text("Ana")
    charts = b.evaluate("""() => Object.fromEntries(['chart-cases', 'chart-rates', 'chart-sat'].map(id => {
        const c = Chart.getChart(id);
        return [id, { labels: c.data.labels.length, axes: Object.keys(c.scales),
                      ticks: c.scales.y.ticks.map(t => t.value), max: c.scales.y.max }]; }))""")
    assert charts["chart-cases"]["labels"] >= 7, charts  # every day of the week, empty ones too
    assert all(float(v).is_integer() for v in charts["chart-cases"]["ticks"]), charts  # whole cases
    assert charts["chart-rates"]["max"] == 100, charts  # percent, like the cards
    assert "y1" in charts["chart-sat"]["axes"] and charts["chart-sat"]["max"] == 5, charts  # CSAT 1-5, NPS its own axis
    gap = b.evaluate("() => document.querySelector('#kpis').getBoundingClientRect().top"
                     " - document.querySelector('#range').getBoundingClientRect().bottom")
    assert gap >= 8, gap  # the controls do not touch the cards
    brand.shot("05-dashboard")
    brand.a11y("dashboard")
    brand.tab("experts")
    expect(b.locator("#programs tr", has_text="Ana")).to_contain_text("1 case ·")
    brand.tab("settings")
    expect(b.locator("#snippet")).to_have_text(f'<script src="{server.url}/widget.js" data-brand="{slug}" async></script>')
    # Money in dollars, durations with a readable hint.
    expect(b.locator("#s-5star")).to_have_value("0.00")
    expect(b.locator("#h-offer")).to_have_text("= 60 s")
    b.fill("#s-5star", "1.50")
    b.fill("#s-review", "172800")
    expect(b.locator("#h-review")).to_have_text("= 2.0 d")
    b.get_by_role("button", name="Save settings").click()
    expect(b.locator("#app-msg")).to_contain_text("Settings saved")
    saved = server.rest("GET", "/brand", key).json()
    assert saved["bonus_rules"]["five_star_cents"] == 150 and saved["review_window_s"] == 172800
    brand.shot("06-settings")
    brand.a11y("settings")
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
    assert held.wait_released(), "the accept's ack was not held until the message was through"
    expect(chat.locator("li.msg.customer .text")).to_have_text(["where is my card", "Are you there?"])
    console.check()


def test_a_console_back_from_offline_drops_lost_offers_and_shows_missed_messages(
        server: Server, peers: Any, contexts: Any, device: str) -> None:
    """While the expert's browser is offline, another expert takes a case both were offered, and
    the customer of the expert's open chat writes. Neither event reaches the console; back online,
    it drops the stale offer (it would only answer `already_taken`) and shows the message."""
    slug, key = server.brand(offer_timeout_s=120, offer_fanout=2)
    server.topic(key, "cards", examples=["where is my card", "my card has not arrived"])
    expert_id, token = server.expert(slug, key, ["cards"], name="Ana")
    _, bob_token = server.expert(slug, key, ["cards"], name="Bob")
    bob = peers(server.url, "/expert", {"token": bob_token})
    assert bob.call("availability", {"online": True})["ok"]
    console = Console(contexts().new_page(), device, "expert-reconnect")
    e = console.page
    e.add_init_script(f"sessionStorage.setItem('gigcx.expert', {json.dumps(json.dumps({'token': token, 'expert_id': expert_id}))})")
    e.goto(server.url + "/expert/")
    e.get_by_role("button", name="Go online").click()
    expect(e.locator("#presence")).to_contain_text("You are online")

    first = peers(server.url, "/customer", {"brand": slug})
    chat_case = first.call("ask", {"text": "where is my card", "client_id": "q1"})["case"]["id"]
    e.locator(f".offer[data-case-id='{chat_case}']").get_by_role("button", name="Accept").click()
    chat = e.locator(f".chat[data-case-id='{chat_case}']")
    expect(chat.locator(".pill")).to_have_text("active")
    second = peers(server.url, "/customer", {"brand": slug})
    lost_case = second.call("ask", {"text": "my card has not arrived", "client_id": "q2"})["case"]["id"]
    stale = e.locator(f".offer[data-case-id='{lost_case}']")
    expect(stale).to_be_visible()
    bob.wait_for("offer", lambda d: d["case_id"] == lost_case)

    e.context.set_offline(True)
    expect(e.locator("#app-msg")).to_contain_text("You are offline")
    assert bob.call("accept", {"case_id": lost_case})["ok"]
    assert first.call("message", {"case_id": chat_case, "text": "Written while you were away", "client_id": "m1"})["ok"]
    expect(stale).to_be_visible()  # nothing reached the console
    console.shot("offline")

    e.context.set_offline(False)
    expect(stale).to_have_count(0)
    expect(e.locator("#app-msg")).to_have_text("An offer was withdrawn while you were disconnected.")
    expect(chat.locator("li.msg.customer .text")).to_have_text(["where is my card", "Written while you were away"])
    expect(e.locator("#offer-count")).to_be_hidden()
    console.shot("back-online")
    console.check()
