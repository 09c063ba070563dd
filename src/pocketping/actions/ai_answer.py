"""Answering a session whose AI timer is due: claim it, ask the model, post the answer.

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
import logging
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from pocketping.actions.messages import send_ai_message
from pocketping.actions.unit import unit_of_work
from pocketping.ai import providers
from pocketping.ai.prompt import Prompt, Turn, clean_answer, conversation, question, system_prompt
from pocketping.ai.retrieval import retrieve
from pocketping.core.ai import AISettings
from pocketping.core.models import Session
from pocketping.hub import Event
from pocketping.services import Services
from pocketping.store import ai as repo
from pocketping.store import projects as project_repo
from pocketping.store import sessions as session_repo
from pocketping.store.ai import Claim
from pocketping.store.db import Tx

log = logging.getLogger(__name__)

# Longer than the longest model timeout (300 s): a lease only runs out when a worker died.
LEASE_SECONDS = 360
HISTORY_MESSAGES = 80
MAX_ANSWER_CHARS = 4000


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


@dataclass(frozen=True)
class _Context:
    settings: AISettings
    session: Session
    project_name: str
    prompt: Prompt | None
    usage: dict[str, Any]
    api_key: str | None


def _still_wanted(session: Session, claim: Claim) -> bool:
    return session.ai_enabled and session.status == "active" and session.ai_due_at == claim.lease


def note_event(session: Session, code: str, text: str) -> Event:
    """A line for the team's threads (bridges, inbox) about the AI; never shown to the visitor."""
    return Event("ai.note", session.project_id, session.id,
                 data={"session": session.to_api(), "code": code, "text": text}, origin="ai")


async def _context(svc: Services, claim: Claim) -> _Context | None:
    async with svc.db.read() as tx:
        session = await session_repo.find_session(tx, claim.project_id, claim.session_id)
        project = await project_repo.find_project(tx, claim.project_id)
        if session is None or project is None:
            return None
        settings = await repo.get_settings(tx, claim.project_id)
        usage = await repo.usage(tx, claim.project_id, repo.day_of(tx.now))
        history = await session_repo.list_items(tx, session.id, after_seq=max(0, session.last_seq - HISTORY_MESSAGES),
                                                limit=HISTORY_MESSAGES + 1, kinds=("message",))
        turns = conversation(history, settings.history_tokens)
        prompt = None
        if turns:
            hits = await retrieve(tx, claim.project_id, question(turns), token_budget=settings.knowledge_tokens)
            prompt = Prompt(system_prompt(project.name, settings.system_prompt, hits), turns, tuple(hits))
        key = await repo.api_key(tx, claim.project_id) if settings.has_api_key else None
    return _Context(settings, session, project.name, prompt, usage, key)


async def _release(svc: Services, claim: Claim, *, note: tuple[str, str] | None = None,
                   turn_off: bool = False) -> None:
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
        if note is not None:
            tx.emit(note_event(session, *note))


async def answer(svc: Services, claim: Claim) -> str:
    """Answer one claimed session. Returns what happened: ``answered``, ``fallback``,
    ``failed``, ``superseded``, ``capped``, ``off``, ``nothing_to_answer`` or ``gone``."""
    ctx = await _context(svc, claim)
    if ctx is None:
        return "gone"
    settings, session = ctx.settings, ctx.session
    if not settings.enabled or not _still_wanted(session, claim):
        await _release(svc, claim)
        return "off"
    cap = settings.max_replies_per_session
    if cap and session.ai_reply_count >= cap:
        await _release(svc, claim, turn_off=True, note=(
            "session_limit", f"The AI reached its limit of {cap} replies in this conversation and is now off "
                             "for it; '/ai on' turns it back on."))
        return "capped"
    daily = settings.max_replies_per_day
    if daily and ctx.usage["replies"] >= daily:
        await _release(svc, claim, note=(
            "daily_limit", f"The AI reached the project's limit of {daily} replies today and did not answer."))
        return "capped"
    if ctx.prompt is None or not settings.model:
        await _release(svc, claim)
        return "nothing_to_answer"
    day = repo.day_of(svc.clock.now())
    with contextlib.suppress(IntegrityError):  # another worker created the day's row first
        async with svc.db.transaction() as tx:
            await repo.ensure_usage_row(tx, claim.project_id, day)
    _typing(svc, session, True)
    try:
        reply = await providers.complete(
            settings.provider, settings.base_url or _default_base(svc, settings.provider), settings.model,
            ctx.prompt, api_key=ctx.api_key or _env_key(settings), max_tokens=settings.max_answer_tokens,
            temperature=settings.temperature, timeout=settings.timeout_seconds,
            allow_private=svc.settings.allow_private_urls)
    except providers.ModelError as exc:
        return await _failed(svc, claim, settings, exc, day)
    finally:
        _typing(svc, session, False)
    text = clean_answer(reply.text, min(MAX_ANSWER_CHARS, svc.settings.max_text_chars))
    if not text:
        return await _failed(svc, claim, settings, providers.ModelError(
            "the model's answer had no printable text", code="model_empty_answer"), day)
    try:
        await send_ai_message(svc, claim.project_id, claim.session_id, text,
                              before_insert=_settle(claim, day, replies=1))
    except Superseded:
        log.info("AI answer for %s dropped: the conversation moved on while the model was thinking",
                 claim.session_id)
        return "superseded"
    return "answered"


