"""The background loops of a serving process that reach people outside the consoles: the
webhook sender, the e-mail sender, and the scans that queue offer e-mails and daily digests."""
from __future__ import annotations

import time
from typing import Any

from flask import Flask


def start(app: Flask) -> None:
    """Start the loops (from `gigcx serve`, beside timers and presence)."""
    from gigcx.extensions import socketio
    from gigcx.realtime import _loop
    from gigcx.services.webhook_sender import Sender

    settings = app.config["GIGCX"]
    sender = Sender(app)
    socketio.start_background_task(_loop, app, "webhooks", settings.webhook_poll_s, sender.step)
    if settings.smtp_host:
        socketio.start_background_task(_loop, app, "e-mail", settings.webhook_poll_s, _Mail().step)


class _Mail:
    """Send due e-mails; look for waiting offers every pass and for digests once a minute."""

    def __init__(self) -> None:
        self.digests_at = 0.0

    def step(self, _app: Any) -> None:
        from gigcx.services import mail, mail_sender
        from gigcx.uow import transaction

        with transaction() as session:
            mail.scan_waiting(session)
        if time.monotonic() >= self.digests_at:
            with transaction() as session:
                mail.send_digests(session)
            self.digests_at = time.monotonic() + 60
        mail_sender.send_due(limit=50)
