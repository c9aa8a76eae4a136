"""The customer widget on a brand's page, in headless Chromium against a real server: isolated
from the page's styles and safe from injected markup, escalation to staff, keyboard, ARIA,
contrast and translation. At phone (390x844) and desktop (1280x800) sizes, with screenshots
under artifacts/screenshots/<device>-<state>.png.
"""
from __future__ import annotations

import html
import os
from typing import Any

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - playwright is a test extra
    if os.environ.get("CI"):
        raise
    pytest.skip("playwright is not installed", allow_module_level=True)

from tests.browser.conftest import HostSite, Widget, assert_accessible, online_expert
from tests.servers import Server

pytestmark = pytest.mark.browser

HOSTILE_CSS = """
* { color: rgb(255, 0, 0) !important; font-family: serif !important; letter-spacing: 2px !important; }
button { display: none !important; }
.launcher, .panel, .msg, .status { background: rgb(0, 128, 0) !important; }
gigcx-widget { display: none !important; }
"""


def foreign_page(widget: Widget, site: HostSite, server: Server, slug: str, **data: str) -> None:
    """The widget embedded on a brand's own site (another origin, no CSP, hostile CSS)."""
    attrs = " ".join(f'data-{k}="{html.escape(v)}"' for k, v in data.items())
    body = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{HOSTILE_CSS}</style></head>
