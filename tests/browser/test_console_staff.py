"""The brand console in headless Chromium: the escalation inbox and the analyst's read-only view,
keyboard use, curated answers and a customer's erasure (at phone and desktop sizes)."""
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

from tests.browser.consoles import PASSWORD, XSS, Console, brand_login, staff
from tests.servers import Server

pytestmark = pytest.mark.browser


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
    brand.a11y("inbox")

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
    # A question a suggested answer solved reads "deflected", not "closed".
    other = peers(server.url, "/customer", {"brand": slug})
    deflected = other.call("ask", {"text": "where is my card now", "client_id": "d"})["case"]["id"]
    assert other.call("deflect", {"case_id": deflected})["ok"]
    brand.tab("cases")
    expect(b.locator(f"#cases tr[data-case-id='{deflected}'] .pill").first).to_have_text("deflected")
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


def test_brand_console_works_by_keyboard(server: Server, peers: Any, contexts: Any, device: str) -> None:
    """Log in, change tab, open a case and edit a topic with the keyboard alone."""
    slug, key = server.brand(offer_timeout_s=60)
    server.topic(key, "cards", examples=["where is my card"])
    email = staff(server, key)
    customer = peers(server.url, "/customer", {"brand": slug})
    case_id = customer.call("ask", {"text": "where is my card", "client_id": "k"})["case"]["id"]
    console = Console(contexts().new_page(), device, "keyboard")
    b = console.page
    b.goto(server.url + "/brand/")
    expect(b.locator("#login-brand-hint")).to_contain_text("The demo's is demo")
    b.locator("#login-brand").focus()
    b.keyboard.type(slug)
    b.keyboard.press("Tab")
    b.keyboard.type(email)
    b.keyboard.press("Tab")
    b.keyboard.type(PASSWORD)
    b.keyboard.press("Enter")
    expect(b.locator("#app")).to_be_visible()
    b.locator('nav [data-tab="cases"]').focus()
    b.keyboard.press("Enter")
    row = b.locator(f"#cases tr[data-case-id='{case_id}']")
    expect(row).to_be_visible()
    row.focus()
    b.keyboard.press("Enter")
    expect(b.locator("#case-detail")).to_contain_text(f"Case #{case_id}")
    b.locator('nav [data-tab="topics"]').focus()
    b.keyboard.press("Enter")
    topic = b.locator("#topics tr[data-slug=cards]")
    topic.focus()
    b.keyboard.press("Enter")
    expect(b.locator("#t-name")).to_be_focused()
    expect(b.locator("#t-slug")).to_have_value("cards")
    console.check()


def test_curated_answers_and_erasure_in_the_console(server: Server, peers: Any, contexts: Any, device: str) -> None:
    """Staff approve an edited answer before it is suggested, then erase the asker's data."""
    slug, key = server.brand(answer_reuse="curated")
    server.topic(key, "cards", examples=["where is my card"])
    admin_email = staff(server, key)
    _, token = server.expert(slug, key, ["cards"], name="Cleo")
    ex = peers(server.url, "/expert", {"token": token})
    assert ex.call("availability", {"online": True})["ok"]
    asker = peers(server.url, "/customer", {"brand": slug})
    case_id = asker.call("ask", {"text": "I'm Maria Lopez, my new card has not arrived", "client_id": "q"})["case"]["id"]
    ex.wait_for("offer", lambda d: d["case_id"] == case_id)
    assert ex.call("accept", {"case_id": case_id})["ok"]
    ex.call("message", {"case_id": case_id, "text": "Hi Maria, cards arrive within 5 working days.", "client_id": "a"})
    ex.call("resolve", {"case_id": case_id})
    assert asker.call("resolve", {"case_id": case_id, "resolved": True})["ok"]

    brand = Console(contexts().new_page(), device, "answers")
    b = brand.page
    brand_login(b, server, slug, admin_email)
    brand.tab("answers")
    expect(b.locator("#reuse-mode")).to_have_value("curated")
    item = b.locator("#answers li.answer").first
    expect(item).to_contain_text("not reviewed")
    expect(item.locator("textarea")).to_have_value("Hi, cards arrive within 5 working days.")
    item.locator("textarea").fill("New cards arrive within 5 working days; track yours in the app.")
    item.get_by_role("button", name="Save edit and approve").click()
    expect(b.locator("#answers li.answer").first).to_contain_text("approved")
    brand.shot("01-approved")
    other = peers(server.url, "/customer", {"brand": slug})
    suggestions = other.call("ask", {"text": "my new card has not arrived", "client_id": "q2"})["case"]["suggestions"]
    assert [s["answer"] for s in suggestions] == ["New cards arrive within 5 working days; track yours in the app."]

    brand.tab("cases")
    b.locator(f"#cases tr[data-case-id='{case_id}']").click()
    detail = b.locator("#case-detail")
    expect(detail).to_contain_text("Maria Lopez")
    erase = detail.get_by_role("button", name="Erase this customer's data")
    erase.click()
    detail.get_by_role("button", name="Click again to erase: this cannot be undone").click()
    expect(b.locator("#app-msg")).to_contain_text("erased")
    expect(detail).to_contain_text("[redacted]")
    expect(detail.locator(".customer-data")).to_contain_text("Kept, and why")
    expect(detail.locator(".customer-data")).to_contain_text("bookkeeping")
    expect(detail.locator(".customer-data a[download]")).to_have_count(1)  # the data as it was
    expect(detail).not_to_contain_text("Maria")
    brand.shot("02-erased")
    brand.check()
