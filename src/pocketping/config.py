"""Typed server settings, read from ``POCKETPING_*`` environment variables.

Every setting is documented in ``docs/configuration.md``; keep the two in step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="POCKETPING_", extra="ignore")

    # Storage
    database_url: str = "sqlite:///data/pocketping.db"
    data_dir: Path = Path("data")
    encryption_key: SecretStr | None = None
    previous_encryption_keys: SecretStr | None = None

    # Files (attachments): where they are stored, how big they may be, how long they are kept
    storage_url: str | None = None  # file:///path or s3://bucket/prefix; default: <data_dir>/files
    s3_endpoint_url: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_region: str | None = None
    max_upload_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    file_retention_days: float | None = Field(default=None, gt=0)
    rate_limit_uploads_per_minute: int = Field(default=20, ge=0)

    # Server
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    log_level: str = "info"
    # "json": one JSON object per line (time, level, logger, message, ids); see docs/deployment.md.
    log_format: Literal["text", "json"] = "text"
    forwarded_allow_ips: str = "127.0.0.1"

    # Widget protocol limits
    max_frame_bytes: int = 65536
    max_text_chars: int = 4000
    rate_limit_messages_per_minute: int = Field(default=30, ge=0)
    rate_limit_connections_per_minute: int = Field(default=120, ge=0)
    auth_timeout_seconds: float = 10.0
    # A widget's resume replays at most this many of the latest timeline items; older ones come
    # from `history` frames, page by page (also at most this many each).
    replay_limit: int = Field(default=100, ge=1, le=10_000)

    # Background work
    config_poll_seconds: float = 2.0
    outbox_poll_seconds: float = 1.0
    outbox_retry_window_seconds: int = 86400
    outbox_lease_seconds: float = 60.0
    delivery_retention_days: float = Field(default=7.0, gt=0)
    outbox_concurrency: int = Field(default=64, ge=1)
    presence_timeout_seconds: int = 300

    # Web inbox sign-in
    inbox_session_hours: int = Field(default=168, ge=1)
    inbox_login_failures_per_account: int = Field(default=5, ge=0)
    inbox_login_failures_per_ip: int = Field(default=20, ge=0)
    inbox_login_window_seconds: int = Field(default=900, ge=1)

    # Platforms (fakes in tests, self-hosted servers in production)
    telegram_api_url: str = "https://api.telegram.org"
    telegram_mode: Literal["auto", "polling", "webhook"] = "auto"
    slack_api_url: str = "https://slack.com/api/"
    discord_api_url: str = "https://discord.com/api/v10"
    allow_private_urls: bool = True
    # Knowledge-base pages never come from private or loopback addresses except these (host
    # names or CIDRs, comma-separated): an intranet docs server the operator names.
    allowed_private_hosts: str = ""
    # "off" drops our own per-destination pacing (for benchmarks against fakes and for
    # self-hosted platform servers without limits); a platform's 429 is honoured regardless.
    bridge_pacing: Literal["platform", "off"] = "platform"

    # Webhooks and the event stream
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    event_retention_days: int = Field(default=7, ge=1)

    # GET /metrics (Prometheus): off unless a bearer token is set, or "on" for loopback clients only.
    metrics: Literal["off", "on"] = "off"
    metrics_token: SecretStr | None = None

    # Background workers can be switched off, e.g. for a CLI process.
    workers: bool = True

    # Several nodes (docs/deployment.md): Redis carries the live fan-out and shared counters.
    redis_url: str | None = None
    redis_prefix: str = "pocketping:"
    node_heartbeat_seconds: float = Field(default=2.0, gt=0)
    lease_seconds: float = Field(default=6.0, gt=0)

    # AI fallback (per-project settings live in the database: `pocketping ai set`)
    openai_api_url: str = "https://api.openai.com/v1"
    anthropic_api_url: str = "https://api.anthropic.com"
    ai_poll_seconds: float = Field(default=2.0, gt=0)
    kb_fetch_timeout_seconds: float = Field(default=20.0, gt=0)
    kb_max_bytes: int = Field(default=10_000_000, gt=0)
    kb_crawl_delay_seconds: float = Field(default=1.0, ge=0)  # between two requests of a crawl

    # Mail (docs/email.md): out through SMTP, replies in on the built-in receiver
    smtp_url: SecretStr | None = None
    mail_from: str | None = None
    reply_domain: str | None = None
    smtp_inbound: str | None = None
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        from pocketping.dburl import async_database_url

        async_database_url(value)  # raises ValueError with a helpful message
        return value

    @field_validator("allowed_private_hosts")
    @classmethod
    def _hosts_or_networks(cls, value: str) -> str:
        import ipaddress

        for item in (part.strip() for part in value.split(",")):
            looks_like_network = "/" in item or ":" in item or item.replace(".", "").isdigit()
            if item and looks_like_network:
                try:
                    ipaddress.ip_network(item.strip("[]"), strict=False)
                except ValueError as exc:
                    raise ValueError(f"{item!r} is neither a host name nor an address or CIDR network") from exc
        return value

    def websocket_max_bytes(self) -> int:
        """Frames over this are cut off by the WebSocket layer (close 1009): four times the
        largest frame answered with an error (docs/protocol.md)."""
        return 4 * self.max_frame_bytes

    @field_validator("metrics_token", mode="before")
    @classmethod
    def _long_enough(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None  # `POCKETPING_METRICS_TOKEN=` in an env file: unset
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if isinstance(raw, str) and len(raw.strip()) < 16:
            raise ValueError("POCKETPING_METRICS_TOKEN must be at least 16 characters (try `openssl rand -hex 32`)")
        return value
    @field_validator("smtp_url")
    @classmethod
    def _smtp_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value():
            from pocketping.mailaddr import parse_smtp_url

            parse_smtp_url(value.get_secret_value())  # raises ValueError saying what is wrong
            return value
        return None

    @field_validator("mail_from")
    @classmethod
    def _mail_from(cls, value: str | None) -> str | None:
        if value:
            from pocketping.mailaddr import parse_mail_from

            parse_mail_from(value)
            return value
        return None

    @field_validator("smtp_inbound")
    @classmethod
    def _smtp_inbound(cls, value: str | None) -> str | None:
        if value:
            from pocketping.mailaddr import parse_listen

            parse_listen(value)
            return value
        return None

    def mail_ready(self) -> bool:
        """Mail can go out: an SMTP server and a sender are configured."""
        return self.smtp_url is not None and bool(self.mail_from)

    def public_base(self) -> str | None:
        return self.public_url.rstrip("/") if self.public_url else None


def load_settings(**overrides: object) -> Settings:
    clean = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**clean)  # type: ignore[arg-type]
