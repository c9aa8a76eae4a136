"""E-mail through a real SMTP server (aiosmtpd) started by the tests: what arrives, in which
language, and unsubscribe links that work without logging in."""
from __future__ import annotations

import re
import time
from typing import Any

from sqlmodel import select

from gigcx.db import session_scope
from gigcx.models import Expert, ExpertConnection, Payout
from gigcx.services import mail
from gigcx.uow import transaction
from tests.conftest import Api, assert_error
from tests.notify.helpers import ask, escalate, send, send_mail
from tests.notify.receivers import Mailbox, Receiver, parts


def _staff(api: Api, key: str, email: str, role: str = "admin") -> str:
    r = api.post("/staff", key, json={"email": email, "password": "password-123", "display_name": "Sam",
                                      "role": role})
    assert r.status_code == 201, r.json
    t = api.post("/staff/token", json={"brand": "acme", "email": email, "password": "password-123"})
    return t.json["token"]  # type: ignore[no-any-return]


def _unsubscribe_url(text: str) -> str:
    m = re.search(r"(https://support\.example\.com/unsubscribe/\S+)", text)
    assert m, text
    return m.group(1)


def _path(url: str) -> str:
    return url.replace("https://support.example.com", "")


def test_staff_get_escalations_and_can_unsubscribe_without_logging_in(
        app: Any, api: Api, client: Any, mailbox: Mailbox) -> None:
    key = api.brand("acme")
    token = _staff(api, key, "sam@acme.test")
    assert api.get("/staff/me/notifications", token).json["escalations"] is True  # on by default
    case_id = ask(app, "acme", "my card 4111 1111 1111 1111 was charged twice")
    escalate(app, case_id, reason="double charge")
    assert send_mail(app) == 1
    [msg] = mailbox.wait(1)
    assert msg["To"] == "sam@acme.test" and msg["Subject"] == f"Case #{case_id} was escalated to your team"
    text, html = parts(msg)
    assert "double charge" in text and "4111 1111 1111 1111" not in text  # card numbers masked
    assert f"https://support.example.com/brand/?case={case_id}#inbox" in text
    assert f'href="https://support.example.com/brand/?case={case_id}#inbox"' in html
    link = _unsubscribe_url(text)
    assert msg["List-Unsubscribe"] == f"<{link}>" and msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    page = client.get(_path(link))  # no credentials at all
    assert page.status_code == 200 and "no longer get" in page.get_data(as_text=True)
    assert api.get("/staff/me/notifications", token).json["escalations"] is False
    escalate(app, ask(app, "acme"), reason="again")
    assert send_mail(app) == 0
    # the page can undo it; a forged token does nothing
    assert client.post(_path(link), data={"action": "subscribe"}).status_code == 200
    assert api.get("/staff/me/notifications", token).json["escalations"] is True
    assert client.get("/unsubscribe/" + link.rsplit("/", 1)[1][:-2] + "xx").status_code == 404
    assert client.post(_path(link), data={"List-Unsubscribe": "One-Click"}).status_code == 200  # RFC 8058
    assert api.get("/staff/me/notifications", token).json["escalations"] is False


def _approved_expert(api: Api, key: str, email: str = "ex@example.com") -> tuple[int, str]:
    expert_id, token = api.expert(email=email, name="Élise")
    assert api.post("/experts/me/programs", token, json={"brand": "acme", "topics": ["cards"]}).status_code == 201
    assert api.post(f"/experts/{expert_id}/approve", key, json={"topics": ["cards"]}).status_code == 200
    return expert_id, token


def test_an_away_expert_who_opted_in_is_emailed_about_a_waiting_question_in_french(
        app: Any, api: Api, client: Any, mailbox: Mailbox) -> None:
    key = api.brand("acme")
    api.topic(key, "cards", reward=450, examples=["where is my card", "my card has not arrived"])
    expert_id, token = _approved_expert(api, key)
    assert api.get("/experts/me/notifications", token).json == {
        "offers": False, "digest": False, "payouts": False, "language": "en", "smtp_configured": True}
    case_id = ask(app, "acme", "where is my card")
    with app.app_context(), transaction() as s:
        assert mail.scan_waiting(s) == 0  # not opted in
    r = api.put("/experts/me/notifications", token, json={"offers": True, "language": "fr"})
    assert r.json["offers"] is True and r.json["language"] == "fr"
    assert_error(api.put("/experts/me/notifications", token, json={"offers": "maybe"}), 422, "invalid")
    with app.app_context(), transaction() as s:
        assert mail.scan_waiting(s) == 1
        assert mail.scan_waiting(s) == 0  # once per case
    send_mail(app)
    [msg] = mailbox.wait(1)
    assert msg["Subject"] == "Une question vous attend chez Acme"
    text, html = parts(msg)
    assert "4,50 USD" in text and "Élise" in text and "Se désabonner" in html
    assert f"https://support.example.com/expert/?case={case_id}#work" in text
    # the link opens the console, which reads the case from the query
    assert client.get(f"/expert/?case={case_id}").status_code == 200


def test_a_connected_expert_is_not_emailed_about_queued_cases(app: Any, api: Api, mailbox: Mailbox) -> None:
    key = api.brand("acme")
    api.topic(key, "cards", examples=["where is my card"])
    expert_id, token = _approved_expert(api, key)
    api.put("/experts/me/notifications", token, json={"offers": True})
    with app.app_context(), transaction() as s:
        s.add(ExpertConnection(sid="sid-1", expert_id=expert_id, process_id="p"))
        s.commit()
    ask(app, "acme", "where is my card")
    with app.app_context(), transaction() as s:
        assert mail.scan_waiting(s) == 0


