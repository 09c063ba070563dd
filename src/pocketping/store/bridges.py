"""Bridges (their encrypted configuration and state), the session <-> thread mapping, the
platform ids of what we posted, and inbound deduplication."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import bindparam, delete, exists, func, or_, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError

from pocketping.core.models import BridgeRecord
from pocketping.errors import NotFound
from pocketping.store.db import Tx
from pocketping.store.schema import bridge_messages, bridge_threads, bridges, inbound_seen, outbox, sessions


def _bridge(tx: Tx, row: RowMapping) -> BridgeRecord:
    return BridgeRecord(
        id=row["id"], project_id=row["project_id"], type=row["type"],
        config=orjson.loads(tx.decrypt(row["config"])), status=row["status"], status_detail=row["status_detail"],
        state=dict(row["state"] or {}), created_at=row["created_at"], updated_at=row["updated_at"],
    )


async def insert_bridge(tx: Tx, *, id: str, project_id: str, type: str, config: dict[str, Any]) -> BridgeRecord:
    await tx.conn.execute(bridges.insert().values(
        id=id, project_id=project_id, type=type, config=tx.encrypt(orjson.dumps(config).decode()),
        status="starting", status_detail=None, state={}, created_at=tx.now, updated_at=tx.now))
    return await get_bridge(tx, id)


async def find_bridge(tx: Tx, bridge_id: str, project_id: str | None = None) -> BridgeRecord | None:
    query = select(bridges).where(bridges.c.id == bridge_id)
    if project_id is not None:
        query = query.where(bridges.c.project_id == project_id)
    row = (await tx.conn.execute(query)).mappings().first()
    return _bridge(tx, row) if row else None


async def get_bridge(tx: Tx, bridge_id: str, project_id: str | None = None) -> BridgeRecord:
    found = await find_bridge(tx, bridge_id, project_id)
    if found is None:
        raise NotFound(f"bridge {bridge_id} not found", code="bridge_not_found")
    return found


async def list_bridges(tx: Tx, project_id: str | None = None) -> list[BridgeRecord]:
    query = select(bridges)
    if project_id is not None:
        query = query.where(bridges.c.project_id == project_id)
    rows = (await tx.conn.execute(query.order_by(bridges.c.created_at, bridges.c.id))).mappings()
    return [_bridge(tx, r) for r in rows]


@dataclass(frozen=True)
class BridgeRef:
    """The little a planner needs, without decrypting credentials."""

    id: str
    type: str


async def update_config(tx: Tx, bridge_id: str, config: dict[str, Any]) -> None:
    await tx.conn.execute(update(bridges).where(bridges.c.id == bridge_id).values(
        config=tx.encrypt(orjson.dumps(config).decode()), updated_at=tx.now, status="starting", status_detail=None))


async def set_status(tx: Tx, bridge_id: str, status: str, detail: str | None) -> None:
    await tx.conn.execute(update(bridges).where(bridges.c.id == bridge_id).values(
        status=status, status_detail=(detail or None) and detail[:2000]))


async def merge_state(tx: Tx, bridge_id: str, changes: dict[str, Any]) -> None:
    current = (await tx.conn.execute(select(bridges.c.state).where(bridges.c.id == bridge_id))).scalar()
    if current is None:
        return
    await tx.conn.execute(update(bridges).where(bridges.c.id == bridge_id).values(state={**current, **changes}))


async def delete_bridge(tx: Tx, bridge_id: str) -> None:
    # Pending deliveries to a removed bridge can never be made: drop them with it.
    await tx.conn.execute(delete(outbox).where(outbox.c.target == "bridge", outbox.c.target_id == bridge_id))
    await tx.conn.execute(delete(bridge_messages).where(bridge_messages.c.bridge_id == bridge_id))
    await tx.conn.execute(delete(bridge_threads).where(bridge_threads.c.bridge_id == bridge_id))
    await tx.conn.execute(delete(bridges).where(bridges.c.id == bridge_id))


# --- session <-> thread --------------------------------------------------------------------

@dataclass(frozen=True)
class Thread:
    bridge_id: str
    session_id: str
    external_id: str
    status: str  # "open" | "closed"
    created_at: datetime
    updated_at: datetime


def _thread(row: RowMapping) -> Thread:
    return Thread(bridge_id=row["bridge_id"], session_id=row["session_id"], external_id=row["external_id"],
                  status=row["status"], created_at=row["created_at"], updated_at=row["updated_at"])


_THREAD = select(bridge_threads).where(bridge_threads.c.bridge_id == bindparam("b"),
                                      bridge_threads.c.session_id == bindparam("s"))  # built once


async def find_thread(tx: Tx, bridge_id: str, session_id: str) -> Thread | None:
    row = (await tx.conn.execute(_THREAD, {"b": bridge_id, "s": session_id})).mappings().first()
    return _thread(row) if row else None


async def find_thread_by_external(tx: Tx, bridge_id: str, external_id: str) -> Thread | None:
    row = (await tx.conn.execute(select(bridge_threads).where(
        bridge_threads.c.bridge_id == bridge_id, bridge_threads.c.external_id == external_id)
        .order_by(bridge_threads.c.id.desc()).limit(1))).mappings().first()
    return _thread(row) if row else None


async def save_thread(tx: Tx, bridge_id: str, session_id: str, external_id: str, status: str = "open") -> None:
    """Map a session to its thread, replacing an older mapping (a recreated topic)."""
    result = await tx.conn.execute(update(bridge_threads).where(
        bridge_threads.c.bridge_id == bridge_id, bridge_threads.c.session_id == session_id).values(
        external_id=external_id, status=status, updated_at=tx.now))
    if result.rowcount == 0:
        await tx.conn.execute(bridge_threads.insert().values(
            bridge_id=bridge_id, session_id=session_id, external_id=external_id, status=status,
            created_at=tx.now, updated_at=tx.now))


async def thread_being_opened(tx: Tx, bridge_id: str) -> bool:
    """Whether a delivery to this bridge has started (leased now, by any process, or tried
    before and due again) for a session that has no thread there yet: a thread may exist on
    the platform whose mapping is not stored yet (being opened, or an answer lost on the way
    that the retry finds again)."""
    mapped = exists().where(bridge_threads.c.bridge_id == bridge_id,
                            bridge_threads.c.session_id == outbox.c.session_id)
    return (await tx.conn.execute(select(outbox.c.id).where(
        outbox.c.target_id == bridge_id, outbox.c.session_id.is_not(None), outbox.c.status == "pending",
        outbox.c.target == "bridge", or_(outbox.c.locked_until > tx.now, outbox.c.attempts > 0), ~mapped)
        .limit(1))).first() is not None


async def set_thread_status(tx: Tx, bridge_id: str, session_id: str, status: str) -> None:
    await tx.conn.execute(update(bridge_threads).where(
        bridge_threads.c.bridge_id == bridge_id, bridge_threads.c.session_id == session_id).values(
        status=status, updated_at=tx.now))


async def forget_threads(tx: Tx, bridge_id: str) -> None:
    await tx.conn.execute(delete(bridge_messages).where(bridge_messages.c.bridge_id == bridge_id))
    await tx.conn.execute(delete(bridge_threads).where(bridge_threads.c.bridge_id == bridge_id))


async def thread_count(tx: Tx, bridge_id: str) -> int:
    return int((await tx.conn.execute(select(func.count()).select_from(bridge_threads).where(
        bridge_threads.c.bridge_id == bridge_id))).scalar_one())


# --- platform message ids ----------------------------------------------------------------

# One statement per platform id, no read first: inserted unless that id is recorded already
# (a retry). Built once. (No unique index to lean on: the table never had one.)
_BM = bridge_messages.c
_RECORD_POSTED = bridge_messages.insert().from_select(
    ["bridge_id", "message_id", "external_id", "created_at"],
    select(bindparam("b", type_=_BM.bridge_id.type), bindparam("m", type_=_BM.message_id.type),
           bindparam("e", type_=_BM.external_id.type), bindparam("now", type_=_BM.created_at.type))
    .where(~exists().where(_BM.bridge_id == bindparam("b"), _BM.message_id == bindparam("m"),
                           _BM.external_id == bindparam("e"))))


async def record_posted(tx: Tx, bridge_id: str, message_id: str, external_ids: list[str]) -> None:
    """Remember which platform messages carry one of ours (idempotent: a retry records nothing new).
    Written just before commit with the transaction's other records, in one statement run for
    each id (a group commit of deliveries records all its posts at once)."""
    for e in dict.fromkeys(external_ids):
        tx.buffer("bridge_messages", {"b": bridge_id, "m": message_id, "e": e, "now": tx.now}, _write_posted)


async def _write_posted(tx: Tx, rows: list[dict[str, Any]]) -> None:
    await tx.conn.execute(_RECORD_POSTED, rows)


async def posted_ids(tx: Tx, bridge_id: str, message_id: str) -> list[str]:
    return list((await tx.conn.execute(select(bridge_messages.c.external_id).where(
        bridge_messages.c.bridge_id == bridge_id, bridge_messages.c.message_id == message_id)
        .order_by(bridge_messages.c.id))).scalars())


async def find_message_by_external(tx: Tx, bridge_id: str, external_id: str) -> str | None:
    return (await tx.conn.execute(select(bridge_messages.c.message_id).where(
        bridge_messages.c.bridge_id == bridge_id, bridge_messages.c.external_id == external_id)
        .limit(1))).scalar()


# --- inbound dedupe ----------------------------------------------------------------------

async def mark_seen(tx: Tx, source: str, key: str) -> bool:
    """Record an inbound id; False when it was already recorded."""
    exists = (await tx.conn.execute(select(inbound_seen.c.key).where(
        inbound_seen.c.source == source[:64], inbound_seen.c.key == key[:200]))).first()
    if exists is not None:
        return False
    try:
        async with tx.conn.begin_nested():
            await tx.conn.execute(inbound_seen.insert().values(source=source[:64], key=key[:200], created_at=tx.now))
    except IntegrityError:
        return False  # another node recorded it a moment ago
    return True


async def prune_seen(tx: Tx, older_than: datetime) -> int:
    result = await tx.conn.execute(delete(inbound_seen).where(inbound_seen.c.created_at < older_than))
    return int(result.rowcount)


async def retry_failed(tx: Tx, *, project_id: str | None = None, bridge_id: str | None = None,
                       item_id: int | None = None) -> int:
    """Failed bridge deliveries (and erasures' deletions in the chat apps and files) back to
    pending, due now, with a fresh retry window."""
    query = update(outbox).where(outbox.c.status == "failed", outbox.c.target.in_(("bridge", "erase")))
    if project_id is not None:
        query = query.where(outbox.c.project_id == project_id)
    if bridge_id is not None:
        query = query.where(outbox.c.target_id == bridge_id)
    if item_id is not None:
        query = query.where(outbox.c.id == item_id)
    result = await tx.conn.execute(query.values(status="pending", next_attempt_at=tx.now, locked_until=None,
                                                created_at=tx.now, done_at=None, attempts=0))
    return int(result.rowcount)


async def has_conversation(tx: Tx, session_id: str) -> bool:
    """Has the visitor written yet? (Page views alone never open a thread.)"""
    return (await tx.conn.execute(select(sessions.c.first_message_at).where(
        sessions.c.id == session_id))).scalar() is not None
