"""What answering a conversation needs, read and asked: the conversation, the knowledge it
touches, the prompt, and the model's reply. No state changes here (the actions make them)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from pocketping.ai import providers
from pocketping.ai.prompt import Prompt, Turn, clean_answer, conversation, question, system_prompt
from pocketping.ai.retrieval import search
from pocketping.ai.text import terms
from pocketping.config import Settings
from pocketping.core.ai import AISettings, KbHit, limit_reached
from pocketping.core.ai_copy import asks_for_person, citations, handoff_text, is_small_talk
from pocketping.core.models import Message, Session
from pocketping.core.widget_text import visitor_locale
from pocketping.store import ai as repo
from pocketping.store import kb as kb_repo
from pocketping.store import projects as project_repo
from pocketping.store import sessions as session_repo
from pocketping.store.ai import Claim
from pocketping.store.db import Database

HISTORY_MESSAGES = 80
MAX_ANSWER_CHARS = 4000


@dataclass(frozen=True)
class AnswerContext:
    settings: AISettings
    session: Session
    project_name: str
    prompt: Prompt | None
    usage: dict[str, Any]
    api_key: str | None
    locale: str = "en"  # the visitor's (for the lines the AI says without the model)
    handoff: str | None = None  # "visitor_asked" or "no_answer": a person takes over, the model is not asked
    handoff_text: str = ""  # what the visitor reads when a person takes over


async def load_context(db: Database, claim: Claim, app: Settings | None = None) -> AnswerContext | None:
    """The claimed conversation and what the model should be asked (None: erased). With
    ``app`` (the server's settings), retrieval is hybrid when the project has an embeddings model."""
    async with db.read() as tx:
        session = await session_repo.find_session(tx, claim.project_id, claim.session_id)
        project = await project_repo.find_project(tx, claim.project_id)
        if session is None or project is None:
            return None
        settings = await repo.get_settings(tx, claim.project_id)
        usage = await repo.usage(tx, claim.project_id, repo.day_of(tx.now))
        history = await session_repo.list_items(tx, session.id, after_seq=max(0, session.last_seq - HISTORY_MESSAGES),
                                                limit=HISTORY_MESSAGES + 1, kinds=("message",))
        turns = conversation(history, settings.history_tokens)
        key = await repo.api_key(tx, claim.project_id) if settings.has_api_key else None
        has_kb = settings.knowledge_tokens > 0 and (await kb_repo.corpus_stats(tx, claim.project_id))[0] > 0
    locale = visitor_locale(project, session.metadata)
    text = handoff_text(locale, has_email=bool(session.identity and session.identity.email),
                        mail_ready=app is not None and app.mail_ready())
    if turns and any(asks_for_person(m.text) for m in waiting(history)):
        return AnswerContext(settings, session, project.name, None, usage, key, locale, "visitor_asked", text)
    prompt = None
    handoff = None
    if turns and limit_reached(settings, session.ai_reply_count, usage) is None:  # nothing spent past a limit
        asked = question(turns)
        # A greeting or thanks alone ("good morning", "merci !") gets a short friendly answer:
        # no passage to look for, and no hand-off for want of one.
        small_talk = is_small_talk(turns[-1].content)
        hits = [] if small_talk else relevant(await search(
            db, app, claim.project_id, asked, token_budget=settings.knowledge_tokens, settings=settings,
            api_key=key, focus=turns[-1].content[-2000:]), settings.min_relevance)
        prompt = Prompt(system_prompt(project.name, settings.system_prompt, hits, small_talk=small_talk), turns,
                        tuple(hits))
        if has_kb and not hits and not small_talk and terms(asked):
            # Nothing in the knowledge base speaks of a real question: say so and call a person, never guess.
            handoff = "no_answer"
    return AnswerContext(settings, session, project.name, prompt, usage, key, locale, handoff,
                         settings.no_answer_text if handoff == "no_answer" else text)


def waiting(history: list[Message]) -> list[Message]:
    """The visitor's messages since the last word of the team or the AI."""
    out: list[Message] = []
    for message in reversed(history):
        if message.kind != "message" or message.deleted_at is not None:
            continue
        if message.sender != "visitor":
            break
        out.append(message)
    return out


def relevant(hits: list[KbHit], threshold: float) -> list[KbHit]:
    """The retrieved chunks that speak of enough of the question (``AISettings.min_relevance``)."""
    return [hit for hit in hits if hit.relevance >= threshold]


def with_citations(answer: str, hits: tuple[KbHit, ...], locale: str, max_chars: int) -> str:
    """The answer, then the links to the pages its knowledge came from (each page once)."""
    line = citations(locale, [(hit.title, hit.location) for hit in hits])
    if not line:
        return answer
    room = max_chars - len(line) - 2
    if room < 40:
        return answer
    return f"{clean_answer(answer, room)}\n\n{line}"


def _default_base(app: Settings, provider: str) -> str:
    return app.anthropic_api_url if provider == "anthropic" else app.openai_api_url


def _env_key(settings: AISettings) -> str | None:
    value = os.environ.get(settings.key_env(), "").strip()
    return value or None


@dataclass(frozen=True)
class Answer:
    text: str  # clean text, possibly empty
    handoff: str | None = None  # the model called handoff_to_human (with this reason, maybe "")


async def respond(app: Settings, settings: AISettings, prompt: Prompt, api_key: str | None,
                  locale: str = "en") -> Answer:
    """The model's answer, its citations appended, or its call for a person (OpenAI-compatible
    APIs: the ``handoff_to_human`` tool). Raises ``ModelError``."""
    reply = await providers.complete(
        settings.provider, settings.base_url or _default_base(app, settings.provider), settings.model or "", prompt,
        api_key=api_key or _env_key(settings), max_tokens=settings.max_answer_tokens,
        temperature=settings.temperature, timeout=settings.timeout_seconds, allow_private=app.allow_private_urls,
        tools=True)
    limit = min(MAX_ANSWER_CHARS, app.max_text_chars)
    text = clean_answer(reply.text, limit)
    if reply.handoff is not None:
        return Answer(text, reply.handoff)
    return Answer(with_citations(text, prompt.hits, locale, limit) if text else "")


async def fallback_already_sent(db: Database, claim: Claim, fallback: str) -> bool:
    """One apology per wait: not again if the AI's latest line, with no operator since, is it."""
    async with db.read() as tx:
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


async def ask(db: Database, app: Settings, project_id: str, text: str) -> tuple[str, Prompt]:
    """One question straight to the model with the project's settings and knowledge base (for
    ``pocketping ai test``): checks the whole set-up without a visitor. Raises ModelError."""
    async with db.read() as tx:
        project = await project_repo.get_project(tx, project_id)
        settings = await repo.get_settings(tx, project_id)
        turns = (Turn("user", text.strip()[: settings.history_tokens * 4]),)
        key = await repo.api_key(tx, project_id) if settings.has_api_key else None
    small_talk = is_small_talk(turns[0].content)
    hits = [] if small_talk else relevant(await search(
        db, app, project_id, question(turns), token_budget=settings.knowledge_tokens, settings=settings,
        api_key=key), settings.min_relevance)
    if not settings.model:
        raise providers.ModelError("no model set: pocketping ai set PROJECT_ID --model ...", code="model_required")
    prompt = Prompt(system_prompt(project.name, settings.system_prompt, hits, small_talk=small_talk), turns,
                    tuple(hits))
    answer = await respond(app, settings, prompt, key)
    if answer.handoff is not None:
        return f"(the model handed the conversation over to a person: {answer.handoff or 'no reason given'})", prompt
    return answer.text, prompt
