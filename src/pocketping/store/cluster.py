"""Queries behind several nodes: heartbeats (``nodes``) and leases (``leases``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from pocketping.store.db import Tx
from pocketping.store.schema import leases, nodes, outbox


@dataclass(frozen=True)
class NodeRow:
    id: str
    role: str
    host: str
    pid: int
    redis: bool
    started_at: datetime
    heartbeat_at: datetime


@dataclass(frozen=True)
class LeaseRow:
    name: str
    holder: str | None
    token: int
    expires_at: datetime


async def beat(tx: Tx, node: NodeRow) -> None:
    """Insert or refresh this node's row."""
    result = await tx.conn.execute(update(nodes).where(nodes.c.id == node.id).values(heartbeat_at=tx.now))
    if not result.rowcount:
        await tx.conn.execute(insert(nodes).values(id=node.id, role=node.role, host=node.host, pid=node.pid,
                                                   redis=node.redis, started_at=node.started_at,
                                                   heartbeat_at=tx.now))


async def forget_node(tx: Tx, node_id: str) -> None:
    await tx.conn.execute(delete(nodes).where(nodes.c.id == node_id))
    await tx.conn.execute(update(leases).where(leases.c.holder == node_id).values(holder=None, expires_at=tx.now))


async def live_nodes(tx: Tx, within: timedelta) -> list[NodeRow]:
    rows = (await tx.conn.execute(select(nodes).where(nodes.c.heartbeat_at >= tx.now - within)
                                  .order_by(nodes.c.started_at, nodes.c.id))).mappings()
    return [NodeRow(**dict(r)) for r in rows]


async def prune_nodes(tx: Tx, older_than: timedelta) -> None:
    await tx.conn.execute(delete(nodes).where(nodes.c.heartbeat_at < tx.now - older_than))


async def acquire(tx: Tx, name: str, holder: str, ttl: timedelta) -> int | None:
    """Take or keep the lease: its fencing token if ``holder`` has it now, else None. A new
    holder gets a larger token than every holder before it."""
    until = tx.now + ttl
    result = await tx.conn.execute(update(leases).where(
        leases.c.name == name, leases.c.holder == holder, leases.c.expires_at >= tx.now,
    ).values(expires_at=until))
    if not result.rowcount:
        result = await tx.conn.execute(update(leases).where(
            leases.c.name == name, or_(leases.c.holder.is_(None), leases.c.expires_at < tx.now),
        ).values(holder=holder, token=leases.c.token + 1, expires_at=until))
    if not result.rowcount:
        try:
            async with tx.conn.begin_nested():
                await tx.conn.execute(insert(leases).values(name=name, holder=holder, token=1, expires_at=until))
        except IntegrityError:
            return None  # somebody else made it first
    row = (await tx.conn.execute(select(leases.c.holder, leases.c.token).where(leases.c.name == name))).first()
    return int(row.token) if row is not None and row.holder == holder else None


async def renew(tx: Tx, name: str, holder: str, token: int, ttl: timedelta) -> bool:
    """Extend a lease still held with this token; False: it was lost (expired and taken)."""
    result = await tx.conn.execute(update(leases).where(
        leases.c.name == name, leases.c.holder == holder, leases.c.token == token,
    ).values(expires_at=tx.now + ttl))
    return bool(result.rowcount)


async def release(tx: Tx, name: str, holder: str, token: int) -> None:
    await tx.conn.execute(update(leases).where(
        and_(leases.c.name == name, leases.c.holder == holder, leases.c.token == token),
    ).values(holder=None, expires_at=tx.now))


async def held_leases(tx: Tx) -> list[LeaseRow]:
    rows = (await tx.conn.execute(select(leases).where(leases.c.holder.is_not(None), leases.c.expires_at >= tx.now)
                                  .order_by(leases.c.name))).mappings()
    return [LeaseRow(**dict(r)) for r in rows]


async def outbox_depth(tx: Tx) -> dict[str, int]:
    rows = (await tx.conn.execute(select(outbox.c.status, func.count()).where(outbox.c.status != "done")
                                  .group_by(outbox.c.status))).all()
    return {status: int(n) for status, n in rows}
