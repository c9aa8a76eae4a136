"""Sending e-mail: the serving processes lease due rows of `outbound_email` (written with the
change that caused them, `gigcx.services.mail`), hand each to SMTP with no transaction open, and
record the outcome, retried like webhooks."""
from __future__ import annotations

import logging
import smtplib
import ssl
import uuid
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from flask import current_app
from sqlalchemy import or_, update
from sqlmodel import Session

from gigcx.db import session_scope
from gigcx.models import EmailStatus, utcnow
from gigcx.models.notify import OutboundEmail
from gigcx.services.mail import enabled
from gigcx.services.webhook_sender import backoff_s
from gigcx.uow import transaction

log = logging.getLogger("gigcx.services.mail")
_OE = OutboundEmail.__table__  # type: ignore[attr-defined]


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def claim(session: Session, limit: int, lease_s: float) -> list[int]:
    """Lease due e-mails to this process (conditional UPDATE: each is sent by one process), in the
    caller's unit of work."""
    now = utcnow()
    free = or_(_OE.c.claimed_until.is_(None), _OE.c.claimed_until < now)
    q = (_OE.select().with_only_columns(_OE.c.id)
         .where(_OE.c.status == EmailStatus.pending, _OE.c.next_attempt_at <= now, free).order_by(_OE.c.id).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)
    ids = list(session.connection().execute(q).scalars())
    if not ids:
        return []
    got = list(session.connection().execute(
        update(_OE).where(_OE.c.id.in_(ids), _OE.c.status == EmailStatus.pending, free)
        .values(claimed_until=now + timedelta(seconds=lease_s)).returning(_OE.c.id)).scalars())
    return sorted(got)


def build(row: OutboundEmail, sender: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, row.to_addr, row.subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(idstring=f"gigcx-{row.id}-{uuid.uuid4().hex[:8]}")
    for name, value in (row.headers or {}).items():
        msg[name] = value
    msg.set_content(row.text)
    msg.add_alternative(row.html, subtype="html")
    return msg


def smtp_send(msg: EmailMessage) -> None:
    """Hand one message to the configured SMTP server (raises on failure)."""
    s = current_app.config["GIGCX"]
    client: smtplib.SMTP
    if s.smtp_security == "ssl":
        client = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_s,
                                  context=ssl.create_default_context())
    else:
        client = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_s)
    with client:
        if s.smtp_security == "starttls":
            client.starttls(context=ssl.create_default_context())
        if s.smtp_username:
            client.login(s.smtp_username, s.smtp_password or "")
        client.send_message(msg)


def send_one(email_id: int) -> bool:
    """Send one claimed e-mail (no transaction open meanwhile) and record the outcome in a unit
    of work of its own."""
    s = current_app.config["GIGCX"]
    with session_scope() as session:  # read only: closing it ends the transaction
        row = session.get(OutboundEmail, email_id)
        if row is None or row.status != EmailStatus.pending:
            return False
        msg = build(row, s.mail_from)
    error = None
    try:
        smtp_send(msg)
    except (OSError, smtplib.SMTPException) as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    with transaction() as session:
        row = session.get(OutboundEmail, email_id)
        if row is None:
            return False
        now = utcnow()
        row.attempts += 1
        row.claimed_until = None
        if error is None:
            row.status, row.sent_at, row.last_error = EmailStatus.sent, now, None
        else:
            row.last_error = error
            if (now - _aware(row.created_at)).total_seconds() >= s.webhook_retry_window_s:
                row.status = EmailStatus.failed
            else:
                row.next_attempt_at = now + timedelta(seconds=backoff_s(row.attempts, s.webhook_retry_base_s,
                                                                        s.webhook_retry_max_s))
            log.warning("e-mail %s to %s failed: %s", row.id, row.to_addr, error)
        session.add(row)
    return error is None


def send_due(limit: int = 100) -> int:
    """Send every due e-mail now, in this thread; returns how many were handed to SMTP. Each
    claim, and each outcome, is a unit of work of its own."""
    if not enabled():
        return 0
    sent = 0
    for _ in range(limit):
        with transaction() as session:
            ids = claim(session, 1, current_app.config["GIGCX"].smtp_timeout_s * 3 + 30)
        if not ids:
            break
        sent += send_one(ids[0])
    return sent
