"""E-mail: who wants what, the outbox written with the change, and the SMTP sender.

Nothing is e-mailed unless GIGCX_SMTP_HOST is set. Messages are rendered into `outbound_email`
in the transaction of the change that causes them (a dedupe key makes scans idempotent) and sent
by the serving processes after the commit, retried like webhooks. Every message carries a signed
unsubscribe link (and RFC 8058 one-click headers) that works without logging in.
"""
from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from gigcx.errors import ApiError
from gigcx.models import (
    Brand,
    Case,
    EmailStatus,
    Expert,
    ExpertConnection,
    ExpertProgram,
    Offer,
    OfferStatus,
    PayoutStatus,
    ProgramStatus,
    StaffRole,
    StaffUser,
    utcnow,
)
from gigcx.models.notify import NotificationSettings, OutboundEmail, WebhookEndpoint
from gigcx.services import mailtext

log = logging.getLogger(__name__)

LISTS = ("offers", "digest", "payouts", "escalations", "alerts")
#: what each kind of owner may subscribe to, and what they get before choosing
OWNER_LISTS = {"expert": ("offers", "digest", "payouts"), "staff": ("escalations", "alerts"), "brand": ("alerts",)}
DEFAULT_ON = {"expert": (), "staff": ("escalations", "alerts"), "brand": ("alerts",)}
_OE = OutboundEmail.__table__  # type: ignore[attr-defined]


def public_url() -> str:
    """Where people reach this service (links in e-mails and webhooks)."""
    return current_app.config["GIGCX"].public_url or "http://localhost:8000"


def enabled() -> bool:
    return bool(current_app.config["GIGCX"].smtp_host)


# ---- preferences ---------------------------------------------------------------------------------

def prefs(session: Session, owner: str) -> NotificationSettings:
    """The owner's settings (the defaults of their kind when they never chose)."""
    row = session.exec(select(NotificationSettings).where(NotificationSettings.owner == owner)).first()
    if row is None:
        kind = owner.split(":")[0]
        row = NotificationSettings(owner=owner)
        for name in DEFAULT_ON.get(kind, ()):
            setattr(row, name, True)
    return row


def update_prefs(session: Session, owner: str, changes: dict[str, Any]) -> NotificationSettings:
    """Apply a PUT/PATCH of preferences (in the caller's unit of work)."""
    row = prefs(session, owner)
    for name, value in changes.items():
        if value is None and name != "email":
            raise ApiError("invalid", f"{name}: may not be null")
        setattr(row, name, mailtext.language(value) if name == "language" else value)
    row.updated_at = utcnow()
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # created at the same moment by another request: apply on top of it
        return update_prefs(session, owner, changes)
    return row


def prefs_view(row: NotificationSettings) -> dict[str, Any]:
    kind = row.owner.split(":")[0]
    out: dict[str, Any] = {name: bool(getattr(row, name)) for name in OWNER_LISTS[kind]}
    out["language"] = row.language
    if kind == "brand":
        out["contact_email"] = row.email
    out["smtp_configured"] = enabled()
    return out


# ---- unsubscribe links ---------------------------------------------------------------------------

def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["GIGCX"].secret_key, salt="gigcx-unsubscribe")


def unsubscribe_token(owner: str, list_name: str) -> str:
    return _serializer().dumps({"o": owner, "l": list_name})


def read_token(token: str) -> tuple[str, str] | None:
    """(owner, list) of a genuine token, else None."""
    try:
        data = _serializer().loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("l") not in LISTS or not isinstance(data.get("o"), str):
        return None
    return data["o"], data["l"]


def unsubscribe_link(owner: str, list_name: str) -> str:
    return f"{public_url()}/unsubscribe/{unsubscribe_token(owner, list_name)}"


def set_subscription(session: Session, owner: str, list_name: str, on: bool) -> None:
    """Turn one list on or off for the owner of an unsubscribe token."""
    update_prefs(session, owner, {list_name: on})


# ---- the outbox ----------------------------------------------------------------------------------

