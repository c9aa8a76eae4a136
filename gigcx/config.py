"""Configuration: environment variables (and an optional `.env`), per the public contract."""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, fields
from pathlib import Path

from dotenv import dotenv_values

#: Brand settings and their defaults (contract: `GET /brand`).
BRAND_DEFAULTS = {
    "offer_timeout_s": 60,
    "max_offers": 3,
    "escalate_after_s": 900,
    "confirm_window_s": 86400,
    "review_window_s": 259200,
    "currency": "usd",
}


@dataclass
class Settings:
    """Every knob of one GigCX process; built from the environment by `from_env`."""

    instance_path: str
    database_url: str = ""
    redis_url: str | None = None
    redis_channel: str = "gigcx"
    admin_token: str | None = None
    secret_key: str = ""
    stripe_api_key: str | None = None
    stripe_api_base: str | None = None
    stripe_webhook_secret: str | None = None
    # Platform and Connect endpoints sign with different secrets (STRIPE_WEBHOOK_SECRETS, comma-separated).
    stripe_webhook_secrets: list[str] = field(default_factory=list)
    # Minimum payout per currency (GIGCX_PAYOUT_MINIMUMS="usd=100,jpy=100,kwd=1000"); others use
    # payout_minimum_cents. Statements of every run go to statements_dir (default: instance/statements).
    payout_minimums: dict[str, int] = field(default_factory=dict)
    statements_dir: str = ""
    # Extensions beyond the contract (documented in docs/configuration.md).
    timer_poll_s: float = 0.5
    presence_ttl_s: float = 30.0
    payout_minimum_cents: int = 100
    log_format: str = "text"
    stripe_timeout_s: float = 30.0
    stripe_max_network_retries: int = 2
    rate_limit_asks_per_min: int = 30
    rate_limit_messages_per_min: int = 120
    rate_limit_auth_per_min: int = 20
    shed_lag_ms: float = 250.0
    model_check_s: float = 1.0
    roster_cache_s: float = 1.0
    # reverse proxies in front of GigCX whose X-Forwarded-For is believed (client addresses feed
    # rate limits and fraud signals); 0 = clients connect directly
    trusted_proxies: int = 0
    # Notifications (docs/webhooks.md, docs/configuration.md#e-mail-and-webhooks).
    public_url: str = ""
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_security: str = "none"
    smtp_timeout_s: float = 10.0
    mail_from: str = "GigCX <noreply@localhost>"
    webhook_poll_s: float = 1.0
    webhook_timeout_s: float = 10.0
    webhook_concurrency: int = 8
    webhook_retry_base_s: float = 30.0
    webhook_retry_max_s: float = 3600.0
    webhook_retry_window_s: float = 259200.0
    webhook_disable_after_s: float = 259200.0
    webhook_allow_private: bool = False
    offer_email_after_s: float = 30.0
    offer_email_gap_s: float = 600.0
    digest_hour_utc: int = 18
    credential_cache_s: float = 1.0
    session_sweep_s: float = 5.0
    rate_limit_customers_per_min: int = 60
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    metrics_token: str | None = None
    metrics_address: str | None = None
    retention_check_s: float = 3600.0  # how often a serving process applies brands' retention periods
    process_id: str = field(default_factory=lambda: f"{os.getpid()}-{secrets.token_hex(4)}")

    @classmethod
    def from_env(cls, instance_path: str, environ: dict[str, str] | None = None) -> Settings:
        """Read GIGCX_* and STRIPE_* variables; `.env` in the working directory fills gaps."""
        env: dict[str, str] = {k: v for k, v in dotenv_values(".env").items() if v is not None}
        env.update(os.environ if environ is None else environ)
        instance_path = env.get("GIGCX_INSTANCE_PATH", instance_path)
        s = cls(instance_path=instance_path)
        s.database_url = env.get("GIGCX_DATABASE_URL") or ""
        s.redis_url = env.get("GIGCX_REDIS_URL") or None
        s.redis_channel = env.get("GIGCX_REDIS_CHANNEL") or s.redis_channel
        s.log_format = env.get("GIGCX_LOG_FORMAT") or s.log_format
        s.admin_token = env.get("GIGCX_ADMIN_TOKEN") or None
        s.secret_key = env.get("GIGCX_SECRET_KEY") or ""
        s.stripe_api_key = env.get("STRIPE_API_KEY") or None
        s.stripe_api_base = env.get("STRIPE_API_BASE") or None
        s.stripe_webhook_secret = env.get("STRIPE_WEBHOOK_SECRET") or None
        s.stripe_webhook_secrets = [x.strip() for x in (env.get("STRIPE_WEBHOOK_SECRETS") or "").split(",")
                                    if x.strip()]
        s.payout_minimums = parse_minimums(env.get("GIGCX_PAYOUT_MINIMUMS") or "")
        s.statements_dir = env.get("GIGCX_STATEMENTS_DIR") or ""
        s.public_url = (env.get("GIGCX_PUBLIC_URL") or "").rstrip("/")
        s.smtp_host = env.get("GIGCX_SMTP_HOST") or None
        s.smtp_username = env.get("GIGCX_SMTP_USERNAME") or None
        s.smtp_password = env.get("GIGCX_SMTP_PASSWORD") or None
        s.smtp_security = (env.get("GIGCX_SMTP_SECURITY") or s.smtp_security).lower()
        if s.smtp_security not in ("none", "starttls", "ssl"):
            raise ValueError("GIGCX_SMTP_SECURITY must be none, starttls or ssl")
        s.mail_from = env.get("GIGCX_MAIL_FROM") or s.mail_from
        s.webhook_allow_private = (env.get("GIGCX_WEBHOOK_ALLOW_PRIVATE") or "").lower() in ("1", "true", "yes")
        s.metrics_token = env.get("GIGCX_METRICS_TOKEN") or None
        s.metrics_address = env.get("GIGCX_METRICS_ADDRESS") or None
        for f in fields(cls):
            key = "GIGCX_" + f.name.upper()
            if f.type in ("float", "int") and key in env:
                setattr(s, f.name, (float if f.type == "float" else int)(env[key]))
        return s

    def finish(self) -> Settings:
        """Fill defaults that live in the instance folder (SQLite file, secret key)."""
        Path(self.instance_path).mkdir(parents=True, exist_ok=True)
        if not self.database_url:
            self.database_url = "sqlite:///" + str(Path(self.instance_path) / "gigcx.sqlite3")
        if not self.secret_key:
            self.secret_key = _instance_secret(Path(self.instance_path) / "secret_key")
        if not self.statements_dir:
            self.statements_dir = str(Path(self.instance_path) / "statements")
        return self

    def webhook_secrets(self) -> list[str]:
        """Every webhook signing secret: STRIPE_WEBHOOK_SECRET and the STRIPE_WEBHOOK_SECRETS list."""
        out = [s for s in [self.stripe_webhook_secret, *self.stripe_webhook_secrets] if s]
        return list(dict.fromkeys(out))

    def minimum_for(self, currency: str) -> int:
        """The minimum payout in this currency's minor units."""
        return self.payout_minimums.get(currency.lower(), self.payout_minimum_cents)


def parse_minimums(text: str) -> dict[str, int]:
    """`usd=100,jpy=100` -> {"usd": 100, "jpy": 100}; a malformed item is a clear error."""
    out: dict[str, int] = {}
    for item in (x.strip() for x in text.split(",")):
        if not item:
            continue
        cur, sep, amount = item.partition("=")
        if not sep or len(cur.strip()) != 3 or not cur.strip().isalpha() or not amount.strip().isdigit():
            raise ValueError(f"GIGCX_PAYOUT_MINIMUMS: expected currency=minor_units, got {item!r}")
        out[cur.strip().lower()] = int(amount)
    return out


def _instance_secret(path: Path) -> str:
    """Return the secret kept in the instance folder, creating it on first use."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        key = secrets.token_urlsafe(48)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first
            return path.read_text().strip()
        with os.fdopen(fd, "w") as fh:
            fh.write(key)
        return key
