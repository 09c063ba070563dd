"""What ``POCKETPING_SMTP_URL``, ``POCKETPING_MAIL_FROM`` and ``POCKETPING_SMTP_INBOUND`` mean
(pure: parsed, never connected)."""

from __future__ import annotations

from dataclasses import dataclass
from email.headerregistry import Address
from email.utils import parseaddr
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit

TlsMode = Literal["starttls", "tls", "off"]


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    username: str | None
    password: str | None
    # "starttls": STARTTLS is required (the mail is never sent in plain text); "tls": implicit
    # TLS from the first byte (smtps://); "off": plain SMTP (?starttls=off, a trusted network only).
    tls: TlsMode

    def describe(self) -> str:
        user = f"{self.username}@" if self.username else ""
        return f"{user}{self.host}:{self.port} ({ {'starttls': 'STARTTLS', 'tls': 'TLS', 'off': 'no TLS'}[self.tls] })"


def parse_smtp_url(url: str) -> SmtpServer:
    """``smtp://user:password@host:587`` (STARTTLS required unless ``?starttls=off``) or
    ``smtps://user:password@host:465`` (implicit TLS); ValueError says what is wrong."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("smtp", "smtps"):
        raise ValueError("POCKETPING_SMTP_URL must start with smtp:// (STARTTLS, port 587) or smtps:// "
                         "(implicit TLS, port 465)")
    if not parts.hostname:
        raise ValueError("POCKETPING_SMTP_URL needs a host: smtp://user:password@host:587")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError("POCKETPING_SMTP_URL has an invalid port") from exc
    query = parse_qs(parts.query)
    unknown = set(query) - {"starttls"}
    if unknown:
        raise ValueError(f"POCKETPING_SMTP_URL: unknown option {sorted(unknown)[0]!r} (only ?starttls=off)")
    starttls = query.get("starttls", ["on"])[-1].lower()
    if starttls not in ("on", "off"):
        raise ValueError("POCKETPING_SMTP_URL: starttls must be on or off")
    if parts.scheme == "smtps":
        if starttls == "off" and "starttls" in query:
            raise ValueError("POCKETPING_SMTP_URL: smtps:// is TLS from the start; ?starttls does not apply")
        mode: TlsMode = "tls"
    else:
        mode = "off" if starttls == "off" else "starttls"
    return SmtpServer(host=parts.hostname, port=port or (465 if mode == "tls" else 587),
                      username=unquote(parts.username) if parts.username else None,
                      password=unquote(parts.password) if parts.password is not None else None, tls=mode)


def parse_mail_from(value: str) -> Address:
    """``Support <support@example.com>`` or ``support@example.com``; ValueError if it is no address."""
    name, addr = parseaddr(value.strip())
    if not addr or "@" not in addr or addr.startswith("@") or addr.endswith("@") or any(c in addr for c in " <>"):
        raise ValueError("POCKETPING_MAIL_FROM must be an address, e.g. 'Support <support@example.com>'")
    local, domain = addr.rsplit("@", 1)
    return Address(display_name=name, username=local, domain=domain)


def parse_listen(value: str) -> tuple[str, int]:
    """``POCKETPING_SMTP_INBOUND``: ``host:port`` (``[::1]:2525`` for IPv6); ValueError says what is wrong."""
    host, _, port = value.strip().rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("POCKETPING_SMTP_INBOUND must be host:port, e.g. 0.0.0.0:25")
    return host.strip("[]"), int(port)
