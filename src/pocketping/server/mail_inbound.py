"""The built-in mail receiver (``POCKETPING_SMTP_INBOUND``): answers to reply mails become
visitor messages.

Only ``reply+<token>@POCKETPING_REPLY_DOMAIN`` addresses whose token this server mailed are
accepted, and that is decided at ``RCPT TO``: a made-up or forged address is refused before
any data is sent, so nothing of it is ever stored. Each token may bring a few mails a minute;
a mail over 1 MB is refused by the SMTP layer itself.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from pocketping.actions import mail as mail_actions
from pocketping.actions.services import Services
from pocketping.errors import PocketPingError
from pocketping.mail.inbound import MAX_TEXT_BYTES, reply_text, reply_token
from pocketping.mailaddr import parse_listen
from pocketping.ratelimit import RateLimiter

log = logging.getLogger(__name__)

MAILS_PER_MINUTE = 5  # per reply address


class ReplyHandler:
    """aiosmtpd's handler: check each recipient at RCPT, post the answer at DATA."""

    def __init__(self, svc: Services, reply_domain: str) -> None:
        self.svc = svc
        self.reply_domain = reply_domain
        self.limiter = RateLimiter(MAILS_PER_MINUTE, svc.clock)

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        token = reply_token(address, self.reply_domain)
        found = await mail_actions.find_reply_session(self.svc, token) if token else None
        if token is None or found is None:
            return "550 5.1.1 No such conversation: this address takes answers to PocketPing reply mails only"
        if self.limiter.hit(token) is not None:
            return "450 4.7.1 Too many mails for this conversation; try again in a minute"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        try:
            text = reply_text(parsed)
        except Exception:
            log.warning("an answer mail could not be read", exc_info=True)
            return "550 5.6.0 This mail could not be read"
        if len(text.encode()) > MAX_TEXT_BYTES:
            return "552 5.3.4 Over 1 MB of text"
        if not text:
            return "550 5.6.0 No answer found above the quoted mail"
        message_id = str(parsed.get("Message-ID") or "") or None
        for address in envelope.rcpt_tos:
            token = reply_token(address, self.reply_domain)
            found = await mail_actions.find_reply_session(self.svc, token) if token else None
            if found is None:
                continue
            try:
                await mail_actions.receive_reply(self.svc, found, text, message_id)
            except PocketPingError as exc:
                return f"550 5.6.0 {exc.message}"
        return "250 OK"


class MailReceiver:
    """The SMTP server on this node's event loop (so it shares the database and the hub)."""

    def __init__(self, svc: Services, listen: str, reply_domain: str) -> None:
        self.host, self.port = parse_listen(listen)
        self.handler = ReplyHandler(svc, reply_domain)
        self._server: asyncio.base_events.Server | None = None

    def _protocol(self) -> Any:
        return SMTP(self.handler, hostname=self.handler.reply_domain, ident="PocketPing",
                    data_size_limit=MAX_TEXT_BYTES + 64_000, enable_SMTPUTF8=True)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._protocol, self.host, self.port)
        log.info("receiving answers to reply mails on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
