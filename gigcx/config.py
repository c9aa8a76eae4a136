"""Configuration: one `Settings` class read from environment variables (and an optional `.env`),
per the public contract. docs/configuration.md's tables are generated from it (`gigcx config docs`)."""
from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, PrivateAttr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings.sources import EnvSettingsSource
from pydantic_settings.sources.utils import parse_env_vars

#: Sections of docs/configuration.md, in order, with their headings and introductions.
SECTIONS = {
    "contract": ("The contract's variables", ""),
    "extensions": ("Extensions", ""),
    "email": ("E-mail and webhooks", "How they behave: [webhooks.md](webhooks.md). Timings can be shortened for "
              "tests; the defaults\nare what production wants."),
}
PREFIX = "GIGCX_"
Seconds = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class ConfigError(ValueError):
    """A variable has a value GigCX cannot use; the message names the variable."""


def setting(default: Any, section: str, text: str, shown: str | None = None, env: str | None = None,
            **constraints: Any) -> Any:
    """A field with what the generated reference says: its section, meaning and (when not the
    literal default) how the default reads; `env` names a variable outside the GIGCX_ prefix.
    `default` may be a factory (`list`, `dict`)."""
    extra: dict[str, Any] = {"section": section}
    if shown is not None:
        extra["default_doc"] = shown
    kw: dict[str, Any] = {"description": text, "json_schema_extra": extra, **constraints}
    if env is not None:
        kw["validation_alias"] = AliasChoices(env)
    if default in (list, dict):
        return Field(default_factory=default, **kw)
    return Field(default, **kw)


def _comma_list(value: Any) -> Any:
    if isinstance(value, str):
        return [x.strip() for x in value.split(",") if x.strip()]
    return value


