"""Mail to visitors: unsubscribe (from a mail's link or its one-click header), ask for the transcript."""

from __future__ import annotations

from pocketping import tokens
from pocketping.actions.services import Services
from pocketping.actions.unit import unit_of_work
from pocketping.errors import InvalidInput, NotFound
from pocketping.mail.planner import queue_transcript
from pocketping.store import mail as repo
from pocketping.store import sessions as session_repo


async def unsubscribe(svc: Services, token: object) -> bool:
    """Stop every mail to the visitor of the session the token names; True if it was subscribed."""
    session_id = tokens.read_unsubscribe(svc.db.keyring, token)
    if session_id is None:
        raise InvalidInput("this unsubscribe link is not valid", code="invalid_unsubscribe_link")
    async with unit_of_work(svc) as tx:
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
