"""AI settings, daily usage, and the durable timer (``sessions.ai_due_at``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, or_, select, update

from pocketping.core.ai import AISettings, Tokens, settings_from_row
from pocketping.core.models import Session, iso
from pocketping.store.db import Tx
from pocketping.store.schema import ai_settings, ai_usage, messages, sessions


async def find_settings(tx: Tx, project_id: str) -> AISettings | None:
    row = (await tx.conn.execute(select(ai_settings).where(ai_settings.c.project_id == project_id))).mappings().first()
    return settings_from_row(dict(row)) if row else None


async def get_settings(tx: Tx, project_id: str) -> AISettings:
    return await find_settings(tx, project_id) or AISettings(project_id=project_id)


async def api_key(tx: Tx, project_id: str) -> str | None:
    value = (await tx.conn.execute(select(ai_settings.c.api_key)
                                   .where(ai_settings.c.project_id == project_id))).scalar()
    return tx.decrypt(value) if value else None


async def save_settings(tx: Tx, settings: AISettings, *, api_key: str | None = None,
                        clear_api_key: bool = False) -> None:
    values: dict[str, Any] = {
        "enabled": settings.enabled, "delay_seconds": settings.delay_seconds, "provider": settings.provider,
        "model": settings.model, "base_url": settings.base_url, "api_key_env": settings.api_key_env,
        "system_prompt": settings.system_prompt, "options": settings.options(), "updated_at": tx.now,
    }
    if api_key is not None:
        values["api_key"] = tx.encrypt(api_key)
    elif clear_api_key:
        values["api_key"] = None
    result = await tx.conn.execute(update(ai_settings).where(ai_settings.c.project_id == settings.project_id)
                                   .values(**values))
    if result.rowcount == 0:
        values.setdefault("api_key", None)
        await tx.conn.execute(ai_settings.insert().values(project_id=settings.project_id, **values))


async def record_error(tx: Tx, project_id: str, message: str) -> None:
    await tx.conn.execute(update(ai_settings).where(ai_settings.c.project_id == project_id)
                          .values(last_error=message[:2000], last_error_at=tx.now))


# --- usage ------------------------------------------------------------------------------------

def day_of(when: datetime) -> str:
    return when.strftime("%Y-%m-%d")


async def ensure_usage_row(tx: Tx, project_id: str, day: str) -> None:
    """Create the day's row (run it in a transaction of its own and ignore an IntegrityError
    from a racing worker), so that counting later is a plain UPDATE."""
    exists = (await tx.conn.execute(select(ai_usage.c.replies).where(
        ai_usage.c.project_id == project_id, ai_usage.c.day == day))).first()
    if exists is None:
        await tx.conn.execute(ai_usage.insert().values(project_id=project_id, day=day, replies=0, errors=0,
                                                       input_tokens=0, output_tokens=0, embedding_tokens=0))


_USAGE = (ai_usage.c.day, ai_usage.c.replies, ai_usage.c.errors, ai_usage.c.input_tokens, ai_usage.c.output_tokens,
          ai_usage.c.embedding_tokens, ai_usage.c.limit_told_at)


def _usage_of(day: str, row: Any | None) -> dict[str, Any]:
    if row is None:
        return {"day": day, "replies": 0, "errors": 0, "tokens": 0, "inputTokens": 0, "outputTokens": 0,
                "embeddingTokens": 0, "limitToldAt": None}
    tokens = Tokens(int(row[3]), int(row[4]), int(row[5]))
    return {"day": day, "replies": int(row[1]), "errors": int(row[2]), "tokens": tokens.total,
            "inputTokens": tokens.input, "outputTokens": tokens.output, "embeddingTokens": tokens.embedding,
            "limitToldAt": iso(row[6])}


async def usage(tx: Tx, project_id: str, day: str) -> dict[str, Any]:
    """The day's counts: replies, errors, tokens (input + output + embedding) and each kind."""
    row = (await tx.conn.execute(select(*_USAGE).where(
        ai_usage.c.project_id == project_id, ai_usage.c.day == day))).first()
    return _usage_of(day, row)


async def usage_by_day(tx: Tx, project_id: str, days: list[str]) -> list[dict[str, Any]]:
    """``usage`` for each of ``days`` (days without a row count zero), in the order given."""
    rows = (await tx.conn.execute(select(*_USAGE).where(
        ai_usage.c.project_id == project_id, ai_usage.c.day.in_(days)))).all()
    found = {r[0]: r for r in rows}
    return [_usage_of(day, found.get(day)) for day in days]


