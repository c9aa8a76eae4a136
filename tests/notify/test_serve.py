"""Real `gigcx serve` processes send webhooks and e-mails in the background: a hanging endpoint
never slows the conversation, and two processes on one database send each delivery once."""
from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.notify.receivers import Mailbox
from tests.servers import Server

pytestmark = pytest.mark.slow


def _env(mailbox: Mailbox) -> dict[str, str]:
    return {"GIGCX_WEBHOOK_ALLOW_PRIVATE": "1", "GIGCX_WEBHOOK_POLL_S": "0.2", "GIGCX_WEBHOOK_TIMEOUT_S": "20",
            "GIGCX_WEBHOOK_RETRY_BASE_S": "0.2", "GIGCX_SMTP_HOST": "127.0.0.1",
            "GIGCX_SMTP_PORT": str(mailbox.port), "GIGCX_PUBLIC_URL": "https://support.example.com"}


@pytest.fixture
def pair(database_url: str, tmp_path: Path, mailbox: Mailbox) -> Iterator[tuple[Server, Server]]:
    """Two serving processes on the test's database (given time to start on a busy machine)."""
    a = Server(database_url, tmp_path / "a", env=_env(mailbox))
    b = Server(database_url, tmp_path / "b", env=_env(mailbox))
    try:
        a.start(timeout=120)
        b.start(timeout=120)
        yield a, b
    finally:
        a.stop()
        b.stop()


def test_two_processes_deliver_each_event_once_and_a_hanging_endpoint_slows_nobody(
        pair: tuple[Server, Server], peers: Any, receivers: Any, mailbox: Mailbox) -> None:
    a, b = pair
    slug, key = a.brand(escalate_after_s=1)
    fast, hanging, chat = receivers(), receivers(), receivers()
    hanging.default = (200, 60.0, None)  # answers long after the sender's 20 s timeout
    for r, body in ((fast, {"events": ["case.created", "case.escalated"]}), (hanging, {}), (chat, {"kind": "chat"})):
        resp = a.rest("POST", "/webhooks/endpoints", key, json={"url": r.url, **body})
        assert resp.status_code == 201, resp.text
    staff = a.rest("POST", "/staff", key, json={"email": "desk@acme.test", "password": "password-123",
                                                "display_name": "Desk", "role": "admin"})
    assert staff.status_code == 201, staff.text
    customer_a = peers(a.url, "/customer", {"brand": slug})
    customer_b = peers(b.url, "/customer", {"brand": slug})
    slowest = 0.0
    for i in range(6):
        customer = customer_a if i % 2 else customer_b
        start = time.monotonic()
        ack = customer.call("ask", {"text": f"question {i} about my card", "client_id": uuid.uuid4().hex})
        slowest = max(slowest, time.monotonic() - start)
        assert ack["ok"], ack
    # an ask does not wait for any endpoint (it would take 20 s here): it only inserts rows
    assert slowest < 10, slowest
    # six creations and six escalations (nobody answers within 1 s), each delivered exactly once
    got = fast.wait(12, timeout=30)
    counts = Counter(r.json["id"] for r in got)
    assert len(counts) == 12 and set(counts.values()) == {1}, counts
    for case_events in _by_case(got).values():
        assert case_events == ["case.created", "case.escalated"]
    assert len(chat.wait(6, timeout=30)) == 6
    assert all("escalated to your team" in r.json["text"] for r in chat.received)
    mails = mailbox.wait(6, timeout=30)
    assert sorted(m["To"] for m in mails) == ["desk@acme.test"] * 6
    time.sleep(1)
    assert len(fast.received) == 12 and len(mailbox.messages) == 6
    log = a.rest("GET", "/webhooks/deliveries?limit=200", key).json()["deliveries"]
    assert {d["status"] for d in log if d["endpoint_id"] == 1} == {"delivered"}
    # the hanging endpoint got its requests but answered none: nothing of it counts as delivered,
    # and it never held more than two requests per process
    assert hanging.received and {d["status"] for d in log if d["endpoint_id"] == 2} == {"pending"}
    first = hanging.received[0].at
    assert len([r for r in hanging.received if r.at - first < 15]) <= 4


def _by_case(got: list[Any]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for r in got:
        out.setdefault(r.json["data"]["case"]["id"], []).append(r.json["type"])
    return out
