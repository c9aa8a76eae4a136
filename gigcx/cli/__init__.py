"""The `gigcx` command: serve, db upgrade, demo, matching train, payouts run and retry, privacy.

One module per command group; this one puts them under `cli`.
"""
from __future__ import annotations

import click

from gigcx.cli.config import config_group
from gigcx.cli.matching import matching
from gigcx.cli.notify import notify
from gigcx.cli.payouts import payouts
from gigcx.cli.privacy import privacy
from gigcx.cli.server import db, demo, serve


@click.group()
def cli() -> None:
    """GigCX: peer-to-peer customer support."""


for command in (serve, db, demo, matching, payouts, notify, privacy, config_group):
    cli.add_command(command)
