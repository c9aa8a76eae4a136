"""`gigcx notify send` and `gigcx notify digest` from the command line, on the test's database."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from gigcx.cli import cli
from tests.conftest import Api
from tests.notify.helpers import ask, escalate
from tests.notify.receivers import Mailbox, Receiver


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str, mailbox: Mailbox) -> None:
    for name, value in {"GIGCX_DATABASE_URL": database_url, "GIGCX_INSTANCE_PATH": str(tmp_path / "cli"),
                        "GIGCX_SECRET_KEY": "test-secret", "GIGCX_WEBHOOK_ALLOW_PRIVATE": "1",
                        "GIGCX_SMTP_HOST": "127.0.0.1", "GIGCX_SMTP_PORT": str(mailbox.port)}.items():
        monkeypatch.setenv(name, value)


def test_send_and_digest_from_the_command_line(env: None, app: Any, api: Api, receiver: Receiver,
                                               mailbox: Mailbox) -> None:
    key = api.brand("acme")
    api.post("/webhooks/endpoints", key, json={"url": receiver.url, "events": ["case.escalated"]})
    api.post("/staff", key, json={"email": "desk@acme.test", "password": "password-123", "display_name": "D"})
    escalate(app, ask(app, "acme"))
    result = CliRunner().invoke(cli, ["notify", "send"])
    assert result.exit_code == 0, result.output
    assert "1 webhook attempt(s), 1 e-mail(s) sent" in result.output
    assert [e["type"] for e in receiver.events()] == ["case.escalated"]
    assert mailbox.wait(1)[0]["To"] == "desk@acme.test"
    expert_id, token = api.expert()
    api.put("/experts/me/notifications", token, json={"digest": True})
    result = CliRunner().invoke(cli, ["notify", "digest"])
    assert result.exit_code == 0 and "1 digest(s) queued" in result.output, result.output
    assert "0 digest(s) queued" in CliRunner().invoke(cli, ["notify", "digest"]).output
