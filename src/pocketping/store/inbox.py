"""What the web inbox lists: conversations across an operator's projects, in few queries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from pocketping.core.models import Message, Session
from pocketping.store.db import Tx
from pocketping.store.schema import messages, projects, sessions
from pocketping.store.sessions import _message, page_by_activity


async def list_conversations(tx: Tx, project_ids: tuple[str, ...], *, status: str, limit: int,
                             before: tuple[datetime, str] | None) -> list[Session]:
    """Sessions in which the visitor has written, most recently active first.

    A widget opens a session on every first page view; until the visitor writes there is
    nothing to answer, so those stay out of the inbox.
    """
    if not project_ids:
        return []
    query = select(sessions).where(sessions.c.project_id.in_(project_ids), sessions.c.status == status,
                                   sessions.c.first_message_at.is_not(None))
    return await page_by_activity(tx, query, limit=limit, before=before)


async def unread_counts(tx: Tx, session_ids: list[str]) -> dict[str, int]:
    """Visitor messages after each session's operator read mark."""
    if not session_ids:
        return {}
    query = (select(messages.c.session_id, func.count())
             .select_from(messages.join(sessions, sessions.c.id == messages.c.session_id))
             .where(messages.c.session_id.in_(session_ids), messages.c.kind == "message",
                    messages.c.sender == "visitor", messages.c.seq > sessions.c.operator_read_seq)
             .group_by(messages.c.session_id))
    return {row[0]: int(row[1]) for row in await tx.conn.execute(query)}


async def last_messages(tx: Tx, session_ids: list[str]) -> dict[str, Message]:
    """Each session's latest chat message (not notices or events)."""
    if not session_ids:
        return {}
    inner = aliased(messages)
    latest = (select(func.max(inner.c.seq)).where(inner.c.session_id == messages.c.session_id,
                                                  inner.c.kind == "message")
              .scalar_subquery())
    query = select(messages).where(messages.c.session_id.in_(session_ids), messages.c.kind == "message",
                                   messages.c.seq == latest)
    return {row["session_id"]: _message(tx, row) for row in (await tx.conn.execute(query)).mappings()}


async def project_names(tx: Tx, project_ids: tuple[str, ...]) -> dict[str, str]:
    if not project_ids:
        return {}
    rows = await tx.conn.execute(select(projects.c.id, projects.c.name).where(projects.c.id.in_(project_ids)))
    return {row[0]: row[1] for row in rows}
