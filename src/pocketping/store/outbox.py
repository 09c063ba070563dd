"""Queries behind the durable outbox (see pocketping.workers.outbox for the worker)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import and_, bindparam, case, delete, func, or_, select, type_coerce, update
from sqlalchemy.engine import RowMapping

from pocketping.core.models import OutboxItem
from pocketping.store.db import Tx
from pocketping.store.schema import outbox
from pocketping.store.types import UTCDateTime


def _item(tx: Tx, row: RowMapping) -> OutboxItem:
    return OutboxItem(
        id=row["id"], project_id=row["project_id"], session_id=row["session_id"], message_id=row["message_id"],
        target=row["target"], target_id=row["target_id"], action=row["action"],
        payload=orjson.loads(tx.decrypt(row["payload"])), status=row["status"], attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"], last_error=row["last_error"], result=row["result"],
        created_at=row["created_at"], done_at=row["done_at"],
    )


async def enqueue(tx: Tx, *, project_id: str, target: str, target_id: str, action: str,
                  payload: dict[str, Any], session_id: str | None = None, message_id: str | None = None,
                  delay_seconds: float = 0.0) -> None:
    """Add a delivery; written with the transaction's other rows in one statement before commit,
    in the order enqueued (ids ascend in that order: chains stay in order)."""
    tx.buffer("outbox", {
        "project_id": project_id, "session_id": session_id, "message_id": message_id, "target": target,
        "target_id": target_id, "action": action, "payload": tx.encrypt(orjson.dumps(payload).decode()),
        "status": "pending", "attempts": 0, "next_attempt_at": tx.now + timedelta(seconds=delay_seconds),
        "created_at": tx.now,
    }, _write_rows)
    tx.outbox_rows += 1


async def _write_rows(tx: Tx, rows: list[dict[str, Any]]) -> None:
    await tx.conn.execute(outbox.insert(), rows)


def _chain(target_id: str, session_id: str | None) -> Any:
    if session_id is None:
        return and_(outbox.c.target_id == target_id, outbox.c.session_id.is_(None))
    return and_(outbox.c.target_id == target_id, outbox.c.session_id == session_id)


def _free(now: datetime) -> Any:
    """Not leased: a lease "until T" is over at T."""
    return or_(outbox.c.locked_until.is_(None), outbox.c.locked_until <= now)


async def chain_heads(tx: Tx, limit: int) -> list[tuple[str, str | None, datetime]]:
    """Each chain's oldest pending row (its head) as (target_id, session_id, ready_at), the
    earliest ready first, in one query. A head is ready when it is due and its lease, if any, is
    over; a chain is due only by its head (the rows behind it wait for it, however due they are).
    The first row with ``ready_at`` in the future is the next time there is anything to do."""
    first = (select(func.min(outbox.c.id).label("id")).where(outbox.c.status == "pending")
             .group_by(outbox.c.target_id, outbox.c.session_id).subquery())
    # NULL > x is not true: an unleased head is ready when it is due.
    ready = type_coerce(case((outbox.c.locked_until > outbox.c.next_attempt_at, outbox.c.locked_until),
                             else_=outbox.c.next_attempt_at), UTCDateTime()).label("ready_at")
    rows = (await tx.conn.execute(
        select(outbox.c.target_id, outbox.c.session_id, ready).join(first, outbox.c.id == first.c.id)
        .order_by(ready, outbox.c.id).limit(limit))).all()
    return [(target_id, session_id, ready_at) for target_id, session_id, ready_at in rows]


_CHAIN_ROWS = (select(outbox).where(outbox.c.status == "pending", outbox.c.target_id == bindparam("t"),
                                    outbox.c.session_id == bindparam("s"))
               .order_by(outbox.c.id).limit(bindparam("n")))  # built once: read for every round


async def chain_rows(tx: Tx, target_id: str, session_id: str | None, limit: int) -> list[OutboxItem]:
    """The chain's oldest pending rows, in order (rows are only ever added at its end)."""
    if session_id is None:
        rows = (await tx.conn.execute(select(outbox).where(outbox.c.status == "pending", _chain(target_id, None))
                                      .order_by(outbox.c.id).limit(limit))).mappings()
    else:
        rows = (await tx.conn.execute(_CHAIN_ROWS, {"t": target_id, "s": session_id, "n": limit})).mappings()
    return [_item(tx, row) for row in rows]


