"""The project's public event log: the webhook bodies, in commit order, for the live stream."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import bindparam, delete, select

from pocketping.store.db import Tx
from pocketping.store.schema import event_counters, event_log


@dataclass(frozen=True)
class LoggedEvent:
    seq: int
    event_id: str
    type: str
    session_id: str | None
    created_at: datetime
    body: dict[str, Any]


@functools.cache
def _upsert(dialect: str) -> Any:
    """The counter bump for one dialect, built once, on first use (one round trip where the upsert
    can say what it wrote; MariaDB has no RETURNING there). Only the dialect in use is imported:
    PostgreSQL's alone is 2 MB and 20 ms of a SQLite server's start."""
    values: dict[str, Any] = {"project_id": bindparam("pid"), "last_seq": bindparam("k")}
    bump = event_counters.c.last_seq + bindparam("k2")
    if dialect == "mysql":
        from sqlalchemy.dialects.mysql import insert as mysql_insert

        return mysql_insert(event_counters).values(values).on_duplicate_key_update(last_seq=bump)
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(event_counters).values(values).on_conflict_do_update(
            index_elements=[event_counters.c.project_id], set_={"last_seq": bump}).returning(event_counters.c.last_seq)
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(event_counters).values(values).on_conflict_do_update(
            index_elements=[event_counters.c.project_id], set_={"last_seq": bump}).returning(event_counters.c.last_seq)
    raise ValueError(f"no event-counter upsert for {dialect!r}")


_READ_COUNTER = select(event_counters.c.last_seq).where(event_counters.c.project_id == bindparam("pid"))
_INSERT = event_log.insert()


async def _reserve(tx: Tx, project_id: str, count: int) -> int:
    """Reserve ``count`` consecutive event seqs for the project; returns the first. The upsert
    locks the counter row until commit, so seqs become visible in order (a reader that sees N
    has seen every smaller one)."""
    params = {"pid": project_id, "k": count, "k2": count}
    if tx.dialect != "mysql":
        value = (await tx.conn.execute(_upsert(tx.dialect), params)).scalar_one()
        return int(value) - count + 1
    await tx.conn.execute(_upsert("mysql"), params)
    value = (await tx.conn.execute(_READ_COUNTER, {"pid": project_id})).scalar_one()
    return int(value) - count + 1


async def append(tx: Tx, *, event_id: str, project_id: str, session_id: str | None, type_: str,
                 body: dict[str, Any]) -> None:
    """Log a public event; its seq is given just before commit, together with the transaction's
    other events (one counter update and one multi-row insert per project)."""
    tx.buffer("event_log", {"event_id": event_id, "project_id": project_id, "session_id": session_id,
                            "type": type_, "payload": tx.encrypt(orjson.dumps(body).decode()),
                            "created_at": tx.now}, _write)


async def _write(tx: Tx, rows: list[dict[str, Any]]) -> None:
    by_project: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_project.setdefault(row["project_id"], []).append(row)
    for project_id in sorted(by_project):  # one lock order for every transaction
        group = by_project[project_id]
        first = await _reserve(tx, project_id, len(group))
        for offset, row in enumerate(group):
            row["seq"] = first + offset
        await tx.conn.execute(_INSERT, group)


async def after(tx: Tx, project_id: str, cursor: int, *, limit: int = 500,
                types: tuple[str, ...] | None = None) -> list[LoggedEvent]:
    query = select(event_log).where(event_log.c.project_id == project_id, event_log.c.seq > cursor)
    if types:
        query = query.where(event_log.c.type.in_(types))
    rows = (await tx.conn.execute(query.order_by(event_log.c.seq).limit(limit))).mappings()
    return [LoggedEvent(seq=int(r["seq"]), event_id=r["event_id"], type=r["type"], session_id=r["session_id"],
                        created_at=r["created_at"], body=orjson.loads(tx.decrypt(r["payload"]))) for r in rows]


async def last_seq(tx: Tx, project_id: str) -> int:
    value = (await tx.conn.execute(select(event_counters.c.last_seq)
                                   .where(event_counters.c.project_id == project_id))).scalar()
    return int(value or 0)


async def prune(tx: Tx, older_than: datetime) -> int:
    result = await tx.conn.execute(delete(event_log).where(event_log.c.created_at < older_than))
    return int(result.rowcount)