class Settings(BaseSettings):
    """Every knob of one GigCX process. `Settings.load()` reads the environment once, when the app is
    created (`app.config["GIGCX"]`); `Settings(field=value, ...)` builds one directly (tests)."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, env_file=".env", env_ignore_empty=True, extra="ignore",
                                      populate_by_name=True, validate_default=False)

    # The contract's variables.
    database_url: str = setting("",
        "contract", "SQLAlchemy URL: `sqlite:///path/to.db` or `postgresql+psycopg://user:pass@host/db`",
        "`sqlite:///<instance>/gigcx.sqlite3`")
    redis_url: str | None = setting(None,
        "contract", "Redis URL; several `gigcx serve` processes become one service", "unset: single process")
    admin_token: str | None = setting(None,
        "contract", "bearer token of the platform operator", "unset: operator endpoints answer 401")
    secret_key: str = setting("",
        "contract", "signs sessions and tokens", "generated once into `<instance>/secret_key` (mode 600)")
    stripe_api_key: str | None = setting(None,
        "contract", "Stripe secret key; enables Stripe Connect payouts",
        "unset: ledger-only payouts with CSV statements", env="STRIPE_API_KEY")
    stripe_api_base: str | None = setting(None,
        "contract", "points the official SDK at a Stripe-compatible server", "Stripe's own", env="STRIPE_API_BASE")
    stripe_webhook_secret: str | None = setting(None,
        "contract", "verifies `/webhooks/stripe` signatures", "unset: webhooks refused", env="STRIPE_WEBHOOK_SECRET")
    stripe_webhook_secrets: Annotated[list[str], NoDecode] = setting(list,
        "contract", "more signing secrets, comma-separated (the platform and the Connect endpoint sign with "
        "different ones); any of them verifies", "unset", env="STRIPE_WEBHOOK_SECRETS")

    # Extensions beyond the contract.
    instance_path: str = setting("",
        "extensions", "the instance folder (SQLite file, generated secret)",
        "`instance/` beside the package, or Flask's default for installed packages")
    redis_channel: str = setting("gigcx",
        "extensions", "Redis pub/sub channel of the Socket.IO queue (separate deployments on one Redis)")
    timer_poll_s: Seconds = setting(0.5, "extensions", "how often each process looks for due timers")
    presence_ttl_s: Seconds = setting(30.0,
        "extensions", "an expert connection not refreshed for this long no longer counts as online")
    log_format: Literal["text", "json"] = setting("text",
        "extensions", "`text`, or `json` for one JSON object per log line (see [Monitoring](#monitoring))")
    payout_minimum_cents: int = setting(100,
        "extensions", "smallest available balance paid out by a run, in minor units, for currencies without "
        "their own minimum", ge=0)
    payout_minimums: Annotated[dict[str, int], NoDecode] = setting(dict,
        "extensions", "minimum payout per currency in its minor units, e.g. `usd=100,jpy=100,kwd=1000`", "unset")
    statements_dir: str = setting("",
        "extensions", "where every payout run writes its CSV statements (`batch-{id}/`)", "`{instance}/statements`")
    rate_limit_asks_per_min: int = setting(30, "extensions", "asks per customer per minute", ge=0)
    rate_limit_messages_per_min: int = setting(120, "extensions", "messages per customer per minute", ge=0)
    rate_limit_auth_per_min: int = setting(20,
        "extensions", "authentication attempts per address per minute", ge=0)
    rate_limit_customers_per_min: int = setting(60,
        "extensions", "new customers (`/customer` connects without a known token) per address; over it the "
        "connect is refused with `rate_limited`", ge=0)
    public_url: str = setting("",
        "extensions", "the URL browsers use, e.g. `https://support.example.com`: the pages' CSP allows "
        "WebSockets to it, Stripe onboarding links return to it, and links in e-mails and webhook payloads "
        "start with it. Never taken from the `Host` header",
        "unset: CSP `connect-src 'self'`; links use the request's host, `http://HOST:PORT` of `gigcx serve`")
    metrics_token: str | None = setting(None,
        "extensions", "a bearer token for `GET /metrics` besides the operator's", "unset: only the operator's token")
    metrics_address: str | None = setting(None,
        "extensions", "`host:port` of a second listener serving only `GET /metrics`, without a token (bind it to "
        "a private network)", "unset")
    credential_cache_s: Seconds = setting(1.0,
        "extensions", "how long a process trusts that a socket's credential (token, API key) still stands before "
        "it reads it again; revocations also reach every process at once through Redis")
    session_sweep_s: Seconds = setting(5.0,
        "extensions", "how often a process re-reads the credentials of all its sockets (one statement) and "
        "disconnects revoked ones (in case a revocation signal was lost); it does so at least every half of "
        "`GIGCX_CREDENTIAL_CACHE_S`, which keeps the events' credential checks off the database")
    header_timeout_s: Seconds = setting(10.0,
        "extensions", "a client must send its request line and headers within this; also closes idle keep-alive "
        "connections (`gigcx serve`)")
    body_timeout_s: Seconds = setting(30.0,
        "extensions", "a request body must arrive within this from its first read; later: `408` (`gigcx serve`)")
    model_check_s: Seconds = setting(1.0,
        "extensions", "how often (per brand and process) an ask checks whether the topic classifier (edited "
        "topics), the expert ranker or the suggestion index (new resolved cases) must be rebuilt")
    roster_cache_s: Seconds = setting(1.0,
        "extensions", "how long (per brand and process) the names, languages and approved topics of a brand's "
        "experts are reused by routing before they are read again; who is online, connected and how loaded is "
        "read fresh on every ask whatever this says; an expert not in the cache forces a re-read; `0` reads "
        "them on every ask")
    brand_cache_s: Seconds = setting(1.0,
        "extensions", "how long (per brand and process) an ask reuses the brand's settings before it reads them "
        "again; a change made through this process is seen by its next ask whatever this says, one made through "
        "another process within this; `0` reads them on every ask")
    gc_thresholds: Annotated[tuple[int, int, int], NoDecode] = setting((7000, 10, 10),
        "extensions", "`gc.set_threshold` of a serving process as `gen0,gen1,gen2` (architecture.md, \"Tuned for "
        "many connections\"); for experiments, the default was measured", "`7000,10,10`")
    gc_freeze_s: Seconds = setting(60.0,
        "extensions", "every this many seconds a serving process collects its young generations and freezes "
        "what survived (`gc.freeze()`), so full collections walk only what is younger (architecture.md, "
        "\"Tuned for many connections\"); `0` turns it off")
    gc_reclaim_s: Seconds = setting(3600.0,
        "extensions", "every this many seconds the frozen objects are unfrozen, fully collected once (one long "
        "pause) and frozen again, which frees garbage frozen meanwhile; `0` never (garbage frozen by mistake "
        "then stays); at least `GIGCX_GC_FREEZE_S`")
    tracemalloc_s: Seconds = setting(0.0,
        "extensions", "for finding what grows: every this many seconds a serving process logs its RSS, the "
        "Python heap traced by `tracemalloc` and the allocation sites that grew most since the last log (logger "
        "`gigcx.memory`); tracing makes every allocation slower and takes memory of its own; `0` off")
    tracemalloc_frames: int = setting(8,
        "extensions", "frames of each allocation's traceback `GIGCX_TRACEMALLOC_S` keeps; `1` (the allocating line "
        "alone) costs least, for tracing a server under load", ge=1, le=100)
    trusted_proxies: int = setting(0,
        "extensions", "how many reverse proxies in front of GigCX append to `X-Forwarded-For`; their word is "
        "taken for the client's address, which rate limits and [fraud signals](trust.md#where-people-connect-from) "
        "use; `0`: clients connect directly", ge=0)
    retention_check_s: Seconds = setting(3600.0,
        "extensions", "how often each serving process applies the brands' `retention_days` (redacts old "
        "conversations, anonymises customers; `gigcx privacy retention` does it once); `0` turns the job off in "
        "that process")
    socket_ping_s: int = setting(20,
        "extensions", "Socket.IO's heartbeat: a serving process pings each connected socket this many seconds "
        "after its last pong, and drops a socket that has not answered within as many seconds more (a load "
        "balancer's idle timeout for WebSockets must be longer: deploy.md)", ge=1, le=3600)
    websocket_compression: bool = setting(False,
        "extensions", "negotiate permessage-deflate with WebSocket clients that offer it (every browser does); "
        "it keeps a zlib compressor and decompressor per socket for the socket's whole life, which measured "
        "~100 KiB more server memory per idle socket (benchmarks.md, \"Idle sockets\"), while Socket.IO "
        "frames are mostly small; off: frames go uncompressed")
    drain_s: Seconds = setting(10.0,
        "extensions", "on SIGTERM or SIGINT `gigcx serve` stops accepting connections, answers `/healthz` with 503 "
        "and refuses new asks and messages with the retryable `overloaded`, waits up to this long for the events "
        "and requests it is handling to finish, then exits; its clients reconnect to another process and `sync` "
        "(deploy.md, \"Restarts\")")
    shed_lag_ms: float = setting(250.0,
        "extensions", "a serving process refuses new asks and messages with `overloaded` while its event loop "
        "lags more than this (twice in a row), and while every pooled PostgreSQL connection is in use; `0` turns "
        "shedding off", ge=0, allow_inf_nan=False)
    stripe_timeout_s: Seconds = setting(30.0, "extensions", "timeout of one request to Stripe")
    stripe_max_network_retries: int = setting(2,
        "extensions", "retries of a Stripe request after a network error (idempotent)", ge=0)
    node_modules: str | None = setting(None,
        "extensions", "where npm installed the browser dependencies the widget and consoles are built from",
        "`node_modules/` at the repository root")

    # Notifications (docs/webhooks.md).
    smtp_host: str | None = setting(None,
        "email", "SMTP server; e-mail is sent only when set", "unset: no e-mail")
    smtp_port: int = setting(25, "email", "its port", ge=1, le=65535)
    smtp_security: Literal["none", "starttls", "ssl"] = setting("none",
        "email", "`none`, `starttls` (usually port 587) or `ssl` (implicit TLS, usually 465); certificates are "
        "verified")
    smtp_username: str | None = setting(None, "email", "login, when the server wants one", "unset")
    smtp_password: str | None = setting(None, "email", "its password", "unset")
    smtp_timeout_s: Seconds = setting(10.0, "email", "connection and command timeout")
    mail_from: str = setting("GigCX <noreply@localhost>", "email", "sender address")
    webhook_poll_s: Seconds = setting(1.0,
        "email", "how often each serving process looks for due deliveries and e-mails")
    webhook_timeout_s: Seconds = setting(10.0,
        "email", "per-request timeout (connect, and each read) of a webhook")
    webhook_concurrency: int = setting(8, "email", "webhook requests in flight per serving process", ge=1)
    webhook_retry_base_s: Seconds = setting(30.0,
        "email", "first retry delay, doubling up to `GIGCX_WEBHOOK_RETRY_MAX_S` (webhooks and e-mails)")
    webhook_retry_max_s: Seconds = setting(3600.0, "email", "the cap of the retry delay")
    webhook_retry_window_s: Seconds = setting(259200.0,
        "email", "a delivery (or e-mail) is retried this long after its event, then given up", "`259200` (3 days)")
    webhook_disable_after_s: Seconds = setting(259200.0,
        "email", "an endpoint failing every attempt for this long is disabled and the brand e-mailed",
        "`259200` (3 days)")
    webhook_allow_private: bool = setting(False,
        "email", "`1` lets webhooks reach private and loopback addresses and plain `http://` (development, tests)",
        "off")
    offer_email_after_s: Seconds = setting(30.0,
        "email", "a question waits this long before an opted-in expert who is away is e-mailed")
    offer_email_gap_s: Seconds = setting(600.0, "email", "at most one offer e-mail per expert this often")
    digest_hour_utc: int = setting(18, "email", "daily digests go out from this hour (UTC)", ge=0, le=23)

    _process_id: str = PrivateAttr(default_factory=lambda: f"{os.getpid()}-{secrets.token_hex(4)}")

    @property
    def process_id(self) -> str:
        """This process's name in claims (timers, deliveries) and presence rows; never configured."""
        return self._process_id

    @field_validator("stripe_webhook_secrets", mode="before")
    @classmethod
    def _split_secrets(cls, value: Any) -> Any:
        return _comma_list(value)

    @field_validator("payout_minimums", mode="before")
    @classmethod
    def _parse_minimums(cls, value: Any) -> Any:
        return parse_minimums(value) if isinstance(value, str) else value

    @field_validator("gc_thresholds", mode="before")
    @classmethod
    def _split_thresholds(cls, value: Any) -> Any:
        return _comma_list(value)

    @field_validator("gc_thresholds")
    @classmethod
    def _check_thresholds(cls, value: tuple[int, int, int]) -> tuple[int, int, int]:
        if value[0] < 1 or min(value) < 0:
            raise ValueError("three integers 'gen0,gen1,gen2' with gen0 >= 1 and the others >= 0")
        return value

    @field_validator("public_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("smtp_security", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _reclaim_after_freeze(self) -> Settings:
        if self.gc_freeze_s and self.gc_reclaim_s and self.gc_reclaim_s < self.gc_freeze_s:
            raise ValueError(f"GIGCX_GC_RECLAIM_S ({self.gc_reclaim_s:g}) must be 0 (never) or at least "
                             f"GIGCX_GC_FREEZE_S ({self.gc_freeze_s:g})")
        return self

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        environ = _ENVIRON.get()
        if environ is not None:  # `load(environ=...)`: exactly this mapping, no process environment or .env
            return init_settings, _MappingSource(settings_cls, environ)
        return init_settings, env_settings, dotenv_settings

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read GIGCX_* and STRIPE_* variables (`.env` in the working directory fills gaps), or only
        `environ` when given; a bad value is a `ConfigError` naming its variable."""
        token = _ENVIRON.set(environ)
        try:
            return cls(**overrides)
        except ValidationError as exc:
            raise ConfigError(describe(exc)) from None
        finally:
            _ENVIRON.reset(token)

    @classmethod
    def from_env(cls, instance_path: str, environ: Mapping[str, str] | None = None) -> Settings:
        """`load`, with the instance folder to use when GIGCX_INSTANCE_PATH is unset."""
        settings = cls.load(environ)
        if not settings.instance_path:
            settings.instance_path = instance_path
        return settings

    def finish(self, instance_path: str = "") -> Settings:
        """Fill defaults that live in the instance folder (SQLite file, secret key)."""
        if not self.instance_path:
            self.instance_path = instance_path or "instance"
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


#: The mapping `Settings.load(environ=...)` reads instead of the process environment (None: the process's).
_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("gigcx_settings_environ", default=None)


class _MappingSource(EnvSettingsSource):
    """The environment source, reading a given mapping."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]):
        self._mapping = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(self._mapping, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str)


def env_name(name: str) -> str:
    """The environment variable of a Settings field."""
    field = Settings.model_fields[name]
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return PREFIX + name.upper()


def describe(exc: ValidationError) -> str:
    """One line per bad value, naming the variable: `GIGCX_SMTP_PORT: Input should be ... (got 'x')`."""
    lines = []
    for err in exc.errors():
        loc = [str(part) for part in err["loc"]]
        names = [n for n in Settings.model_fields if loc and (loc[0] == n or loc[0] == env_name(n))]
        msg = err["msg"].removeprefix("Value error, ")
        if not names:  # a rule across variables names them itself
            lines.append(msg)
            continue
        got = f" (got {err['input']!r})" if isinstance(err.get("input"), str) and "got" not in msg else ""
        lines.append(f"{env_name(names[0])}: {msg}{got}")
    return "; ".join(lines)


def reference_markdown() -> str:
    """The variable tables of docs/configuration.md, generated from `Settings`."""
    out: list[str] = []
    for section, (title, intro) in SECTIONS.items():
        out += [f"## {title}", ""]
        if intro:
            out += [intro, ""]
        out += ["| variable | meaning | default |", "|---|---|---|"]
        for name, field in Settings.model_fields.items():
            extra = field.json_schema_extra
            if not isinstance(extra, dict) or extra.get("section") != section:
                continue
            default = extra.get("default_doc")
            if default is None:
                value = field.get_default(call_default_factory=True)
                if isinstance(value, tuple):
                    value = ",".join(map(str, value))
                elif isinstance(value, float) and value.is_integer():
                    value = int(value)
                default = f"`{value}`"
            out.append(f"| `{env_name(name)}` | {field.description} | {default} |")
        out.append("")
    return "\n".join(out)


BEGIN = "<!-- generated from gigcx.config.Settings by `gigcx config docs`; do not edit by hand -->"
END = "<!-- end of generated reference -->"


def render_reference_into(text: str) -> str:
    """`text` (docs/configuration.md) with its generated part replaced by the current reference."""
    head, sep, rest = text.partition(BEGIN)
    _, sep2, tail = rest.partition(END)
    if not sep or not sep2:
        raise ValueError("the configuration document lacks its generated-reference markers")
    return f"{head}{BEGIN}\n{reference_markdown()}{END}{tail}"


def parse_minimums(text: str) -> dict[str, int]:
    """`usd=100,jpy=100` -> {"usd": 100, "jpy": 100}; a malformed item is a clear error."""
    out: dict[str, int] = {}
    for item in (x.strip() for x in text.split(",")):
        if not item:
            continue
        cur, sep, amount = item.partition("=")
        if not sep or len(cur.strip()) != 3 or not cur.strip().isalpha() or not amount.strip().isdigit():
            raise ValueError(f"expected currency=minor_units, got {item!r}")
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
