"""Settings: every variable in one class, read once, with clear errors and a reference generated from it."""
from __future__ import annotations

from pathlib import Path

import pytest

from gigcx.config import ConfigError, Settings, env_name, reference_markdown, render_reference_into

DOC = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"


def test_the_committed_reference_is_generated_from_settings() -> None:
    text = DOC.read_text()
    assert render_reference_into(text) == text, "run `gigcx config docs --write docs/configuration.md`"
    for name in Settings.model_fields:
        assert f"| `{env_name(name)}` |" in reference_markdown()


def test_defaults_without_any_variable() -> None:
    s = Settings.load({})
    assert (s.database_url, s.redis_url, s.admin_token, s.stripe_api_key, s.smtp_host) == ("", None, None, None, None)
    assert (s.timer_poll_s, s.smtp_port, s.smtp_security, s.webhook_allow_private) == (0.5, 25, "none", False)
    assert s.gc_thresholds == (7000, 10, 10) and (s.gc_freeze_s, s.gc_reclaim_s) == (60, 3600)
    assert s.webhook_secrets() == [] and s.minimum_for("usd") == 100


def test_contract_names_and_legacy_stripe_names_are_read() -> None:
    s = Settings.load({
        "GIGCX_DATABASE_URL": "sqlite:///x.db", "GIGCX_ADMIN_TOKEN": "op", "STRIPE_API_KEY": "sk_test",
        "STRIPE_API_BASE": "http://127.0.0.1:1", "STRIPE_WEBHOOK_SECRET": "whsec_1",
        "STRIPE_WEBHOOK_SECRETS": "whsec_2, whsec_1,", "GIGCX_PAYOUT_MINIMUMS": "usd=100,JPY=50",
        "GIGCX_PUBLIC_URL": "https://support.example.com/", "GIGCX_SMTP_SECURITY": "STARTTLS",
        "GIGCX_WEBHOOK_ALLOW_PRIVATE": "1", "GIGCX_ROSTER_CACHE_S": "0", "GIGCX_SMTP_PORT": "587",
        "GIGCX_GC_THRESHOLDS": "3000,10,100", "GIGCX_INSTANCE_PATH": "srv/gigcx", "GIGCX_REDIS_URL": "",
    })
    assert (s.database_url, s.admin_token, s.stripe_api_key, s.stripe_api_base) == (
        "sqlite:///x.db", "op", "sk_test", "http://127.0.0.1:1")
    assert s.webhook_secrets() == ["whsec_1", "whsec_2"]
    assert s.payout_minimums == {"usd": 100, "jpy": 50} and s.minimum_for("JPY") == 50
    assert s.public_url == "https://support.example.com" and s.smtp_security == "starttls"
    assert s.webhook_allow_private is True and s.roster_cache_s == 0 and s.smtp_port == 587
    assert s.gc_thresholds == (3000, 10, 100) and s.instance_path == "srv/gigcx"
    assert s.redis_url is None  # empty means unset


def test_the_process_environment_and_dotenv_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("GIGCX_MAIL_FROM=dotenv <a@b>\nGIGCX_SMTP_PORT=2525\n")
    monkeypatch.setenv("GIGCX_SMTP_PORT", "465")
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_env")
    s = Settings.load()
    assert (s.mail_from, s.smtp_port, s.stripe_webhook_secret) == ("dotenv <a@b>", 465, "whsec_env")


@pytest.mark.parametrize(("env", "message"), [
    ({"GIGCX_SMTP_PORT": "twenty"}, "GIGCX_SMTP_PORT: Input should be a valid integer"),
    ({"GIGCX_TIMER_POLL_S": "soon"}, "GIGCX_TIMER_POLL_S: Input should be a valid number"),
    ({"GIGCX_GC_FREEZE_S": "-1"}, "GIGCX_GC_FREEZE_S: Input should be greater than or equal to 0"),
    ({"GIGCX_GC_FREEZE_S": "nan"}, "GIGCX_GC_FREEZE_S: Input should be a finite number"),
    ({"GIGCX_GC_FREEZE_S": "60", "GIGCX_GC_RECLAIM_S": "30"}, "GIGCX_GC_RECLAIM_S (30) must be 0"),
    ({"GIGCX_GC_THRESHOLDS": "0,10,10"}, "GIGCX_GC_THRESHOLDS"),
    ({"GIGCX_GC_THRESHOLDS": "a,b,c"}, "GIGCX_GC_THRESHOLDS"),
    ({"GIGCX_SMTP_SECURITY": "tls"}, "GIGCX_SMTP_SECURITY: Input should be 'none', 'starttls' or 'ssl'"),
    ({"GIGCX_PAYOUT_MINIMUMS": "usd"}, "GIGCX_PAYOUT_MINIMUMS: expected currency=minor_units"),
    ({"GIGCX_WEBHOOK_ALLOW_PRIVATE": "maybe"}, "GIGCX_WEBHOOK_ALLOW_PRIVATE"),
    ({"GIGCX_LOG_FORMAT": "xml"}, "GIGCX_LOG_FORMAT"),
])
def test_a_bad_value_is_an_error_naming_its_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.load(env)
    assert message in str(caught.value)


def test_direct_construction_for_tests_and_instance_defaults(tmp_path: Path) -> None:
    s = Settings(instance_path=str(tmp_path / "i"), stripe_api_key="sk", rate_limit_auth_per_min=3).finish()
    assert s.stripe_api_key == "sk" and s.rate_limit_auth_per_min == 3
    assert s.database_url == f"sqlite:///{tmp_path / 'i' / 'gigcx.sqlite3'}"
    assert s.statements_dir == str(tmp_path / "i" / "statements") and len(s.secret_key) > 40
    assert s.process_id and s.process_id != Settings().process_id