async def chain_head(tx: Tx, target_id: str, session_id: str | None) -> OutboxItem | None:
    row = (await tx.conn.execute(select(outbox).where(outbox.c.status == "pending", _chain(target_id, session_id))
                                 .order_by(outbox.c.id).limit(1))).mappings().first()
    return _item(tx, row) if row else None


async def lease(tx: Tx, item_id: int, until: datetime) -> bool:
    result = await tx.conn.execute(update(outbox).where(
        outbox.c.id == item_id, outbox.c.status == "pending", _free(tx.now),
    ).values(locked_until=until))
    return bool(result.rowcount)


# A group commit's leases and outcomes, set-wise: one statement per kind for all its rows
# (statements built once; building one costs more than running it).
_IDS: Any = bindparam("ids", expanding=True)
_FREE_NOW = or_(outbox.c.locked_until.is_(None), outbox.c.locked_until <= bindparam("now"))
_LEASE = (update(outbox).where(outbox.c.id.in_(_IDS), outbox.c.status == "pending", _FREE_NOW)
          .values(locked_until=bindparam("until")))
_LEASE_RETURNING = _LEASE.returning(outbox.c.id)
_FREE_ROWS = (select(outbox.c.id).where(outbox.c.id.in_(_IDS), outbox.c.status == "pending", _FREE_NOW)
              .with_for_update())
_CHECKPOINT = update(outbox).where(outbox.c.id == bindparam("iid")).values(result=bindparam("result"))
_DONE_VALUES: dict[str, Any] = {"status": "done", "done_at": bindparam("now"), "locked_until": None,
                                "attempts": outbox.c.attempts + 1, "last_error": None}
_DONE = update(outbox).where(outbox.c.id.in_(_IDS)).values(**_DONE_VALUES)
_DONE_WITH = update(outbox).where(outbox.c.id == bindparam("iid")).values(**_DONE_VALUES, result=bindparam("result"))
_RETRY = update(outbox).where(outbox.c.id == bindparam("iid")).values(
    status=bindparam("status"), attempts=outbox.c.attempts + 1, last_error=bindparam("error"),
    next_attempt_at=bindparam("next_at"), locked_until=None, done_at=bindparam("done_at"))


async def lease_many(tx: Tx, item_ids: list[int], until: datetime) -> set[int]:
    """Lease the rows still pending and free until ``until``; returns the ids leased (one
    statement; MySQL/MariaDB, with no UPDATE ... RETURNING, lock and read the free ones first)."""
    if not item_ids:
        return set()
    params = {"ids": item_ids, "now": tx.now, "until": until}
    if tx.dialect != "mysql":
        return set((await tx.conn.execute(_LEASE_RETURNING, params)).scalars())
    free = list((await tx.conn.execute(_FREE_ROWS, params)).scalars())
    if free:
        await tx.conn.execute(_LEASE, {**params, "ids": free})
    return set(free)


_RELEASE = (update(outbox).where(outbox.c.id.in_(_IDS), outbox.c.status == "pending")
            .values(locked_until=None))


async def release_many(tx: Tx, item_ids: list[int]) -> None:
    """Give leases back (rows leased ahead that a stopping worker will not deliver)."""
    if item_ids:
        await tx.conn.execute(_RELEASE, {"ids": item_ids})


async def checkpoint_many(tx: Tx, results: list[tuple[int, dict[str, Any]]]) -> None:
    if results:
        await tx.conn.execute(_CHECKPOINT, [{"iid": i, "result": r} for i, r in results])


async def done_many(tx: Tx, outcomes: list[tuple[int, dict[str, Any] | None]]) -> None:
    """Mark rows delivered: those without a result in one statement, the others in one
    statement run for each (executemany)."""
    bare = [i for i, r in outcomes if r is None]
    if bare:
        await tx.conn.execute(_DONE, {"ids": bare, "now": tx.now})
    with_result = [{"iid": i, "result": r, "now": tx.now} for i, r in outcomes if r is not None]
    if with_result:
        await tx.conn.execute(_DONE_WITH, with_result)