def enqueue(session: Session, *, owner: str, list_name: str, to: str, template: str, lang: str,
            values: dict[str, Any], link: str | None, dedupe_key: str | None = None) -> bool:
    """Render and store one e-mail (in the caller's transaction); False when e-mail is off or
    this dedupe key was already used."""
    if not enabled() or not to:
        return False
    unsubscribe = unsubscribe_link(owner, list_name)
    r = mailtext.render(template, lang, values, link=link, list_name=list_name, unsubscribe=unsubscribe)
    row = {"dedupe_key": dedupe_key, "owner": owner, "list": list_name, "to_addr": to, "subject": r.subject[:300],
           "text": r.text, "html": r.html, "status": EmailStatus.pending, "attempts": 0, "next_attempt_at": utcnow(),
           "created_at": utcnow(),
           "headers": {"List-Unsubscribe": f"<{unsubscribe}>",
                       "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}}
    if dedupe_key is None:
        session.connection().execute(_OE.insert(), row)
        return True
    try:
        with session.begin_nested():
            session.connection().execute(_OE.insert(), row)
    except IntegrityError:
        return False
    return True


def _brand_link(case_id: int, tab: str = "inbox") -> str:
    return f"{public_url()}/brand/?case={case_id}#{tab}"


def _expert_link(tab: str, case_id: int | None = None) -> str:
    return f"{public_url()}/expert/" + (f"?case={case_id}" if case_id else "") + f"#{tab}"


def escalated(session: Session, brand: Brand, case: Case) -> None:
    """E-mail the brand's staff who get escalations (everyone, unless they unsubscribed)."""
    if not enabled():
        return
    from gigcx.pii import mask

    staff = session.exec(select(StaffUser).where(StaffUser.brand_id == brand.id)).all()
    for person in staff:
        p = prefs(session, f"staff:{person.id}")
        if not p.escalations:
            continue
        values = {"brand": brand.name, "case_id": case.id, "topic": case.topic or "-",
                  "reason": case.escalation_reason or "-", "question": _clip(mask(case.question))}
        enqueue(session, owner=p.owner, list_name="escalations", to=person.email, template="escalation",
                lang=p.language, values=values, link=_brand_link(case.id),  # type: ignore[arg-type]
                dedupe_key=f"escalation:{case.id}:{person.id}")


def payout_notice(session: Session, payout: Any) -> None:
    """Tell the expert their payout was sent or failed, if they asked for payout notices."""
    if not enabled():
        return
    p = prefs(session, f"expert:{payout.expert_id}")
    expert = session.get(Expert, payout.expert_id)
    if not p.payouts or expert is None:
        return
    template = "payout_sent" if payout.status == PayoutStatus.paid else "payout_failed"
    values = {"name": expert.display_name, "amount": mailtext.money(payout.amount_cents, payout.currency, p.language),
              "payout_id": payout.id, "reason": payout.error or "-"}
    enqueue(session, owner=p.owner, list_name="payouts", to=expert.email, template=template, lang=p.language,
            values=values, link=_expert_link("earnings"), dedupe_key=f"payout:{payout.id}:{payout.status}")


def endpoint_disabled(session: Session, ep: WebhookEndpoint) -> None:
    """Tell the brand an endpoint was disabled: its contact address, else its admins."""
    if not enabled():
        return
    contact = prefs(session, f"brand:{ep.brand_id}")
    values = {"url": ep.url, "since": mailtext_time(ep.failing_since), "error": ep.disabled_reason or "-"}
    link = f"{public_url()}/brand/#integrations"
    key = f"disabled:{ep.id}:{mailtext_time(ep.disabled_at)}"
    if contact.email:
        if contact.alerts:
            enqueue(session, owner=contact.owner, list_name="alerts", to=contact.email, template="endpoint_disabled",
                    lang=contact.language, values=values, link=link, dedupe_key=key)
        return
    admins = session.exec(select(StaffUser).where(StaffUser.brand_id == ep.brand_id, StaffUser.role == StaffRole.admin)).all()
    for person in admins:
        p = prefs(session, f"staff:{person.id}")
        if p.alerts:
            enqueue(session, owner=p.owner, list_name="alerts", to=person.email, template="endpoint_disabled",
                    lang=p.language, values=values, link=link, dedupe_key=f"{key}:{person.id}")


def mailtext_time(dt: datetime | None) -> str:
    if dt is None:
        return "-"
    dt = dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _clip(text: str, n: int = 300) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


# ---- scans of the background loop ----------------------------------------------------------------

def _opted(session: Session, list_name: str) -> dict[int, NotificationSettings]:
    rows = session.exec(select(NotificationSettings).where(
        NotificationSettings.owner.like("expert:%"),  # type: ignore[attr-defined]
        getattr(NotificationSettings, list_name).is_(True))).all()
    return {int(r.owner.split(":")[1]): r for r in rows}


def scan_waiting(session: Session) -> int:
    """E-mail opted-in experts who are away about questions that wait for them: an offer they
    hold while not connected (or unanswered for GIGCX_OFFER_EMAIL_AFTER_S), or a queued case they
    could take while they have no console open. One e-mail per case and expert, at most one per
    GIGCX_OFFER_EMAIL_GAP_S per expert. Returns how many were queued."""
    if not enabled():
        return 0
    settings = current_app.config["GIGCX"]
    opted = _opted(session, "offers")
    if not opted:
        return 0
    now = utcnow()
    cutoff = now - timedelta(seconds=settings.offer_email_after_s)
    fresh = now - timedelta(seconds=settings.presence_ttl_s)
    connected = set(session.exec(select(ExpertConnection.expert_id).where(
        ExpertConnection.expert_id.in_(list(opted)), ExpertConnection.last_seen >= fresh)))  # type: ignore[attr-defined]
    wanted: list[tuple[int, int]] = []
    for offer in session.exec(select(Offer).where(Offer.status == OfferStatus.open, Offer.expert_id.in_(list(opted)))):  # type: ignore[attr-defined]
        if offer.expert_id not in connected or _aware(offer.created_at) <= cutoff:
            wanted.append((offer.case_id, offer.expert_id))
    away = set(opted) - connected
    if away:
        from gigcx.services import dispatch, routing

        for case in dispatch.waiting_cases(session, limit=100):
            if _aware(case.created_at) > cutoff:
                continue
            brand = session.get(Brand, case.brand_id)
            topic = routing.topic_pool(brand, case) if brand else None  # type: ignore[arg-type]
            members = session.exec(select(ExpertProgram.expert_id, ExpertProgram.topics).where(
                ExpertProgram.brand_id == case.brand_id, ExpertProgram.status == ProgramStatus.approved,
                ExpertProgram.expert_id.in_(list(away)))).all()  # type: ignore[attr-defined]
            for expert_id, topics in members:
                if topic is None or topic in (topics or []):
                    wanted.append((case.id, expert_id))  # type: ignore[arg-type]
    queued = 0
    gap = now - timedelta(seconds=settings.offer_email_gap_s)
    for case_id, expert_id in wanted:
        owner = f"expert:{expert_id}"
        if session.exec(select(OutboundEmail.id).where(OutboundEmail.dedupe_key == f"offer:{case_id}:{expert_id}")).first():
            continue
        if settings.offer_email_gap_s > 0 and session.exec(select(OutboundEmail.id).where(
                OutboundEmail.owner == owner, OutboundEmail.list == "offers",
                OutboundEmail.created_at >= gap)).first() is not None:
            continue
        waiting, expert = session.get(Case, case_id), session.get(Expert, expert_id)
        if waiting is None or expert is None or not _speaks(expert, waiting.language):
            continue
        queued += _offer_email(session, opted[expert_id], expert, waiting)
    return queued


def _speaks(expert: Expert, language: str) -> bool:
    spoken = {lang.split("-")[0].lower() for lang in expert.languages} or {"en"}
    return language.split("-")[0].lower() in spoken


def _offer_email(session: Session, p: NotificationSettings, expert: Expert, case: Case) -> int:
    from gigcx.pii import mask
    from gigcx.services import dispatch

    brand = session.get(Brand, case.brand_id)
    reward = mailtext.money(dispatch.reward_for(session, case), brand.currency if brand else "usd", p.language)
    values = {"name": expert.display_name, "brand": brand.name if brand else "-", "topic": case.topic or "-",
              "question": _clip(mask(case.question)), "reward": reward}
    return int(enqueue(session, owner=p.owner, list_name="offers", to=expert.email, template="offer_waiting",
                       lang=p.language, values=values, link=_expert_link("work", case.id),
                       dedupe_key=f"offer:{case.id}:{expert.id}"))


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def send_digests(session: Session, *, force: bool = False) -> int:
    """Queue today's earnings digest for every expert who asked for one (once a day, from
    GIGCX_DIGEST_HOUR_UTC; `force` ignores the hour). Returns how many."""
    if not enabled():
        return 0
    from gigcx.services.earnings import earnings_view

    now = utcnow()
    if not force and now.hour < current_app.config["GIGCX"].digest_hour_utc:
        return 0
    day = now.date().isoformat()
    queued = 0
    for expert_id, p in _opted(session, "digest").items():
        if p.digest_sent_on == day:
            continue
        expert = session.get(Expert, expert_id)
        if expert is None:
            continue
        view = earnings_view(session, expert_id)
        since = now - timedelta(days=1)
        recent = [e for e in view["entries"] if e.get("credited_at") and
                  datetime.fromisoformat(e["credited_at"].replace("Z", "+00:00")) >= since]
        cur = view["currency"]
        values = {"name": expert.display_name, "day": day, "resolved": len(recent),
                  "earned": mailtext.money(sum(e["amount_cents"] for e in recent), cur, p.language),
                  "pending": mailtext.money(view["pending_cents"], cur, p.language),
                  "available": mailtext.money(view["available_cents"], cur, p.language),
                  "paid": mailtext.money(view["paid_cents"], cur, p.language)}
        queued += int(enqueue(session, owner=p.owner, list_name="digest", to=expert.email, template="digest",
                              lang=p.language, values=values, link=_expert_link("earnings"),
                              dedupe_key=f"digest:{expert_id}:{day}"))
        p.digest_sent_on = day
        session.add(p)
    return queued
