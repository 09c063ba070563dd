"""The project's public event log: the webhook bodies, in commit order, for the live stream."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import bindparam, delete, select

from pocketping.store import direct
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
_COLUMNS = ("event_id", "project_id", "seq", "session_id", "type", "payload", "created_at")


async def _reserve(tx: Tx, project_id: str, count: int) -> int:
    """Reserve ``count`` consecutive event seqs for the project; returns the first. The upsert
    locks the counter row until commit, so seqs become visible in order (a reader that sees N
    has seen every smaller one)."""
    params = {"pid": project_id, "k": count, "k2": count}
    if tx.dialect != "mysql":
        ((value,),) = await direct.execute(tx, _upsert(tx.dialect), [params], returning=True)
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


# PostgreSQL: the counter bump and the rows that take its seqs in one statement (a writable
# CTE; the rows in the order given, by ordinality), one round trip per project.
_PG_BUMP_AND_LOG = (
    "WITH c AS (INSERT INTO event_counters (project_id, last_seq) VALUES ($1::VARCHAR, $2::BIGINT) "
    "ON CONFLICT (project_id) DO UPDATE SET last_seq = event_counters.last_seq + $2::BIGINT "
    "RETURNING event_counters.last_seq) "
    "INSERT INTO event_log (event_id, project_id, seq, session_id, type, payload, created_at) "
    "SELECT r.event_id, $1::VARCHAR, c.last_seq - $2::BIGINT + r.n, r.session_id, r.type, r.payload, r.created_at "
    "FROM c, unnest($3::VARCHAR[], $4::VARCHAR[], $5::VARCHAR[], $6::TEXT[], $7::TIMESTAMP WITHOUT TIME ZONE[]) "
    "WITH ORDINALITY AS r(event_id, session_id, type, payload, created_at, n)"
)


async def _pg_write(tx: Tx, project_id: str, group: list[dict[str, Any]]) -> None:
    at = event_log.c.created_at.type._cached_bind_processor(tx.conn.dialect)
    await direct.execute_sql(tx, _PG_BUMP_AND_LOG, (
        project_id, len(group), [r["event_id"] for r in group], [r["session_id"] for r in group],
        [r["type"] for r in group], [r["payload"] for r in group],
        [at(r["created_at"]) if at else r["created_at"] for r in group]))


def _bump_and_log_on_thread(conn: Any, upsert: str, params: tuple[Any, ...], insert: str,
                            rows: list[tuple[Any, ...]], seq_at: int) -> None:
    """On SQLite's thread: the counter bump, then the rows with the seqs it gave (one job)."""
    cursor = conn._conn.cursor()
    try:
        cursor.execute(upsert, params)
        (last,) = cursor.fetchone()
        first = int(last) - len(rows) + 1
        cursor.executemany(insert, [(*r[:seq_at], first + i, *r[seq_at + 1:]) for i, r in enumerate(rows)])
    finally:
        cursor.close()


async def _sqlite_write(tx: Tx, project_id: str, group: list[dict[str, Any]]) -> None:
    dialect = tx.conn.dialect
    upsert, _, (params,) = direct.row_args(_upsert("sqlite"), dialect, (),
                                          [{"pid": project_id, "k": len(group), "k2": len(group)}])
    insert, names, rows = direct.row_args(_INSERT, dialect, _COLUMNS, [{**r, "seq": None} for r in group])
    await direct.on_sqlite_thread(tx, [(upsert, params, False), (insert, rows, True)], _bump_and_log_on_thread,
                                  upsert, params, insert, rows, names.index("seq"))


async def _write(tx: Tx, rows: list[dict[str, Any]]) -> None:
    by_project: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_project.setdefault(row["project_id"], []).append(row)
    for project_id in sorted(by_project):  # one lock order for every transaction
        group = by_project[project_id]
        if tx.dialect == "postgresql":
            await _pg_write(tx, project_id, group)
            continue
        if tx.dialect == "sqlite":
            await _sqlite_write(tx, project_id, group)
            continue
        first = await _reserve(tx, project_id, len(group))
        for offset, row in enumerate(group):
            row["seq"] = first + offset
        await direct.execute(tx, _INSERT, group, columns=_COLUMNS)


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
