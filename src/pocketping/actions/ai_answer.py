"""The AI fallback's state changes: claim a due session, post the answer (or the fallback
line), count it, release the claim. The worker (``pocketping.workers.ai``) asks the model in
between and calls these.

Exactly once, with any number of workers: a worker *claims* a due session with a
conditional UPDATE that moves ``ai_due_at`` from the value it saw to a lease (only one
UPDATE can match), and posts the answer only if, in the answer's own transaction,
``ai_due_at`` still holds its lease and the AI is still on. An operator reply or a new
visitor message meanwhile changes ``ai_due_at``, so the stale answer is dropped (a new
visitor message gets its own, later answer). A worker that dies mid-call leaves the lease
to expire; then another worker answers.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from pocketping.actions.messages import send_ai_message
from pocketping.actions.services import Services
from pocketping.actions.unit import unit_of_work
from pocketping.core.ai import Tokens
from pocketping.core.models import Session
from pocketping.hub import Event
from pocketping.store import ai as repo
from pocketping.store import sessions as session_repo
from pocketping.store.ai import Claim, still_wanted
from pocketping.store.db import Tx

# Longer than the longest model timeout (300 s): a lease only runs out when a worker died.
LEASE_SECONDS = 360


class Superseded(Exception):
    """The answer is no longer wanted: an operator replied, the visitor wrote again, or the AI
    was turned off while the model was thinking."""


async def claim_due(svc: Services, limit: int = 20) -> list[Claim]:
    claims: list[Claim] = []
    async with svc.db.transaction() as tx:
        lease = tx.now + timedelta(seconds=LEASE_SECONDS)
        for session_id, project_id, seen in await repo.due_sessions(tx, tx.now, limit):
            if await repo.claim(tx, session_id, seen, lease):
                claims.append(Claim(session_id, project_id, lease))
    return claims


def note_event(session: Session, code: str, text: str) -> Event:
    """A line for the team's threads (bridges, inbox) about the AI; never shown to the visitor."""
    return Event("ai.note", session.project_id, session.id,
                 data={"session": session.to_api(), "code": code, "text": text}, origin="ai")


async def release(svc: Services, claim: Claim, *, note: tuple[str, str] | None = None,
                  turn_off: bool = False, once_on: str | None = None) -> None:
    """Drop the claim without answering (the AI is off, capped, or has nothing to answer).
    ``once_on`` (a day, whose usage row exists): the note is sent only by the day's first caller."""
    async with unit_of_work(svc) as tx:
        if not await repo.release(tx, claim.session_id, claim.lease):
            return
        session = await session_repo.get_session(tx, claim.project_id, claim.session_id)
        if turn_off:
            await repo.silence(tx, session.id)
            session = await session_repo.get_session(tx, claim.project_id, claim.session_id)
            tx.emit(Event("session.ai_changed", claim.project_id, session.id,
                          data={"session": session.to_api(), "aiEnabled": False, "reason": "reply_limit"},
                          origin="ai"))
        if note is not None and (once_on is None or await repo.tell_limit_once(tx, claim.project_id, once_on)):
            tx.emit(note_event(session, *note))


async def give_up(svc: Services, claim: Claim) -> None:
    """After an unexpected crash: drop the claim (rather than retry the same crash forever)
    and tell the team."""
    await release(svc, claim, note=("internal_error", "The AI could not answer because of an internal error; "
                                                      "see the server's log."))


async def ensure_usage_row(svc: Services, project_id: str, day: str) -> None:
    with contextlib.suppress(IntegrityError):  # another worker created the day's row first
        async with svc.db.transaction() as tx:
            await repo.ensure_usage_row(tx, project_id, day)


async def record_tokens(svc: Services, project_id: str, day: str, tokens: Tokens) -> None:
    """Tokens spent on no answer (one that was superseded): counted all the same."""
    await ensure_usage_row(svc, project_id, day)
    async with svc.db.transaction() as tx:
        await repo.count_usage(tx, project_id, day, tokens=tokens)


def _settle(claim: Claim, day: str, *, replies: int = 0, errors: int = 0, error: str | None = None,
            note: tuple[str, str] | None = None, tokens: Tokens | None = None) -> Any:
    """The bookkeeping that must commit with the AI's message (or not at all)."""
    async def hook(tx: Tx, session: Session) -> None:
        if not still_wanted(session, claim):
            raise Superseded
        await repo.set_due(tx, session.id, None)
        if replies:
            await repo.count_reply(tx, session.id)
        await repo.count_usage(tx, claim.project_id, day, replies=replies, errors=errors, tokens=tokens)
        if error is not None:
            await repo.record_error(tx, claim.project_id, error)
        if note is not None:
            tx.emit(note_event(session, *note))

    return hook


async def post_answer(svc: Services, claim: Claim, text: str, day: str, *, errors: int = 0, error: str | None = None,
                      note: tuple[str, str] | None = None, tokens: Tokens | None = None) -> None:
    """The AI's message, counted (and the ``tokens`` it cost) in the same transaction. Raises
    ``Superseded``."""
    await send_ai_message(svc, claim.project_id, claim.session_id, text,
                          before_insert=_settle(claim, day, replies=1, errors=errors, error=error, note=note,
                                                tokens=tokens))


async def record_failure(svc: Services, claim: Claim, day: str, error: str, note: tuple[str, str], *,
                         tokens: Tokens | None = None) -> bool:
    """The model failed and nothing is said to the visitor; False if the answer was no longer wanted."""
    async with unit_of_work(svc) as tx:
        session = await session_repo.find_session(tx, claim.project_id, claim.session_id)
        if session is None or not still_wanted(session, claim):
            return False
        await _settle(claim, day, errors=1, error=error, note=note, tokens=tokens)(tx, session)
    return True


HANDOFF_REASONS = ("visitor_asked", "no_answer", "model")


async def hand_off(svc: Services, claim: Claim, text: str, day: str, reason: str, *, detail: str = "",
                   tokens: Tokens | None = None) -> None:
    """A person takes over: the AI's last line (``text``) to the visitor, the AI off for the
    conversation (stored), and ``session.ai_changed`` with ``reason: "handoff"`` for the team's
    threads and the operators' mail, all in one transaction (with the ``tokens`` the model's
    call for a person cost). Raises ``Superseded``."""
    assert reason in HANDOFF_REASONS

    async def hook(tx: Tx, session: Session) -> None:
        await _settle(claim, day, replies=1, tokens=tokens)(tx, session)
        await repo.silence(tx, session.id)
        after = await session_repo.get_session(tx, claim.project_id, claim.session_id)
        tx.emit(Event("session.ai_changed", claim.project_id, session.id,
                      data={"session": after.to_api(), "aiEnabled": False, "reason": "handoff",
                            "handoff": reason, "detail": detail[:300]}, origin="ai"))

    await send_ai_message(svc, claim.project_id, claim.session_id, text, before_insert=hook)
