"""What the web inbox lists: conversations across an operator's projects, in few queries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from pocketping.core import search as words_
from pocketping.core.models import Message, Session
from pocketping.store import search
from pocketping.store.db import Tx
from pocketping.store.schema import messages, projects, sessions
from pocketping.store.sessions import _message, _session, page_by_activity


async def list_conversations(tx: Tx, project_ids: tuple[str, ...], *, status: str, limit: int,
                             before: tuple[datetime, str] | None, assignee: str | None = None,
                             unassigned: bool = False, sort: str = "activity") -> list[Session]:
    """Sessions in which the visitor has written, most recently active first (or, with
    ``sort="waiting"``, the longest-waiting first, then the rest by activity; one page).

    A widget opens a session on every first page view; until the visitor writes there is
    nothing to answer, so those stay out of the inbox.
    """
    if not project_ids:
        return []
    query = select(sessions).where(sessions.c.project_id.in_(project_ids), sessions.c.status == status,
                                   sessions.c.first_message_at.is_not(None))
    if assignee is not None:
        query = query.where(sessions.c.assignee_id == assignee)
    if unassigned:
        query = query.where(sessions.c.assignee_id.is_(None))
    if sort == "waiting":
        query = query.order_by(sessions.c.waiting_since.is_(None), sessions.c.waiting_since,
                               sessions.c.last_activity.desc(), sessions.c.id.desc()).limit(limit)
        return [_session(tx, r) for r in (await tx.conn.execute(query)).mappings()]
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


async def same_person(tx: Tx, project_ids: tuple[str, ...], session: Session, limit: int = 20) -> list[Session]:
    """Other sessions whose visitor has the same email (or the same identified user id with an
    email on both), most recently active first."""
    identity = session.identity
    if identity is None or not identity.email:
        return []
    email = identity.email.casefold()
    candidates = await search.identity_candidates(tx, project_ids, words_.words(email)) - {session.id}
    if not candidates:
        return []
    rows = (await tx.conn.execute(select(sessions).where(sessions.c.id.in_(candidates),
                                                         sessions.c.first_message_at.is_not(None)))).mappings()
    found = [s for s in (_session(tx, r) for r in rows)
             if s.identity is not None and (s.identity.email or "").casefold() == email]
    found.sort(key=lambda s: (s.last_activity, s.id), reverse=True)
    return found[:limit]


async def project_names(tx: Tx, project_ids: tuple[str, ...]) -> dict[str, str]:
    if not project_ids:
        return {}
    rows = await tx.conn.execute(select(projects.c.id, projects.c.name).where(projects.c.id.in_(project_ids)))
    return {row[0]: row[1] for row in rows}
