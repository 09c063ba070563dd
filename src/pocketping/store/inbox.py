"""What the web inbox lists: conversations across an operator's projects, in few queries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, select, union_all

from pocketping.core import search as words_
from pocketping.core.models import Message, Session
from pocketping.store import search
from pocketping.store.db import Tx
from pocketping.store.schema import messages, projects, sessions
from pocketping.store.sessions import _message, _session, by_activity, page_by_activity

UNION_PROJECTS = 50  # up to this many projects are paged one index range each


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

    def of(projects: tuple[str, ...]) -> Select[Any]:
        query = select(sessions).where(sessions.c.project_id.in_(projects), sessions.c.status == status,
                                       sessions.c.first_message_at.is_not(None))
        if assignee is not None:
            query = query.where(sessions.c.assignee_id == assignee)
        if unassigned:
            query = query.where(sessions.c.assignee_id.is_(None))
        return query

    if sort == "waiting":
        query = of(project_ids).order_by(sessions.c.waiting_since.is_(None), sessions.c.waiting_since,
                                         sessions.c.last_activity.desc(), sessions.c.id.desc()).limit(limit)
        return [_session(tx, r) for r in (await tx.conn.execute(query)).mappings()]
    if not 1 < len(project_ids) <= UNION_PROJECTS:
        return await page_by_activity(tx, of(project_ids), limit=limit, before=before)
    # Several projects: one ordered index range per project, merged (an IN list would read and
    # sort every matching session of them all, whatever the page).
    parts = [by_activity(of((p,)), limit=limit, before=before).subquery() for p in sorted(set(project_ids))]
    merged = union_all(*(select(part) for part in parts)).subquery()
    query = select(merged).order_by(merged.c.last_activity.desc(), merged.c.id.desc()).limit(limit)
    return [_session(tx, r) for r in (await tx.conn.execute(query)).mappings()]


async def last_messages(tx: Tx, found: list[Session]) -> dict[str, Message]:
    """Each session's latest chat message (not notices or events), by the seq its row keeps:
    one lookup of the (session_id, seq) index per session."""
    wanted = {(s.id, s.last_message_seq) for s in found if s.last_message_seq}
    if not wanted:
        return {}
    query = select(messages).where(messages.c.session_id.in_({sid for sid, _ in wanted}),
                                   messages.c.seq.in_({seq for _, seq in wanted}))
    rows = (await tx.conn.execute(query)).mappings()
    return {row["session_id"]: _message(tx, row) for row in rows if (row["session_id"], row["seq"]) in wanted}


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
