"""Headless Chromium (Debian's, driven by Playwright) against a real `gigcx serve` process.

Without a browser the tests skip locally, but fail under CI (`CI` set): CI must run them.
"""
from __future__ import annotations

import json
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.servers import REPO_ROOT, Peer, Server

try:
    from playwright.sync_api import expect

    # A loaded 2-core CI machine renders slower than a laptop; waiting longer costs nothing
    # when things are fast and avoids false failures when they are not.
    expect.set_options(timeout=15_000)
except ImportError:  # the browser tests skip (or fail in CI) on their own
    pass

CHROMIUM = os.environ.get("GIGCX_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = REPO_ROOT / "artifacts" / "screenshots"
DEVICES: dict[str, dict[str, Any]] = {
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
              "device_scale_factor": 2},
    "desktop": {"viewport": {"width": 1280, "height": 800}},
}


#: axe-core (npm, package.json's devDependencies) checks each screen's accessibility; AXE_PATH
#: points at another copy of axe.min.js.
AXE_JS = REPO_ROOT / "node_modules" / "axe-core" / "axe.min.js"
A11Y_REPORTS = REPO_ROOT / "artifacts" / "a11y"
_axe_source: list[str] = []


def axe_source() -> str:
    """The text of axe.min.js (read once)."""
    if not _axe_source:
        path = AXE_JS if AXE_JS.is_file() else Path(os.environ.get("AXE_PATH", "") or AXE_JS)
        if not path.is_file():
            _unavailable(f"axe-core is not installed ({AXE_JS}): run `npm install` (or set AXE_PATH)")
        _axe_source.append(path.read_text("utf-8"))
    return _axe_source[0]


def assert_accessible(page: Any, name: str) -> None:
    """No serious or critical axe-core violation on the page as it is now (the widget's open
    shadow root included). The full report goes to artifacts/a11y/<name>.json."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source())  # through the DevTools protocol: the page's CSP does not apply
    # Colours are checked as they end up: a panel still fading in (the widget's 150 ms opening
    # animation) blends with the page and would measure a contrast nobody sees once it settles.
    result = page.evaluate("""async () => {
        const roots = [document, ...[...document.querySelectorAll('*')]
            .filter(e => e.shadowRoot).map(e => e.shadowRoot)];
        await Promise.all(roots.flatMap(r => r.getAnimations())
            .map(a => a.finished.catch(() => null)));
        const r = await axe.run(document, { resultTypes: ['violations'] });
        return r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => ({ target: n.target, html: n.html, summary: n.failureSummary })) }));
    }""")
    A11Y_REPORTS.mkdir(parents=True, exist_ok=True)
    (A11Y_REPORTS / f"{name}.json").write_text(json.dumps(result, indent=2))
    bad = [v for v in result if v["impact"] in ("serious", "critical")]
    assert not bad, "accessibility violations on " + name + ":\n" + "\n".join(
        f"- {v['impact']} {v['id']}: {v['help']} at {[n['target'] for n in v['nodes']][:5]}" for v in bad)


def _unavailable(why: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"browser tests must run in CI: {why}")
    pytest.skip(why)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """One browser for the whole run."""
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        _unavailable(f"playwright is not installed ({exc})")
    if not Path(CHROMIUM).exists():
        _unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    pw = sync_playwright().start()
    try:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    except PlaywrightError as exc:  # a broken install: same rule as a missing one
        pw.stop()
        _unavailable(f"Chromium at {CHROMIUM} does not start: {exc}")
    yield browser
    browser.close()
    pw.stop()


@pytest.fixture(params=sorted(DEVICES))
def device(request: pytest.FixtureRequest) -> str:
    """Each browser test runs on a phone and on a desktop."""
    return request.param  # type: ignore[no-any-return]


class Widget:
    """A page with the widget, seen the way a customer sees it (Playwright pierces the open shadow root)."""

    def __init__(self, page: Any, device: str, test_name: str):
        self.page = page
        self.device = device
        self.test_name = test_name
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        page.on("dialog", self._dialog)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    # Locators
    @property
    def launcher(self) -> Any:
        return self.page.locator("gigcx-widget button.launcher")

    @property
    def panel(self) -> Any:
        return self.page.locator("gigcx-widget .panel")

    @property
    def status(self) -> Any:
        return self.page.locator("gigcx-widget .status")

    @property
    def subtitle(self) -> Any:
        return self.page.locator("gigcx-widget .head p")

    @property
    def input(self) -> Any:
        return self.page.locator("gigcx-widget #gigcx-input")

    @property
    def card(self) -> Any:
        return self.page.locator("gigcx-widget .card")

    def button(self, name: str) -> Any:
        return self.page.locator("gigcx-widget").get_by_role("button", name=name, exact=True)

    # Actions
    def open(self) -> None:
        self.launcher.click()
        self.panel.wait_for(state="visible")

    def send(self, text: str) -> None:
        self.input.fill(text)
        self.input.press("Enter")

    def messages(self) -> list[tuple[str, str, bool]]:
        """(sender class, text, pending) of every bubble, in order."""
        return [tuple(x) for x in self.page.locator("gigcx-widget .log li").evaluate_all(  # type: ignore[misc]
            """els => els.map(e => [
                 ['customer','expert','staff','system'].find(c => e.classList.contains(c)) || '',
                 e.querySelector('.text').textContent, e.classList.contains('pending')])""")]

    def seqs(self) -> list[int]:
        return [int(s) for s in self.page.locator("gigcx-widget .log li[data-seq]").evaluate_all(
            "els => els.map(e => e.dataset.seq)")]

    def wait_message(self, text: str, sender: str | None = None, timeout: float = 10_000) -> None:
        """Until a stored (not pending) bubble shows exactly this text."""
        sel = "gigcx-widget .log li[data-seq]" + (f".{sender}" if sender else "")
        self.page.locator(sel).locator(".text").filter(has_text=re.compile("^" + re.escape(text) + "$")) \
            .first.wait_for(timeout=timeout)

    def shot(self, state: str) -> Path:
        """Save a screenshot of this state under artifacts/screenshots/."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{self.device}-{state}.png"
        self.page.screenshot(path=str(path))
        return path

    def assert_no_duplicates(self) -> None:
        seqs = self.seqs()
        assert len(seqs) == len(set(seqs)), seqs
        assert seqs == sorted(seqs), seqs


