"""`gigcx notify ...`: sending outbound webhooks, e-mail and digests from this process."""
from __future__ import annotations

import click

from gigcx.cli.base import _app


@click.group()
def notify() -> None:
    """Outbound webhooks and e-mail (`gigcx serve` sends them in the background)."""


@notify.command("send")
def notify_send() -> None:
    """Send every due webhook delivery and e-mail now, from this process."""
    from gigcx.services import mail_sender, webhook_sender

    app = _app()
    with app.app_context():
        hooks = webhook_sender.send_due(limit=10_000)
        emails = mail_sender.send_due(limit=10_000)
    click.echo(f"{hooks} webhook attempt(s), {emails} e-mail(s) sent")


@notify.command("digest")
def notify_digest() -> None:
    """Queue today's earnings digests now, whatever GIGCX_DIGEST_HOUR_UTC says (once a day each)."""
    from gigcx.services import mail
    from gigcx.uow import transaction

    app = _app()
    with app.app_context(), transaction() as session:
        queued = mail.send_digests(session, force=True)
    click.echo(f"{queued} digest(s) queued")
