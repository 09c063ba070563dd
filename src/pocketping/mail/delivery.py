"""Delivering one mail (an outbox row of target "mail"): read what is unseen, compose, send.

A reply mail holds every operator or AI reply the visitor has neither read in the widget nor
been mailed; once it is sent the session's ``mailed_seq`` is raised in its own transaction,
so later rows of the same burst (and a retry of this one) find nothing left and send nothing.
The one window left, a crash between the SMTP server's "250 OK" and that commit, is covered
by the Message-ID: it is the row's, so a resent copy is the same message to every mail client.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pocketping import tokens
from pocketping.clock import Clock
from pocketping.config import Settings
from pocketping.core.delivery import Checkpoint
from pocketping.core.mail import mail_options
from pocketping.core.models import Message, OutboxItem, Project, Session
from pocketping.core.presence import operators_online
from pocketping.core.widget_text import visitor_locale
from pocketping.errors import DeliveryError
from pocketping.mail import compose, smtp
from pocketping.mail.links import continue_url, reply_token, token_hash
from pocketping.mail.planner import REPLIES, TEAM_HANDOFF, TEAM_NEW, TEAM_UNANSWERED, TRANSCRIPT
from pocketping.mailaddr import parse_mail_from, parse_smtp_url
from pocketping.store import mail as repo
from pocketping.store import operators as operator_repo
from pocketping.store import projects as project_repo
from pocketping.store import sessions as session_repo
from pocketping.store.db import Database

RESUME_DAYS = 30  # how long a mail's "continue the conversation" link restores the session
MAX_LINES = 200
HANDOFF_LINES = 12  # of the conversation, in the mail that tells the team a person is needed


class MailDelivery:
    """The outbox handler for target "mail"."""

    def __init__(self, db: Database, clock: Clock, settings: Settings) -> None:
        assert settings.smtp_url is not None and settings.mail_from
        self.db = db
        self.clock = clock
        self.settings = settings
        self.server = parse_smtp_url(settings.smtp_url.get_secret_value())
        self.sender = parse_mail_from(settings.mail_from)

    async def deliver(self, item: OutboxItem, checkpoint: Checkpoint) -> dict[str, Any] | None:
        if item.session_id is None:
            raise DeliveryError("a mail row without a session", permanent=True)
        if item.action in (TEAM_NEW, TEAM_UNANSWERED, TEAM_HANDOFF):
            return await self._team(item, item.session_id)
        async with self.db.read() as tx:
            session = await session_repo.find_session_any_project(tx, item.session_id)
            if session is None:
                return {"skipped": "the conversation was erased"}
            project = await project_repo.get_project(tx, session.project_id)
            recipient = await repo.find_recipient(tx, session.id)
            email = session.identity.email if session.identity else None
            if not email:
                return {"skipped": "no address"}
            if recipient is not None and recipient.unsubscribed_at is not None:
                return {"skipped": "unsubscribed"}
            mailed = recipient.mailed_seq if recipient else 0
            if item.action == REPLIES:
                if not mail_options(project.extra, mail_ready=True).replies:
                    return {"skipped": "reply mails are off for the project"}
                after = max(session.visitor_read_seq, mailed)
                lines = [m for m in await session_repo.list_items(tx, session.id, after_seq=after, kinds=("message",),
                                                                   limit=MAX_LINES)
                         if m.sender in ("operator", "ai") and m.deleted_at is None]
            elif item.action == TRANSCRIPT:
                lines = [m for m in await session_repo.list_items(tx, session.id, kinds=("message",), limit=1000)
                         if m.deleted_at is None]
            else:
                raise DeliveryError(f"unknown mail {item.action!r}", permanent=True)
        if not lines:
            return {"skipped": "nothing unseen"}
        message = self._compose(item, project, session, email, lines)
        await smtp.send(self.server, message, timeout=self.settings.smtp_timeout_seconds)
        upto = max(m.seq for m in lines)
        async with self.db.transaction() as tx:
            await repo.ensure_recipient(tx, session.id, session.project_id)
            if self.settings.reply_domain:
                await repo.update_recipient(tx, session.id,
                                            reply_token_hash=token_hash(reply_token(self.db.keyring, session.id)))
            await repo.raise_mailed_seq(tx, session.id, upto)  # a transcript holds every reply too
            if item.action == TRANSCRIPT:
                await repo.update_recipient(tx, session.id, transcript_wanted=False)
        return {"sent": True, "messages": len(lines), "upto": upto, "messageId": message["Message-ID"]}

    async def _team(self, item: OutboxItem, session_id: str) -> dict[str, Any]:
        """A mail to an operator, only while nobody is online (no inbox open, no recent reply from a
        bridge, ``/away``, or outside office hours), and only for what is still unanswered."""
        seq = int(item.payload.get("seq") or 0)
        async with self.db.read() as tx:
            session = await session_repo.find_session_any_project(tx, session_id)
            if session is None:
                return {"skipped": "the conversation was erased"}
            project = await project_repo.get_project(tx, session.project_id)
            if operators_online(project, self.clock.now().timestamp(), self.settings.presence_timeout_seconds):
                return {"skipped": "an operator is online"}
            operator_id = str(item.payload.get("operator") or item.target_id)
            operator = await operator_repo.find_operator(tx, operator_id)
            notify, _ = await operator_repo.notify_settings(tx, operator_id)
            if operator is None or notify != "email":
                return {"skipped": "the operator no longer wants these mails"}
            after = await session_repo.list_items(tx, session.id, after_seq=seq, kinds=("message",), limit=MAX_LINES)
            # A hand-off's own line is the AI's: only a person from the team answers it.
            answers = ("operator",) if item.action == TEAM_HANDOFF else ("operator", "ai")
            if any(m.sender in answers for m in after):
                return {"skipped": "answered"}
            if item.action == TEAM_UNANSWERED and any(m.sender == "visitor" for m in after):
                return {"skipped": "a later message's mail covers it"}
            recent = await session_repo.list_items(tx, session.id, kinds=("message",), limit=1000)
            if item.action == TEAM_HANDOFF:
                unanswered = recent[-HANDOFF_LINES:]  # the conversation so far, the AI's lines too
            else:
                unanswered = []
                for m in reversed(recent):
                    if m.sender != "visitor":
                        break
                    unanswered.insert(0, m)
        base = self.settings.public_base()
        keyring = self.db.keyring
        mail = compose.Mail(
            kind=item.action, project_name=project.name, colour=project.widget.primary_color, locale="en",
            lines=tuple(compose.Line(who=session.label() if m.sender == "visitor" else "AI" if m.sender == "ai"
                                     else (m.operator_name or "Operator"), text=m.text, at=m.created_at)
                        for m in unanswered if m.deleted_at is None),
            sender=self.sender, to=operator.email,
            message_id=f"<pp.{item.id}.{operator.id.lower()}@{self.sender.domain}>",
            date=self.clock.now(), continue_url=f"{base}/inbox#{session.id}" if base else None,
            unsubscribe_url=f"{base}/email/unsubscribe?t={tokens.issue_unsubscribe(keyring, operator.id)}"
            if base else None)
        message = compose.build(mail)
        await smtp.send(self.server, message, timeout=self.settings.smtp_timeout_seconds)
        return {"sent": True, "messages": len(mail.lines), "messageId": message["Message-ID"]}

    def _compose(self, item: OutboxItem, project: Project, session: Session, email: str,
                 lines: list[Message]) -> Any:
        keyring = self.db.keyring
        locale = visitor_locale(project, session.metadata)
        expires = int((self.clock.now() + timedelta(days=RESUME_DAYS)).timestamp())
        resume = tokens.issue_resume(keyring, project.id, session.id, session.visitor_id, expires)
        base = self.settings.public_base()
        unsubscribe = (f"{base}/email/unsubscribe?t={tokens.issue_unsubscribe(keyring, session.id)}"
                       if base else None)
        reply_to = None
        if self.settings.reply_domain:
            reply_to = f"reply+{reply_token(keyring, session.id)}@{self.settings.reply_domain}"
        operator = project.widget.operator_name
        mail = compose.Mail(
            kind=item.action, project_name=project.name, colour=project.widget.primary_color, locale=locale,
            lines=tuple(compose.Line(who="visitor" if m.sender == "visitor" else (m.operator_name or operator),
                                     text=m.text, at=m.created_at) for m in lines),
            sender=self.sender, to=email, message_id=f"<pp.{item.id}.{session.id.lower()}@{self.sender.domain}>",
            date=self.clock.now(), continue_url=continue_url(session.metadata.get("url"), resume),
            unsubscribe_url=unsubscribe, reply_to=reply_to)
        return compose.build(mail)