class PageWatch:
    """Records, on every page of the contexts it watches, what a user would never want to see
    happen: a console error, an uncaught exception, a failed request or an error response.
    The test fails at teardown if any happened that it did not `allow` (by regular expression)."""

    #: A request cut short because its page navigated, reloaded or closed is not a failure.
    BENIGN = (re.compile(r"net::ERR_ABORTED"),)

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.allowed: list[re.Pattern[str]] = list(self.BENIGN)

    def allow(self, pattern: str) -> None:
        """A problem the test causes on purpose (a wrong password, a server taken down...)."""
        self.allowed.append(re.compile(pattern))

    def attach(self, context: Any) -> Any:
        context.on("page", self._watch)
        for page in context.pages:
            self._watch(page)
        return context

    def _watch(self, page: Any) -> None:
        where = lambda: page.url  # noqa: E731
        page.on("console", lambda msg: msg.type == "error" and self.problems.append(
            f"console error on {where()}: {msg.text} ({msg.location.get('url', '')})"))
        page.on("pageerror", lambda exc: self.problems.append(f"uncaught exception on {where()}: {exc}"))
        page.on("requestfailed", lambda req: self.problems.append(
            f"request failed on {where()}: {req.method} {req.url}: {req.failure}"))
        page.on("response", lambda resp: resp.status >= 400 and self.problems.append(
            f"error response on {where()}: {resp.request.method} {resp.url}: {resp.status}"))

    def unexpected(self) -> list[str]:
        return [p for p in self.problems if not any(a.search(p) for a in self.allowed)]


@pytest.fixture
def page_watch() -> Iterator[PageWatch]:
    """Every browser test fails on a console error, an uncaught exception or a failed request
    on any of its pages, unless it allowed that one."""
    watch = PageWatch()
    yield watch
    assert not watch.unexpected(), "\n".join(watch.unexpected())


@pytest.fixture
def browser_context(chromium: Any, device: str, page_watch: PageWatch) -> Iterator[Any]:
    """A fresh browser profile (own localStorage) at the device's size."""
    context = page_watch.attach(chromium.new_context(locale="en-US", **DEVICES[device]))
    context.set_default_timeout(10_000)
    yield context
    context.close()


@pytest.fixture
def contexts(chromium: Any, device: str, page_watch: PageWatch) -> Iterator[Callable[[], Any]]:
    """Several browser profiles at the device's size (a brand and an expert side by side):
    `contexts()` opens one; all are closed at the end."""
    made: list[Any] = []

    def make() -> Any:
        ctx = page_watch.attach(chromium.new_context(locale="en-US", **DEVICES[device]))
        ctx.set_default_timeout(10_000)
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.close()