def test_daily_digest_once_a_day(app: Any, api: Api, mailbox: Mailbox) -> None:
    key = api.brand("acme")
    api.topic(key, "cards")
    expert_id, token = _approved_expert(api, key)
    api.put("/experts/me/notifications", token, json={"digest": True})
    from tests.payouts.money_helpers import resolved_case

    with app.app_context(), session_scope() as s:
        from gigcx.models import Brand

        brand_id = s.exec(select(Brand.id).where(Brand.slug == "acme")).one()
    resolved_case(app, brand_id, expert_id)
    with app.app_context(), transaction() as s:
        assert mail.send_digests(s, force=True) == 1
        assert mail.send_digests(s, force=True) == 0
    send_mail(app)
    [msg] = mailbox.wait(1)
    text, _ = parts(msg)
    assert msg["Subject"].startswith("Your GigCX earnings on ")
    assert "resolved 1 case(s) and earned 3.00 USD" in text and "Pending (in review): 3.00 USD" in text
    assert "https://support.example.com/expert/#earnings" in text


def test_payout_notices_and_payout_events(app: Any, api: Api, mailbox: Mailbox, receiver: Receiver) -> None:
    key = api.brand("acme", )
    api.topic(key, "cards")
    r = api.patch("/brand", key, json={"review_window_s": 0})
    assert r.status_code == 200
    api.post("/webhooks/endpoints", key, json={"url": receiver.url, "events": ["payout.sent", "payout.failed"]})
    expert_id, token = _approved_expert(api, key)
    api.put("/experts/me/notifications", token, json={"payouts": True})
    from tests.notify.helpers import brand_id
    from tests.payouts.money_helpers import expire_review_window, fire_due_timers, resolved_case

    case_id, _ = resolved_case(app, brand_id(app, "acme"), expert_id)
    expire_review_window(app, case_id)
    fire_due_timers(app)
    from tests.conftest import ADMIN_TOKEN

    run = api.post("/payouts/run", ADMIN_TOKEN)  # without Stripe: paid when the operator says so
    assert run.status_code == 200 and run.json["payouts"][0]["status"] == "awaiting_manual_payment", run.json
    paid = api.post(f"/payouts/batches/{run.json['batch_id']}/mark-paid", ADMIN_TOKEN, json={})
    assert paid.status_code == 200, paid.json
    send(app)
    [event] = receiver.events()
    assert event["type"] == "payout.sent" and event["data"]["payout"]["amount_cents"] == 300
    assert event["data"]["payout"]["expert_id"] == expert_id
    send_mail(app)
    [msg] = mailbox.wait(1)
    assert msg["Subject"] == "Payout sent: 3.00 USD"
    with app.app_context(), session_scope() as s:
        assert s.exec(select(Payout)).one().status == "paid"
        assert s.get(Expert, expert_id) is not None


def test_a_failing_endpoint_is_disabled_and_the_brand_told(app: Any, api: Api, mailbox: Mailbox,
                                                         receiver: Receiver) -> None:
    settings = app.config["GIGCX"]
    settings.webhook_disable_after_s = 0.3
    key = api.brand("acme")
    r = api.put("/brand/notifications", key, json={"contact_email": "Ops@Acme.test", "language": "en"})
    assert r.json["contact_email"] == "ops@acme.test"
    ep = api.post("/webhooks/endpoints", key, json={"url": receiver.url}).json
    receiver.default = (500, 0.0, None)
    ask(app, "acme")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        send(app)
        state = api.get(f"/webhooks/endpoints/{ep['id']}", key).json
        if state["status"] == "disabled":
            break
        time.sleep(0.05)
    assert state["status"] == "disabled" and "HTTP 500" in state["disabled_reason"] and state["failing_since"]
    send_mail(app)
    [msg] = mailbox.wait(1)
    assert msg["To"] == "ops@acme.test" and msg["Subject"] == f"Webhook endpoint disabled: {receiver.url}"
    # a disabled endpoint gets nothing; enabling it again resumes from where it stopped
    n = len(receiver.received)
    ask(app, "acme")
    send(app)
    assert len(receiver.received) == n
    receiver.default = (200, 0.0, None)
    assert api.patch(f"/webhooks/endpoints/{ep['id']}", key, json={"status": "active"}).json["status"] == "active"
    time.sleep(0.3)
    send(app)
    assert receiver.events()[-1]["type"] == "case.created"


def test_an_expert_who_left_with_an_offer_open_is_emailed_about_it(app: Any, api: Api, mailbox: Mailbox) -> None:
    from sqlalchemy import delete

    from gigcx.models import ExpertPresence, Offer

    key = api.brand("acme")
    api.topic(key, "cards", examples=["where is my card"])
    expert_id, token = _approved_expert(api, key)
    api.put("/experts/me/notifications", token, json={"offers": True})
    app.config["GIGCX"].offer_email_after_s = 3600  # only being away counts here, not waiting long
    with app.app_context(), session_scope() as s:
        s.add(ExpertPresence(expert_id=expert_id, online=True))
        s.add(ExpertConnection(sid="sid-1", expert_id=expert_id, process_id="p"))
        s.commit()
    case_id = ask(app, "acme", "where is my card")
    with app.app_context(), transaction() as s:
        assert s.exec(select(Offer).where(Offer.case_id == case_id)).one().status == "open"
        assert mail.scan_waiting(s) == 0  # at the console
        s.execute(delete(ExpertConnection))
        assert mail.scan_waiting(s) == 1  # the console was closed with the offer open
    send_mail(app)
    [msg] = mailbox.wait(1)
    assert msg["Subject"] == "A question is waiting for you at Acme"
    assert f"/expert/?case={case_id}#work" in parts(msg)[0]
