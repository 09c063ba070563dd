"""Erasures: the record of each one and of its outcome per platform (docs/erasure.md), and
what an erasure must delete elsewhere (the platform threads and message ids of the sessions)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from pocketping.store.db import Tx
from pocketping.store.schema import bridge_messages, bridge_threads, erasure_steps, erasures, messages, outbox, sessions


@dataclass(frozen=True)
class Step:
    target: str  # "telegram" | "discord" | "slack" | "files"
    target_id: str  # the bridge id, or "files"
    status: str  # pending | done | partial | failed
    outcome: dict[str, Any]
    updated_at: datetime


@dataclass(frozen=True)
class Erasure:
    id: str
    project_id: str
    reason: str
    sessions: int
    messages: int
    created_at: datetime
    steps: list[Step]


async def insert_erasure(tx: Tx, *, id: str, project_id: str, reason: str, sessions: int, messages: int) -> None:
    await tx.conn.execute(erasures.insert().values(id=id, project_id=project_id, reason=reason, sessions=sessions,
                                                   messages=messages, created_at=tx.now))


async def insert_step(tx: Tx, erasure_id: str, target: str, target_id: str, status: str,
                      outcome: dict[str, Any] | None = None) -> None:
    await tx.conn.execute(erasure_steps.insert().values(erasure_id=erasure_id, target=target, target_id=target_id,
                                                        status=status, outcome=outcome, updated_at=tx.now))


async def set_step(tx: Tx, erasure_id: str, target_id: str, status: str, outcome: dict[str, Any]) -> None:
    await tx.conn.execute(update(erasure_steps).where(
        erasure_steps.c.erasure_id == erasure_id, erasure_steps.c.target_id == target_id,
    ).values(status=status, outcome=outcome, updated_at=tx.now))


async def find_erasure(tx: Tx, erasure_id: str, project_id: str | None = None) -> Erasure | None:
    query = select(erasures).where(erasures.c.id == erasure_id)
    if project_id is not None:
        query = query.where(erasures.c.project_id == project_id)
    row = (await tx.conn.execute(query)).mappings().first()
    if row is None:
        return None
    steps = (await tx.conn.execute(select(erasure_steps).where(erasure_steps.c.erasure_id == erasure_id)
                                   .order_by(erasure_steps.c.id))).mappings()
    return Erasure(id=row["id"], project_id=row["project_id"], reason=row["reason"], sessions=row["sessions"],
                   messages=row["messages"], created_at=row["created_at"],
                   steps=[Step(s["target"], s["target_id"], s["status"], dict(s["outcome"] or {}), s["updated_at"])
                          for s in steps])


async def delivery_state(tx: Tx, erasure_id: str) -> dict[str, tuple[str, int, str | None]]:
    """Per target id, the state of its outbox row: (status, attempts, last error)."""
    rows = (await tx.conn.execute(select(outbox.c.target_id, outbox.c.status, outbox.c.attempts, outbox.c.last_error)
                                  .where(outbox.c.target == "erase", outbox.c.session_id == erasure_id))).all()
    return {target_id: (status, int(attempts), error) for target_id, status, attempts, error in rows}


async def copies_of(tx: Tx, session_ids: list[str]) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """What the bridges hold of these sessions: per bridge, the thread ids, and the platform ids
    of the messages posted there."""
    threads: dict[str, list[str]] = {}
    posted: dict[str, list[str]] = {}
    if not session_ids:
        return threads, posted
    for bridge_id, external_id in (await tx.conn.execute(select(
            bridge_threads.c.bridge_id, bridge_threads.c.external_id).where(
            bridge_threads.c.session_id.in_(session_ids)).order_by(bridge_threads.c.id))).all():
        threads.setdefault(bridge_id, []).append(external_id)
    for bridge_id, external_id in (await tx.conn.execute(select(
            bridge_messages.c.bridge_id, bridge_messages.c.external_id).join(
            messages, messages.c.id == bridge_messages.c.message_id).where(
            messages.c.session_id.in_(session_ids)).order_by(bridge_messages.c.id))).all():
        posted.setdefault(bridge_id, []).append(external_id)
    return threads, posted


async def closed_before(tx: Tx, project_id: str, before: datetime, limit: int) -> list[tuple[str, datetime]]:
    """The project's closed sessions closed before ``before``, oldest first: (id, closed at)."""
    rows = (await tx.conn.execute(select(sessions.c.id, sessions.c.closed_at).where(
        sessions.c.project_id == project_id, sessions.c.status == "closed", sessions.c.closed_at.is_not(None),
        sessions.c.closed_at < before).order_by(sessions.c.closed_at, sessions.c.id).limit(limit))).all()
    return [(session_id, closed_at) for session_id, closed_at in rows]
