"""Fixtures of the notification tests: a local HTTP receiver, a local SMTP server, and an app
configured to use them with short retry timings."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from gigcx.config import Settings
from tests.notify.receivers import Mailbox, Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def receivers() -> Iterator[Any]:
    made: list[Receiver] = []

    def make() -> Receiver:
        made.append(Receiver())
        return made[-1]

    yield make
    for r in made:
        r.close()


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    m = Mailbox()
    yield m
    m.close()


@pytest.fixture
def settings(settings: Settings, mailbox: Mailbox) -> Settings:
    """The test instance, sending to the local receivers; retries after tenths of seconds."""
    settings.webhook_allow_private = True
    settings.smtp_host, settings.smtp_port = "127.0.0.1", mailbox.port
    settings.public_url = "https://support.example.com"
    settings.webhook_timeout_s = 2.0
    settings.webhook_retry_base_s = 0.05
    settings.webhook_retry_max_s = 0.2
    settings.offer_email_after_s = 0
    settings.offer_email_gap_s = 0
    return settings