async def count_usage(tx: Tx, project_id: str, day: str, *, replies: int = 0, errors: int = 0,
                      tokens: Tokens | None = None) -> None:
    """Add to the day's row (made first by ``ensure_usage_row``)."""
    tokens = tokens or Tokens()
    await tx.conn.execute(update(ai_usage).where(ai_usage.c.project_id == project_id, ai_usage.c.day == day)
                          .values(replies=ai_usage.c.replies + replies, errors=ai_usage.c.errors + errors,
                                  input_tokens=ai_usage.c.input_tokens + tokens.input,
                                  output_tokens=ai_usage.c.output_tokens + tokens.output,
                                  embedding_tokens=ai_usage.c.embedding_tokens + tokens.embedding))


async def tell_limit_once(tx: Tx, project_id: str, day: str) -> bool:
    """True for the first caller of the day (the one that tells the team the AI stopped): one
    conditional UPDATE, so two workers cannot both tell."""
    result = await tx.conn.execute(update(ai_usage).where(
        ai_usage.c.project_id == project_id, ai_usage.c.day == day, ai_usage.c.limit_told_at.is_(None),
    ).values(limit_told_at=tx.now))
    return bool(result.rowcount)


# --- the timer --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Claim:
    """A due session this worker now owns until ``lease`` (the value it wrote to ai_due_at)."""

    session_id: str
    project_id: str
    lease: datetime


def still_wanted(session: Session, claim: Claim) -> bool:
    """The session still wants the AI's answer this claim is for."""
    return session.ai_enabled and session.status == "active" and session.ai_due_at == claim.lease


async def set_due(tx: Tx, session_id: str, due: datetime | None) -> None:
    await tx.conn.execute(update(sessions).where(sessions.c.id == session_id).values(ai_due_at=due))


async def clear_project_timers(tx: Tx, project_id: str) -> None:
    await tx.conn.execute(update(sessions).where(
        sessions.c.project_id == project_id, sessions.c.ai_due_at.is_not(None)).values(ai_due_at=None))


async def silence(tx: Tx, session_id: str) -> bool:
    """An operator replied: cancel the timer and turn the AI off. True if it was on."""
    result = await tx.conn.execute(update(sessions).where(
        sessions.c.id == session_id, or_(sessions.c.ai_enabled.is_(True), sessions.c.ai_due_at.is_not(None)),
    ).values(ai_enabled=False, ai_due_at=None))
    return bool(result.rowcount)


async def due_sessions(tx: Tx, now: datetime, limit: int) -> list[tuple[str, str, datetime]]:
    rows = (await tx.conn.execute(
        select(sessions.c.id, sessions.c.project_id, sessions.c.ai_due_at)
        .where(sessions.c.ai_due_at.is_not(None), sessions.c.ai_due_at <= now)
        .order_by(sessions.c.ai_due_at, sessions.c.id).limit(limit))).all()
    return [(r[0], r[1], r[2]) for r in rows]


async def claim(tx: Tx, session_id: str, seen_due: datetime, lease: datetime) -> bool:
    """Take a due session: only one worker's conditional UPDATE can match ``seen_due``."""
    result = await tx.conn.execute(update(sessions).where(
        sessions.c.id == session_id, sessions.c.ai_due_at == seen_due).values(ai_due_at=lease))
    return bool(result.rowcount)


async def release(tx: Tx, session_id: str, lease: datetime, due: datetime | None = None) -> bool:
    """Give a claim back (``due=None``: nothing more to do), unless the timer moved meanwhile."""
    result = await tx.conn.execute(update(sessions).where(
        sessions.c.id == session_id, sessions.c.ai_due_at == lease).values(ai_due_at=due))
    return bool(result.rowcount)


async def next_due(tx: Tx) -> datetime | None:
    value: datetime | None = (await tx.conn.execute(
        select(func.min(sessions.c.ai_due_at)).where(sessions.c.ai_due_at.is_not(None)))).scalar()
    if value is not None and value.tzinfo is None:  # should func.min ever lose the column type
        value = value.replace(tzinfo=UTC)
    return value


async def count_reply(tx: Tx, session_id: str) -> None:
    await tx.conn.execute(update(sessions).where(sessions.c.id == session_id)
                          .values(ai_reply_count=sessions.c.ai_reply_count + 1))


async def reset_reply_count(tx: Tx, session_id: str) -> None:
    await tx.conn.execute(update(sessions).where(sessions.c.id == session_id).values(ai_reply_count=0))


async def last_chat_message(tx: Tx, session_id: str) -> tuple[str, datetime] | None:
    """(sender, created_at) of the session's latest chat message."""
    row = (await tx.conn.execute(select(messages.c.sender, messages.c.created_at).where(
        messages.c.session_id == session_id, messages.c.kind == "message")
        .order_by(messages.c.seq.desc()).limit(1))).first()
    return (row[0], row[1]) if row else None