async def give_up(svc: Services, claim: Claim) -> None:
    """After an unexpected crash: drop the claim (rather than retry the same crash forever)
    and tell the team."""
    await _release(svc, claim, note=("internal_error", "The AI could not answer because of an internal error; "
                                                       "see the server's log."))


def _settle(claim: Claim, day: str, *, replies: int = 0, errors: int = 0, error: str | None = None,
            note: tuple[str, str] | None = None) -> Any:
    """The bookkeeping that must commit with the AI's message (or not at all)."""
    async def hook(tx: Tx, session: Session) -> None:
        if not _still_wanted(session, claim):
            raise Superseded
        await repo.set_due(tx, session.id, None)
        if replies:
            await repo.count_reply(tx, session.id)
        await repo.count_usage(tx, claim.project_id, day, replies=replies, errors=errors)
        if error is not None:
            await repo.record_error(tx, claim.project_id, error)
        if note is not None:
            tx.emit(note_event(session, *note))

    return hook


async def _failed(svc: Services, claim: Claim, settings: AISettings, exc: providers.ModelError, day: str) -> str:
    error = f"{exc.code}: {exc.message}"
    log.warning("AI fallback for project %s failed: %s", claim.project_id, error)
    fallback = settings.fallback_message
    told = f"The AI could not answer ({error[:300]})."
    if fallback and not await _fallback_already_sent(svc, claim, fallback):
        note = ("model_error", f"{told} The visitor was told someone will get back to them.")
        try:
            await send_ai_message(svc, claim.project_id, claim.session_id, fallback,
                                  before_insert=_settle(claim, day, replies=1, errors=1, error=error, note=note))
            return "fallback"
        except Superseded:
            return "superseded"
    async with unit_of_work(svc) as tx:
        session = await session_repo.find_session(tx, claim.project_id, claim.session_id)
        if session is None or not _still_wanted(session, claim):
            return "superseded"
        await _settle(claim, day, errors=1, error=error, note=("model_error", told))(tx, session)
    return "failed"


async def _fallback_already_sent(svc: Services, claim: Claim, fallback: str) -> bool:
    """One apology per wait: not again if the AI's latest line, with no operator since, is it."""
    async with svc.db.read() as tx:
        session = await session_repo.find_session(tx, claim.project_id, claim.session_id)
        if session is None:
            return False
        recent = await session_repo.list_items(tx, session.id, after_seq=max(0, session.last_seq - 20), limit=21,
                                               kinds=("message",))
    for item in reversed(recent):
        if item.sender == "operator":
            return False
        if item.sender == "ai":
            return item.text == fallback
    return False


def _typing(svc: Services, session: Session, active: bool) -> None:
    frame = {"type": "typing", "sender": "ai", "active": active, "operatorName": "AI"}
    svc.hub.publish(Event("ai.typing", session.project_id, session.id, data={"active": active},
                          widget_frame=frame, origin="ai"))


def _default_base(svc: Services, provider: str) -> str:
    return svc.settings.anthropic_api_url if provider == "anthropic" else svc.settings.openai_api_url


def _env_key(settings: AISettings) -> str | None:
    value = os.environ.get(settings.key_env(), "").strip()
    return value or None


async def ask(svc: Services, project_id: str, text: str) -> tuple[str, Prompt]:
    """One question straight to the model with the project's settings and knowledge base (for
    ``pocketping ai test``): checks the whole set-up without a visitor. Raises ModelError."""
    async with svc.db.read() as tx:
        project = await project_repo.get_project(tx, project_id)
        settings = await repo.get_settings(tx, project_id)
        turns = (Turn("user", text.strip()[: settings.history_tokens * 4]),)
        hits = await retrieve(tx, project_id, question(turns), token_budget=settings.knowledge_tokens)
        key = await repo.api_key(tx, project_id) if settings.has_api_key else None
    if not settings.model:
        raise providers.ModelError("no model set: pocketping ai set PROJECT_ID --model ...", code="model_required")
    prompt = Prompt(system_prompt(project.name, settings.system_prompt, hits), turns, tuple(hits))
    reply = await providers.complete(
        settings.provider, settings.base_url or _default_base(svc, settings.provider), settings.model, prompt,
        api_key=key or _env_key(settings), max_tokens=settings.max_answer_tokens, temperature=settings.temperature,
        timeout=settings.timeout_seconds, allow_private=svc.settings.allow_private_urls)
    return clean_answer(reply.text, min(MAX_ANSWER_CHARS, svc.settings.max_text_chars)), prompt