async def retry_many(tx: Tx, retries: list[tuple[int, str, datetime, bool]]) -> None:
    """(id, error, next attempt at, failed for good) for each row."""
    if retries:
        await tx.conn.execute(_RETRY, [
            {"iid": i, "status": "failed" if failed else "pending", "error": error[:2000], "next_at": next_at,
             "done_at": tx.now if failed else None} for i, error, next_at, failed in retries])


async def checkpoint(tx: Tx, item_id: int, result: dict[str, Any]) -> None:
    await tx.conn.execute(update(outbox).where(outbox.c.id == item_id).values(result=result))


async def mark_done(tx: Tx, item_id: int, result: dict[str, Any] | None) -> None:
    values: dict[str, Any] = {"status": "done", "done_at": tx.now, "locked_until": None,
                              "attempts": outbox.c.attempts + 1, "last_error": None}
    if result is not None:
        values["result"] = result
    await tx.conn.execute(update(outbox).where(outbox.c.id == item_id).values(**values))


async def mark_retry(tx: Tx, item_id: int, error: str, next_at: datetime, failed: bool) -> None:
    await tx.conn.execute(update(outbox).where(outbox.c.id == item_id).values(
        status="failed" if failed else "pending", attempts=outbox.c.attempts + 1, last_error=error[:2000],
        next_attempt_at=next_at, locked_until=None, done_at=tx.now if failed else None))


async def list_items(tx: Tx, *, project_id: str | None = None, target: str | None = None,
                     target_id: str | None = None, status: str | None = None, limit: int = 50) -> list[OutboxItem]:
    query = select(outbox)
    if project_id:
        query = query.where(outbox.c.project_id == project_id)
    if target:
        query = query.where(outbox.c.target == target)
    if target_id:
        query = query.where(outbox.c.target_id == target_id)
    if status:
        query = query.where(outbox.c.status == status)
    query = query.order_by(outbox.c.id.desc()).limit(limit)
    return [_item(tx, r) for r in (await tx.conn.execute(query)).mappings()]


async def find_item(tx: Tx, item_id: int) -> OutboxItem | None:
    row = (await tx.conn.execute(select(outbox).where(outbox.c.id == item_id))).mappings().first()
    return _item(tx, row) if row else None


async def retry_failed(tx: Tx, *, target_id: str | None = None, item_id: int | None = None,
                       project_id: str | None = None) -> int:
    query = update(outbox).where(outbox.c.status == "failed")
    if target_id:
        query = query.where(outbox.c.target_id == target_id)
    if item_id is not None:
        query = query.where(outbox.c.id == item_id)
    if project_id:
        query = query.where(outbox.c.project_id == project_id)
    result = await tx.conn.execute(query.values(status="pending", next_attempt_at=tx.now, locked_until=None,
                                                created_at=tx.now, done_at=None))
    return int(result.rowcount)


async def counts(tx: Tx, *, target_id: str) -> dict[str, int]:
    rows = (await tx.conn.execute(select(outbox.c.status, func.count()).where(outbox.c.target_id == target_id)
                                  .group_by(outbox.c.status))).all()
    return {status: int(n) for status, n in rows}


async def prune_done(tx: Tx, older_than: datetime) -> int:
    result = await tx.conn.execute(delete(outbox).where(outbox.c.status == "done", outbox.c.done_at < older_than))
    return int(result.rowcount)


async def pending_by_target(tx: Tx) -> list[tuple[str, int, datetime]]:
    """Per target type: how many rows wait to be delivered, and when the oldest was written."""
    rows = (await tx.conn.execute(select(outbox.c.target, func.count(), func.min(outbox.c.created_at))
                                  .where(outbox.c.status == "pending").group_by(outbox.c.target))).all()
    return [(str(target), int(n), oldest) for target, n, oldest in rows]


async def forget_payload(tx: Tx, item_id: int) -> None:
    """Empty a delivered row's payload (an erasure's platform ids are kept only until done)."""
    await tx.conn.execute(update(outbox).where(outbox.c.id == item_id).values(payload=tx.encrypt("{}")))