@pytest.fixture
def widget(browser_context: Any, device: str, request: pytest.FixtureRequest) -> Iterator[Widget]:
    """A page wrapper; at the end, no script error and no dialog may have happened."""
    w = Widget(browser_context.new_page(), device, request.node.name)
    yield w
    assert not w.errors, w.errors
    assert not w.dialogs, w.dialogs


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One `gigcx serve` per module on its own fresh database (SQLite, or a PostgreSQL schema).

    Browser tests share it to stay within their time budget; each test makes its own brand,
    experts and browser profile, so nothing leaks between them.
    """
    import sqlalchemy as sa

    from tests.conftest import PG_URL, _schema_url

    tmp = tmp_path_factory.mktemp("browser")
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(PG_URL, poolclass=sa.pool.NullPool) if PG_URL else None
    if admin is not None:
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = _schema_url(PG_URL, schema) if PG_URL else f"sqlite:///{tmp / 'gigcx.sqlite3'}"
    server = Server(url, tmp / "instance")
    try:
        yield server.start()
    finally:
        server.stop()
        if admin is not None:
            with admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


@pytest.fixture
def server(live_server: Server) -> Server:
    """The module's shared server (overrides the per-test one of tests/conftest.py)."""
    return live_server


@pytest.fixture
def database_url(live_server: Server) -> str:
    """The shared server's database."""
    return live_server.env["GIGCX_DATABASE_URL"]


@pytest.fixture
def brand(server: Server) -> tuple[str, str]:
    """A brand with two topics; offers wait 30 s."""
    slug, key = server.brand(offer_timeout_s=30)
    server.topic(key, "cards", examples=["where is my card", "my card has not arrived"])
    server.topic(key, "loans", examples=["loan interest rate", "can I borrow money"])
    return slug, key


def online_expert(server: Server, peers: Any, brand: tuple[str, str], name: str = "Ana") -> Peer:
    """An approved expert for both topics, online over a real Socket.IO client."""
    _, token = server.expert(brand[0], brand[1], ["cards", "loans"], name=name)
    peer: Peer = peers(server.url, "/expert", {"token": token})
    assert peer.call("availability", {"online": True})["ok"]
    return peer


class HostSite:
    """A brand's own website on another origin (another port), serving pages the test writes."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/favicon.ico":  # a brand's site has one; a 404 would be logged
                    self.send_response(204)
                    self.end_headers()
                    return
                body = pages.get(self.path)
                data = (body or "not found").encode()
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def host_site() -> Iterator[HostSite]:
    """Another origin to embed the widget on, as brands do."""
    site = HostSite()
    yield site
    site.close()


def ack_body(frame: str, namespace: str) -> dict[str, Any] | None:
    """The payload of a Socket.IO ack frame on `namespace` (`43/ns,<id>[{...}]`), else None."""
    if not frame.startswith(f"43{namespace},"):
        return None
    body = json.loads(frame[frame.index("["):])[0]
    return body if isinstance(body, dict) else None


class HeldFrame:
    """Routes a page's Socket.IO websocket through the test to reorder one frame: the first frame
    from the server that `hold` accepts is held back, and delivered right after the first later
    frame that `release_after` accepts. Acks and events travel separately, so this is an order
    the network may produce; here it is produced on purpose."""

    def __init__(self, page: Any, hold: Callable[[str], bool], release_after: Callable[[str], bool]):
        self.hold, self.release_after = hold, release_after
        self.held: list[str] = []
        self.holding, self.released = threading.Event(), threading.Event()
        self.page = page
        page.route_web_socket(re.compile(r".*/socket\.io/.*"), self._route)

    def _route(self, ws: Any) -> None:
        upstream = ws.connect_to_server()

        def from_server(frame: str | bytes) -> None:
            if isinstance(frame, str) and not self.holding.is_set() and self.hold(frame):
                self.held.append(frame)
                self.holding.set()
                return
            ws.send(frame)
            if self.held and isinstance(frame, str) and self.release_after(frame):
                ws.send(self.held.pop())
                self.released.set()

        upstream.on_message(from_server)

    def wait_released(self, timeout_s: float = 10) -> bool:
        """Whether the held frame was delivered within `timeout_s`. The frames pass through a
        handler that runs only while this thread is inside a Playwright call, so this waits in
        the page rather than on the event: what the page shows may come from a frame just before
        the releasing one (the system message travels apart from its `case` event)."""
        deadline = time.monotonic() + timeout_s
        while not self.released.is_set() and time.monotonic() < deadline:
            self.page.wait_for_timeout(50)
        return self.released.is_set()
