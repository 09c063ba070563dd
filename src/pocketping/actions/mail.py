"""Mail to visitors: unsubscribe (from a mail's link or its one-click header), ask for the
transcript, and answers to reply mails becoming visitor messages."""

from __future__ import annotations

import hashlib

from pocketping import ids, tokens
from pocketping.actions.messages import send_visitor_message
from pocketping.actions.requests import Sent
from pocketping.actions.services import Services
from pocketping.actions.unit import unit_of_work
from pocketping.core.models import Session
from pocketping.errors import InvalidInput, NotFound
from pocketping.mail.links import token_hash
from pocketping.mail.planner import queue_transcript
from pocketping.store import mail as repo
from pocketping.store import operators as operator_repo
from pocketping.store import sessions as session_repo


async def unsubscribe(svc: Services, token: object) -> bool:
    """Stop every mail to the visitor of the session the token names; True if it was subscribed."""
    session_id = tokens.read_unsubscribe(svc.db.keyring, token)
    if session_id is None:
        raise InvalidInput("this unsubscribe link is not valid", code="invalid_unsubscribe_link")
    async with unit_of_work(svc) as tx:
        if session_id.startswith(ids.OPERATOR + "_"):  # a mail to an operator: --notify none
            notify, _ = await operator_repo.notify_settings(tx, session_id)
            await operator_repo.set_notify(tx, session_id, notify=None)
            return notify is not None
        session = await session_repo.find_session_any_project(tx, session_id)
        if session is None:
            return False  # erased: nothing is mailed anyway
        recipient = await repo.ensure_recipient(tx, session.id, session.project_id)
        if recipient.unsubscribed_at is not None:
            return False
        await repo.update_recipient(tx, session.id, unsubscribed_at=tx.now, transcript_wanted=False)
        return True


async def request_transcript(svc: Services, project_id: str, session_id: str) -> str:
    """"Email me this conversation": mailed when the conversation closes (at once if it is closed).
    Returns the address it goes to."""
    if not svc.settings.mail_ready():
        raise InvalidInput("this server sends no mail (POCKETPING_SMTP_URL is not set)", code="mail_not_configured")
    async with unit_of_work(svc) as tx:
        session = await session_repo.get_session(tx, project_id, session_id, for_update=True)
        email = session.identity.email if session.identity else None
        if not email:
            raise NotFound("no email address is known for this conversation", code="no_email")
        recipient = await repo.ensure_recipient(tx, session.id, project_id)
        if recipient.unsubscribed_at is not None:
            await repo.update_recipient(tx, session.id, unsubscribed_at=None)  # asking again is consent again
        if session.status == "closed":
            await queue_transcript(tx, project_id, session.id)
        else:
            await repo.update_recipient(tx, session.id, transcript_wanted=True)
        return email


async def find_reply_session(svc: Services, token: str) -> Session | None:
    """The conversation a reply address's token names (only tokens this server mailed exist)."""
    async with svc.db.read() as tx:
        recipient = await repo.find_by_reply_token_hash(tx, token_hash(token))
        if recipient is None:
            return None
        return await session_repo.find_session_any_project(tx, recipient.session_id)


async def receive_reply(svc: Services, session: Session, text: str, message_id: str | None) -> Sent:
    """An answer to a reply mail: a visitor message in that conversation (reopened if closed),
    mirrored like any other. The same mail delivered twice is stored once (by its Message-ID)."""
    client_id = "mail:" + hashlib.sha256(message_id.encode()).hexdigest()[:40] if message_id else None
    return await send_visitor_message(svc, session.project_id, session.id, text, client_id, source="email")
