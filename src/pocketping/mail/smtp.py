"""Sending one message with aiosmtplib: the only place SMTP errors become ours
(``DeliveryError``: 4xx and connection trouble retried, 5xx permanent)."""

from __future__ import annotations

import ssl
from email.message import EmailMessage

import aiosmtplib

from pocketping.errors import DeliveryError
from pocketping.mailaddr import SmtpServer


def _permanent(code: int) -> bool:
    return 500 <= code < 600


def delivery_error(exc: Exception, server: SmtpServer) -> DeliveryError:
    """One table from what aiosmtplib raises to what the outbox does with it."""
    where = server.describe()
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        permanent = bool(codes) and all(_permanent(c) for c in codes)
        detail = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
        return DeliveryError(f"the SMTP server refused the recipient ({detail})", permanent=permanent)
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return DeliveryError(f"SMTP sign-in refused by {where}: {exc.code} {exc.message}; check the user and "
                             "password in POCKETPING_SMTP_URL", retry_after=300)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        if _permanent(exc.code):
            return DeliveryError(f"the SMTP server {where} refused the mail: {exc.code} {exc.message}",
                                 permanent=exc.code not in (421, 451, 452))
        return DeliveryError(f"the SMTP server {where} asked to try later: {exc.code} {exc.message}")
    if isinstance(exc, aiosmtplib.SMTPTimeoutError):
        return DeliveryError(f"the SMTP server {where} did not answer in time")
    if isinstance(exc, aiosmtplib.SMTPException) and "STARTTLS" in str(exc).upper():
        return DeliveryError(f"the SMTP server {where} does not offer STARTTLS, and mail is never sent in plain "
                             "text unless POCKETPING_SMTP_URL ends with ?starttls=off (a trusted network only)",
                             retry_after=300)
    if isinstance(exc, ssl.SSLError):
        return DeliveryError(f"TLS with the SMTP server {where} failed: {exc}", retry_after=300)
    if isinstance(exc, aiosmtplib.SMTPException | OSError):
        return DeliveryError(f"could not reach the SMTP server {where}: {type(exc).__name__}: {exc}")
    return DeliveryError(f"{type(exc).__name__}: {exc}")


async def send(server: SmtpServer, message: EmailMessage, *, timeout: float) -> None:
    """Send, or raise DeliveryError. STARTTLS is required for smtp:// unless ``?starttls=off``."""
    try:
        await aiosmtplib.send(
            message, hostname=server.host, port=server.port, username=server.username, password=server.password,
            use_tls=server.tls == "tls", start_tls=True if server.tls == "starttls" else False, timeout=timeout)
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise delivery_error(exc, server) from exc
