"""``pocketping doctor``'s mail section: what is configured, a real sign-in at the SMTP server
(no mail is sent), failing mail deliveries, and what each missing setting costs."""

from __future__ import annotations

from typing import Any

import aiosmtplib

from pocketping.config import Settings
from pocketping.mail.smtp import delivery_error
from pocketping.mailaddr import parse_smtp_url
from pocketping.store import outbox as q
from pocketping.store.db import Database


def _f(ok: bool, check: str, detail: str, fix: str | None = None) -> dict[str, Any]:
    return {"ok": ok, "check": check, "detail": detail, "fix": fix}


async def _sign_in(settings: Settings) -> dict[str, Any]:
    assert settings.smtp_url is not None
    server = parse_smtp_url(settings.smtp_url.get_secret_value())
    client = aiosmtplib.SMTP(hostname=server.host, port=server.port, use_tls=server.tls == "tls",
                             start_tls=server.tls == "starttls", timeout=min(10.0, settings.smtp_timeout_seconds))
    try:
        await client.connect()
        if server.username:
            await client.login(server.username, server.password or "")
        await client.quit()
    except (aiosmtplib.SMTPException, OSError) as exc:
        return _f(False, "smtp", delivery_error(exc, server).message, "Fix POCKETPING_SMTP_URL (see docs/email.md).")
    return _f(True, "smtp", f"signed in at {server.describe()}")


async def examine_mail(settings: Settings, db: Database) -> dict[str, Any]:
    findings: list[dict[str, Any]] = []
    if settings.smtp_url is None:
        findings.append(_f(True, "smtp", "not configured: no mail is sent (replies by email, transcripts, team "
                           "notifications are off)", "Set POCKETPING_SMTP_URL and POCKETPING_MAIL_FROM to use them."))
        return {"configured": False, "ok": True, "findings": findings}
    if not settings.mail_from:
        findings.append(_f(False, "sender", "POCKETPING_MAIL_FROM is not set: no mail is sent",
                           "Set POCKETPING_MAIL_FROM, e.g. 'Support <support@example.com>'."))
    else:
        findings.append(_f(True, "sender", settings.mail_from))
    findings.append(await _sign_in(settings))
    if settings.public_base() is None:
        findings.append(_f(False, "unsubscribe", "POCKETPING_PUBLIC_URL is not set: mails carry no unsubscribe link",
                           "Set POCKETPING_PUBLIC_URL to the server's public address."))
    if settings.reply_domain and settings.smtp_inbound:
        findings.append(_f(True, "answers", f"answers to reply+...@{settings.reply_domain} are received on "
                           f"{settings.smtp_inbound}"))
    else:
        findings.append(_f(True, "answers", "visitors cannot answer mails (POCKETPING_REPLY_DOMAIN and "
                           "POCKETPING_SMTP_INBOUND are not both set)", "See docs/email.md, answers by email."))
    async with db.read() as tx:
        failed = await q.list_items(tx, target="mail", status="failed", limit=5)
    if failed:
        findings.append(_f(False, "deliveries", f"mails failed for good (last: {failed[0].last_error})",
                           "Fix the problem above; new mails are tried again."))
    return {"configured": True, "ok": all(f["ok"] for f in findings), "findings": findings}


def render_mail(report: dict[str, Any]) -> str:
    lines = ["Mail"]
    for f in report["findings"]:
        lines.append(f"  {'✓' if f['ok'] else '✗'} {f['check']}: {f['detail']}")
        if f["fix"] and (not f["ok"] or not report["configured"]):
            lines.append(f"      fix: {f['fix']}" if not f["ok"] else f"      {f['fix']}")
    return "\n".join(lines)