<body><h1>Shop</h1><div class="card" id="host-card">The brand's own card</div>
<script src="{server.url}/widget.js" data-brand="{slug}" {attrs} async></script></body></html>"""
    site.pages["/shop"] = body
    widget.page.goto(site.url + "/shop")


XSS = '<img src=x onerror=alert(1)>'
SCRIPT = '<script>alert("customer")</script>'
EXPERT_XSS = '<img src=x onerror=alert(2)><svg onload=alert(3)></svg><script>alert(4)</script>'


def test_message_text_cannot_inject_html_and_styles_are_isolated(
        server: Server, peers: Any, brand: tuple[str, str], widget: Widget, host_site: HostSite) -> None:
    slug, _ = brand
    expert = online_expert(server, peers, brand, name='<img src=x onerror=alert("name")>')
    page = widget.page
    foreign_page(widget, host_site, server, slug)

    # Isolation both ways: the page's CSS does not reach the widget, the widget's not the page.
    expect(widget.launcher).to_be_visible()
    launcher = widget.launcher.evaluate("e => [getComputedStyle(e).color, getComputedStyle(e).backgroundColor,"
                                        " getComputedStyle(e).fontFamily]")
    assert launcher[:2] == ["rgb(255, 255, 255)", "rgb(24, 73, 181)"] and "serif" != launcher[2]
    assert page.locator("#host-card").evaluate("e => getComputedStyle(e).backgroundColor") == "rgba(0, 0, 0, 0)"

    widget.open()
    widget.send(XSS)
    case_id = expert.wait_for("offer")["case_id"]
    assert expert.call("accept", {"case_id": case_id})["ok"]
    assert expert.call("message", {"case_id": case_id, "text": EXPERT_XSS, "client_id": "x"})["ok"]
    widget.send(SCRIPT)
    widget.wait_message(EXPERT_XSS, "expert")
    widget.wait_message(SCRIPT, "customer")
    widget.wait_message(XSS, "customer")
    expect(widget.subtitle).to_contain_text('<img src=x onerror=alert("name")> is helping you')
    assert page.locator("gigcx-widget").locator("img, svg:not([aria-hidden]), script, b").count() == 0
    bubble = page.locator("gigcx-widget .msg.expert").last
    assert bubble.evaluate("e => getComputedStyle(e).color") == "rgb(27, 27, 31)"
    page.wait_for_timeout(300)  # an onerror would have fired by now
    assert widget.dialogs == []
    widget.shot("14-xss-as-text")


def test_no_expert_yet_then_escalated_to_staff(server: Server, peers: Any, widget: Widget,
                                               host_site: HostSite) -> None:
    slug, key = server.brand(escalate_after_s=4)
    server.topic(key, "cards", examples=["where is my card"])
    feed = peers(server.url, "/brand", {"api_key": key})
    foreign_page(widget, host_site, server, slug, patience="1")
    widget.open()
    widget.send("Where is my card?")
    expect(widget.status).to_contain_text("Finding an expert")
    # The brand's first question: nothing answered to suggest yet, and the widget says so.
    expect(widget.page.locator("gigcx-widget .sugg-empty")).to_have_text(
        "No answered question like yours yet: an expert will answer you here.")
    expect(widget.status).to_contain_text("No expert is free yet.", timeout=5_000)
    expect(widget.status).to_contain_text("the support team takes over")
    widget.shot("15-no-expert-yet")

    case = feed.wait_for("case", lambda d: d["status"] == "escalated", timeout=15)
    expect(widget.status).to_contain_text("Passed to the support team")
    expect(widget.status).to_contain_text("will answer in this conversation")
    widget.wait_message("This question was handed to the brand's support team. They will answer here.", "system")
    assert feed.call("message", {"case_id": case["id"], "text": "Staff here: it ships tomorrow.",
                                 "client_id": "s1"})["ok"]
    widget.wait_message("Staff here: it ships tomorrow.", "staff")
    expect(widget.page.locator("gigcx-widget .msg.staff .who").last).to_have_text("Support team")
    widget.send("Thank you!")
    feed.wait_for("message", lambda d: d["text"] == "Thank you!")
    widget.shot("16-escalated")


def contrast_script() -> str:
    return """els => els.map(e => {
      const rgb = s => s.match(/[\\d.]+/g).slice(0, 3).map(Number);
      const lum = c => { const [r, g, b] = c.map(v => { v /= 255; return v <= 0.03928 ? v / 12.92
                         : Math.pow((v + 0.055) / 1.055, 2.4); }); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
      let bg = null, n = e;
      while (n) { const c = getComputedStyle(n).backgroundColor;
        if (c && c !== 'rgba(0, 0, 0, 0)' && c !== 'transparent') { bg = c; break; }
        n = n.parentElement || (n.getRootNode() && n.getRootNode().host) || null; }
      const a = lum(rgb(getComputedStyle(e).color)), b = lum(rgb(bg || 'rgb(255,255,255)'));
      return [e.className || e.tagName, (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)];
    })"""


def test_keyboard_focus_aria_and_translation(server: Server, brand: tuple[str, str], widget: Widget) -> None:
    slug, _ = brand
    page = widget.page
    page.goto(f"{server.url}/demo/{slug}?lang=fr")
    launcher = widget.page.locator("gigcx-widget").get_by_role("button", name="Aide : ouvrir le chat d'assistance")
    expect(launcher).to_be_visible()
    launcher.focus()
    page.keyboard.press("Enter")
    expect(widget.panel).to_be_visible()
    expect(widget.input).to_be_focused()
    expect(page.locator("gigcx-widget [role=dialog]")).to_have_attribute("aria-labelledby", "gigcx-title")
    expect(page.locator("gigcx-widget #gigcx-title")).to_have_text("Demandez à un expert")
    expect(page.locator("gigcx-widget [role=log]")).to_have_attribute("aria-live", "polite")
    expect(page.locator("gigcx-widget [role=status]")).to_have_attribute("aria-live", "polite")
    expect(widget.input).to_have_accessible_name("Votre question")
    page.keyboard.press("Tab")
    expect(widget.button("Envoyer")).to_be_focused()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    expect(widget.button("Fermer le chat")).to_be_focused()
    page.keyboard.press("Shift+Tab")  # focus wraps out of the widget to the page, not trapped on desktop

    widget.input.focus()
    page.keyboard.type("Ma carte n'est pas arrivée")
    page.keyboard.press("Enter")
    expect(widget.status).to_contain_text("Nous cherchons un expert pour vous")
    widget.wait_message("Ma carte n'est pas arrivée", "customer")
    ratios = page.locator("gigcx-widget").locator(
        "button.launcher, .head h2, .head p, .status strong, .status span, .msg.customer .text, "
        ".msg.customer .when, .intro, .composer textarea").evaluate_all(contrast_script())
    assert ratios and all(r >= 4.5 for _, r in ratios), ratios
    widget.shot("17-french-keyboard")
    assert_accessible(page, f"widget-french-{widget.device}")
    page.keyboard.press("Escape")
    expect(widget.panel).to_be_hidden()
    expect(launcher).to_be_focused()
    expect(launcher).to_have_attribute("aria-expanded", "false")
