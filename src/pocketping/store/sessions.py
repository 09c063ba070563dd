"""Sessions and their timeline (messages, custom events, notices)."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Select, bindparam, delete, func, literal, or_, select, tuple_, update
from sqlalchemy.engine import RowMapping

from pocketping.core.models import Identity, Message, Rating, Session
from pocketping.errors import NotFound
from pocketping.store import direct, search
from pocketping.store.db import Tx
from pocketping.store.files import dump_attachments, load_attachments
from pocketping.store.schema import (
    bridge_messages,
    bridge_threads,
    event_log,
    files,
    mail_recipients,
    messages,
    outbox,
    sessions,
)
from pocketping.store.sealed import seal, seal_json, unseal, unseal_json


def _session(tx: Tx, row: RowMapping) -> Session:
    identity = None
    if row["identity"]:
        raw = orjson.loads(tx.decrypt(row["identity"]))
        identity = Identity(id=raw["id"], email=raw.get("email"), name=raw.get("name"),
                            traits=raw.get("traits") or {}, verified=bool(raw.get("verified")))
    return Session(
        id=row["id"], project_id=row["project_id"], visitor_id=row["visitor_id"], status=row["status"],
        metadata=dict(unseal_json(tx, row["meta"]) or {}), identity=identity, created_at=row["created_at"],
        last_activity=row["last_activity"], closed_at=row["closed_at"], first_message_at=row["first_message_at"],
        last_seq=row["last_seq"], visitor_read_seq=row["visitor_read_seq"],
        operator_read_seq=row["operator_read_seq"], ai_enabled=bool(row["ai_enabled"]),
        ai_due_at=row["ai_due_at"], ai_reply_count=row["ai_reply_count"],
        ip=unseal(tx, row["ip"]), country=unseal(tx, row["country"]),
        assignee_id=row["assignee_id"], waiting_since=row["waiting_since"], first_response_at=row["first_response_at"],
        rating=Rating(row["rating_score"], row["rating_scale"],
                      tx.decrypt(row["rating_comment"]) if row["rating_comment"] else None, row["rated_at"])
        if row["rating_score"] is not None else None,
        consent=row["consent"], consent_at=row["consent_at"],
        last_message_seq=row["last_message_seq"], operator_unread=row["operator_unread"],
    )


async def insert_session(tx: Tx, *, id: str, project_id: str, visitor_id: str, meta: dict[str, Any],
                         ip: str | None, country: str | None) -> Session:
    await tx.conn.execute(sessions.insert().values(
        id=id, project_id=project_id, visitor_id=visitor_id, status="active", meta=seal_json(tx, meta),
        identity=None, ip=seal(tx, ip), country=seal(tx, country), created_at=tx.now, last_activity=tx.now,
        last_seq=0, visitor_read_seq=0,
        operator_read_seq=0, ai_enabled=True, ai_reply_count=0, last_message_seq=0, operator_unread=0,
    ))
    return await get_session(tx, project_id, id)


def new_session(tx: Tx, *, id: str, project_id: str, visitor_id: str, meta: dict[str, Any], ip: str | None,
                country: str | None) -> Session:
    """The record a fresh session starts as (what ``insert_sessions`` writes)."""
    return Session(id=id, project_id=project_id, visitor_id=visitor_id, status="active", metadata=meta,
                   identity=None, created_at=tx.now, last_activity=tx.now, closed_at=None, first_message_at=None,
                   last_seq=0, visitor_read_seq=0, operator_read_seq=0, ai_enabled=True, ai_due_at=None,
                   ai_reply_count=0, ip=ip, country=country)


_INSERT_SESSIONS = sessions.insert()


async def insert_sessions(tx: Tx, new: list[Session]) -> None:
    if new:
        await tx.conn.execute(_INSERT_SESSIONS, [
            {"id": s.id, "project_id": s.project_id, "visitor_id": s.visitor_id, "status": "active",
             "meta": seal_json(tx, s.metadata), "identity": None, "ip": seal(tx, s.ip),
             "country": seal(tx, s.country), "created_at": s.created_at,
             "last_activity": s.last_activity, "last_seq": 0, "visitor_read_seq": 0, "operator_read_seq": 0,
             "ai_enabled": True, "ai_reply_count": 0, "last_message_seq": 0, "operator_unread": 0}
            for s in new
        ])


async def find_sessions(tx: Tx, session_ids: list[str]) -> dict[str, Session]:
    if not session_ids:
        return {}
    rows = (await tx.conn.execute(select(sessions).where(sessions.c.id.in_(set(session_ids))))).mappings()
    return {row["id"]: _session(tx, row) for row in rows}


_META_SET = (update(sessions).where(sessions.c.id == bindparam("sid"))
             .values(meta=bindparam("meta"), ip=bindparam("ip"), country=bindparam("country")))


async def update_metas(tx: Tx, changed: list[Session]) -> None:
    if changed:
        await tx.conn.execute(_META_SET, [{"sid": s.id, "meta": seal_json(tx, s.metadata), "ip": seal(tx, s.ip),
                                           "country": seal(tx, s.country)} for s in changed])


async def find_session(tx: Tx, project_id: str, session_id: str, *, for_update: bool = False) -> Session | None:
    """The session, only if it belongs to ``project_id`` (anything else looks like a missing id)."""
    query = select(sessions).where(sessions.c.id == session_id, sessions.c.project_id == project_id)
    if for_update and tx.dialect != "sqlite":
        query = query.with_for_update()
    row = (await tx.conn.execute(query)).mappings().first()
    return _session(tx, row) if row else None


async def get_session(tx: Tx, project_id: str, session_id: str, *, for_update: bool = False) -> Session:
    session = await find_session(tx, project_id, session_id, for_update=for_update)
    if session is None:
        raise NotFound(f"session {session_id} not found", code="session_not_found")
    return session


_SESSION_BY_ID = select(sessions).where(sessions.c.id == bindparam("sid"))  # built once: deliveries read it


async def find_session_any_project(tx: Tx, session_id: str) -> Session | None:
    """For trusted internal callers (outbox workers, bridges) that already know the id is ours."""
    row = (await tx.conn.execute(_SESSION_BY_ID, {"sid": session_id})).mappings().first()
    return _session(tx, row) if row else None


async def find_visitor_session(tx: Tx, project_id: str, visitor_id: str) -> Session | None:
    row = (await tx.conn.execute(select(sessions).where(
        sessions.c.project_id == project_id, sessions.c.visitor_id == visitor_id))).mappings().first()
    return _session(tx, row) if row else None


async def list_sessions(tx: Tx, project_id: str, *, status: str | None, limit: int,
                        before: tuple[datetime, str] | None) -> list[Session]:
    query = select(sessions).where(sessions.c.project_id == project_id)
    if status:
        query = query.where(sessions.c.status == status)
    return await page_by_activity(tx, query, limit=limit, before=before)


def by_activity(query: Select[Any], *, limit: int, before: tuple[datetime, str] | None) -> Select[Any]:
    """``query``'s page of sessions, most recently active first, after the (last_activity, id)
    cursor: a row-value comparison, so the (project_id, last_activity DESC, id DESC) index starts
    the page where the cursor points, however deep (the redundant ``last_activity <=`` lets
    MariaDB's range optimizer use it too)."""
    if before:
        at, sid = before
        query = query.where(tuple_(sessions.c.last_activity, sessions.c.id) < tuple_(_at(at), sid),
                            sessions.c.last_activity <= _at(at))
    return query.order_by(sessions.c.last_activity.desc(), sessions.c.id.desc()).limit(limit)


async def page_by_activity(tx: Tx, query: Select[Any], *, limit: int,
                           before: tuple[datetime, str] | None) -> list[Session]:
    """One page of sessions (see ``by_activity``)."""
    return [_session(tx, r) for r in (await tx.conn.execute(by_activity(query, limit=limit, before=before)))
            .mappings()]


def _at(at: datetime) -> Any:
    return literal(at, sessions.c.last_activity.type)


async def set_rating(tx: Tx, session_id: str, score: int, scale: str, comment: str | None) -> None:
    await tx.conn.execute(update(sessions).where(sessions.c.id == session_id).values(
        rating_score=score, rating_scale=scale, rating_comment=tx.encrypt(comment) if comment else None,
        rated_at=tx.now))


async def update_session(tx: Tx, session_id: str, **values: Any) -> None:
    if "identity" in values:
        await search.index_identity(tx, session_id, values["identity"])
    if "identity" in values and values["identity"] is not None:
        values["identity"] = tx.encrypt(orjson.dumps(values["identity"]).decode())
    if "meta" in values:
        values["meta"] = seal_json(tx, values["meta"])
    for key in ("ip", "country"):
        if key in values:
            values[key] = seal(tx, values[key])
    await tx.conn.execute(update(sessions).where(sessions.c.id == session_id).values(**values))


async def next_seq(tx: Tx, session_id: str) -> int:
    """Allocate the session's next sequence number (the UPDATE locks the row until commit)."""
    bump = update(sessions).where(sessions.c.id == session_id).values(last_seq=sessions.c.last_seq + 1,
                                                                      last_activity=tx.now)
    if tx.dialect != "mysql":  # MariaDB has no UPDATE ... RETURNING
        return int((await tx.conn.execute(bump.returning(sessions.c.last_seq))).scalar_one())
    await tx.conn.execute(bump)
    return int((await tx.conn.execute(select(sessions.c.last_seq).where(sessions.c.id == session_id))).scalar_one())


def _unread_after(seq: Any) -> Any:
    """The visitor's chat messages after ``seq`` (a range of the (session_id, seq) index)."""
    return (select(func.count()).select_from(messages)
            .where(messages.c.session_id == sessions.c.id, messages.c.seq > seq, messages.c.kind == "message",
                   messages.c.sender == "visitor").scalar_subquery())


async def raise_read_seq(tx: Tx, session_id: str, column: str, seq: int) -> bool:
    col = sessions.c[column]
    values: dict[str, Any] = {column: seq}
    if column == "operator_read_seq":  # the inbox's unread count follows, in the same statement
        values["operator_unread"] = _unread_after(seq)
    result = await tx.conn.execute(update(sessions).where(
        sessions.c.id == session_id, col < seq, sessions.c.last_seq >= seq).values(values))
    return bool(result.rowcount)


# --- timeline ------------------------------------------------------------------------------

def _message(tx: Tx, row: RowMapping) -> Message:
    plain = tx.decrypt(row["text"])
    data = None
    text = plain
    if row["kind"] == "event":
        data = orjson.loads(plain)
        text = ""
    return Message(
        id=row["id"], session_id=row["session_id"], seq=row["seq"], kind=row["kind"], sender=row["sender"],
        source=row["source"], text=text, created_at=row["created_at"], operator_name=row["operator_name"],
        client_id=row["client_id"], name=row["name"], data=data, edited_at=row["edited_at"],
        deleted_at=row["deleted_at"], attachments=load_attachments(tx, row["attachments"]),
    )


async def insert_item(tx: Tx, *, id: str, session_id: str, seq: int, kind: str, sender: str, source: str,
                      text: str = "", data: dict[str, Any] | None = None, name: str | None = None,
                      operator_name: str | None = None, client_id: str | None = None) -> Message:
    plain = orjson.dumps(data or {}).decode() if kind == "event" else text
    await tx.conn.execute(messages.insert().values(
        id=id, session_id=session_id, seq=seq, kind=kind, sender=sender, source=source, name=name,
        text=tx.encrypt(plain), operator_name=operator_name, client_id=client_id, created_at=tx.now,
    ))
    if kind in ("message", "note"):
        await search.index_messages(tx, [(session_id, id, text)])
    return Message(id=id, session_id=session_id, seq=seq, kind=kind,  # type: ignore[arg-type]
                   sender=sender, source=source, text=text if kind != "event" else "",  # type: ignore[arg-type]
                   created_at=tx.now, operator_name=operator_name, client_id=client_id, name=name,
                   data=data if kind == "event" else None)


async def find_by_client_id(tx: Tx, session_id: str, client_id: str) -> Message | None:
    row = (await tx.conn.execute(select(messages).where(
        messages.c.session_id == session_id, messages.c.client_id == client_id))).mappings().first()
    return _message(tx, row) if row else None


async def find_message(tx: Tx, session_id: str, message_id: str) -> Message | None:
    row = (await tx.conn.execute(select(messages).where(
        messages.c.session_id == session_id, messages.c.id == message_id))).mappings().first()
    return _message(tx, row) if row else None


_MESSAGES_BY_IDS = select(messages).where(messages.c.session_id == bindparam("sid"),
                                         messages.c.id.in_(bindparam("mids", expanding=True)))


async def find_messages(tx: Tx, session_id: str, message_ids: list[str]) -> dict[str, Message]:
    if not message_ids:
        return {}
    rows = (await tx.conn.execute(_MESSAGES_BY_IDS, {"sid": session_id, "mids": sorted(set(message_ids))})).mappings()
    return {row["id"]: _message(tx, row) for row in rows}


async def find_message_by_id(tx: Tx, message_id: str) -> Message | None:
    row = (await tx.conn.execute(select(messages).where(messages.c.id == message_id))).mappings().first()
    return _message(tx, row) if row else None


async def list_items(tx: Tx, session_id: str, *, after_seq: int = 0, limit: int = 100,
                     kinds: tuple[str, ...] | None = None, exclude_visitor_events: bool = False) -> list[Message]:
    query = select(messages).where(messages.c.session_id == session_id, messages.c.seq > after_seq)
    if kinds:
        query = query.where(messages.c.kind.in_(kinds))
    else:  # internal notes only where asked for by kind: never in a widget's replay
        query = query.where(messages.c.kind != "note")
    if exclude_visitor_events:
        query = query.where(or_(messages.c.kind != "event", messages.c.sender != "visitor"))
    query = query.order_by(messages.c.seq).limit(limit)
    return [_message(tx, r) for r in (await tx.conn.execute(query)).mappings()]


# What a widget sees (no notes, not the visitor's own events), newest first between two seqs:
# a backward range scan of the (session_id, seq) unique index, whatever the history's length.
_WIDGET_LATEST = (select(messages).where(messages.c.session_id == bindparam("sid"),
                                         messages.c.seq > bindparam("after"), messages.c.seq <= bindparam("upto"),
                                         messages.c.kind != "note",
                                         or_(messages.c.kind != "event", messages.c.sender != "visitor"))
                  .order_by(messages.c.seq.desc()).limit(bindparam("n")))


async def widget_page(tx: Tx, session_id: str, *, after_seq: int = 0, before_seq: int | None = None,
                      limit: int) -> tuple[list[Message], bool]:
    """The latest ``limit`` items a widget sees with ``after_seq < seq < before_seq``, in seq
    order, and whether older ones in that range were left out."""
    upto = 2**31 - 1 if before_seq is None else before_seq - 1  # (an INTEGER column's largest value)
    rows = (await tx.conn.execute(_WIDGET_LATEST, {"sid": session_id, "after": after_seq, "upto": upto,
                                                   "n": limit + 1})).mappings().all()
    more = len(rows) > limit
    return [_message(tx, r) for r in reversed(rows[:limit])], more


async def last_message(tx: Tx, session_id: str) -> Message | None:
    row = (await tx.conn.execute(select(messages).where(
        messages.c.session_id == session_id, messages.c.kind == "message")
        .order_by(messages.c.seq.desc()).limit(1))).mappings().first()
    return _message(tx, row) if row else None


async def count_unread_for_operators(tx: Tx, session: Session) -> int:
    return int((await tx.conn.execute(select(func.count()).select_from(messages).where(
        messages.c.session_id == session.id, messages.c.kind == "message", messages.c.sender == "visitor",
        messages.c.seq > session.operator_read_seq))).scalar_one())


async def message_history(tx: Tx, message_id: str) -> list[dict[str, Any]]:
    """The earlier versions of an edited message, oldest first ({"text", "replacedAt"})."""
    stored = (await tx.conn.execute(select(messages.c.history).where(messages.c.id == message_id))).scalar()
    return list(orjson.loads(tx.decrypt(stored))) if stored else []


async def update_message(tx: Tx, message_id: str, **values: Any) -> None:
    if "text" in values or values.get("deleted_at") is not None:
        found = await find_message_by_id(tx, message_id)
        if found is not None and found.kind == "message":
            text = None if values.get("deleted_at") is not None else values.get("text", found.text)
            await search.reindex_message(tx, found.session_id, message_id, text)
    if "text" in values:
        values["text"] = tx.encrypt(values["text"])
    await tx.conn.execute(update(messages).where(messages.c.id == message_id).values(**values))


async def visitor_sessions(tx: Tx, project_id: str, visitor_id: str) -> list[Session]:
    rows = (await tx.conn.execute(select(sessions).where(
        sessions.c.project_id == project_id, sessions.c.visitor_id == visitor_id))).mappings()
    return [_session(tx, r) for r in rows]


async def erase_sessions(tx: Tx, session_ids: list[str]) -> int:
    if not session_ids:
        return 0
    count = int((await tx.conn.execute(select(func.count()).select_from(messages).where(
        messages.c.session_id.in_(session_ids)))).scalar_one())
    await tx.conn.execute(delete(outbox).where(outbox.c.session_id.in_(session_ids)))
    await tx.conn.execute(delete(event_log).where(event_log.c.session_id.in_(session_ids)))
    await tx.conn.execute(delete(mail_recipients).where(mail_recipients.c.session_id.in_(session_ids)))
    # The platform ids of the copies go too (an erasure's outbox rows carry what it deletes there).
    await tx.conn.execute(delete(bridge_messages).where(bridge_messages.c.message_id.in_(
        select(messages.c.id).where(messages.c.session_id.in_(session_ids)))))
    await tx.conn.execute(delete(bridge_threads).where(bridge_threads.c.session_id.in_(session_ids)))
    await search.drop_sessions(tx, session_ids)
    await tx.conn.execute(delete(messages).where(messages.c.session_id.in_(session_ids)))
    await tx.conn.execute(delete(files).where(files.c.session_id.in_(session_ids)))
    await tx.conn.execute(delete(sessions).where(sessions.c.id.in_(session_ids)))
    return count


# --- set-wise operations for group commit (one statement for many messages) -----------------

_SEQ_BUMP = (update(sessions).where(sessions.c.id == bindparam("sid"))
             .values(last_seq=sessions.c.last_seq + bindparam("k"), last_activity=bindparam("now")))
_SEQ_BUMP_RETURNING = _SEQ_BUMP.returning(sessions.c.last_seq)
_SEQ_READ = select(sessions.c.last_seq).where(sessions.c.id == bindparam("sid"))


# The hot path's statements are built once (building one costs more than running it).
_LOCK = select(sessions).where(sessions.c.id.in_(bindparam("ids", expanding=True))).order_by(sessions.c.id)
_LOCK_FOR_UPDATE = _LOCK.with_for_update()


# The same, saying per session whether any of the given client ids is stored there already (a
# resend), so the common batch, with none, needs no lookup of its own.
_RESENT = (select(messages.c.id).where(messages.c.session_id == sessions.c.id,
                                       messages.c.client_id.in_(bindparam("cids", expanding=True)))
           .exists().label("resent"))
_LOCK_CHECKING = (select(sessions, _RESENT).where(sessions.c.id.in_(bindparam("ids", expanding=True)))
                  .order_by(sessions.c.id))
_LOCK_CHECKING_FOR_UPDATE = _LOCK_CHECKING.with_for_update()


# Batches of at most this many sessions and client ids lock on the driver: every shape is built
# (and compiled, by store.direct) once and kept; larger ones, under load, where SQLAlchemy's cost
# is shared by the batch, go through SQLAlchemy's expanding parameters.
DIRECT_LOCK_MAX = 8


@functools.lru_cache(maxsize=2 * DIRECT_LOCK_MAX * DIRECT_LOCK_MAX)  # never evicts: one per shape
def _lock_checking(ids: int, cids: int, for_update: bool) -> Any:
    """``_LOCK_CHECKING`` with one parameter per id (``i0``.., ``c0``..), for the driver (no
    expanding parameters there); built once per shape."""
    resent = (select(messages.c.id).where(messages.c.session_id == sessions.c.id,
                                          messages.c.client_id.in_([bindparam(f"c{k}") for k in range(cids)]))
              .exists().label("resent"))
    query = (select(sessions, resent).where(sessions.c.id.in_([bindparam(f"i{k}") for k in range(ids)]))
             .order_by(sessions.c.id))
    return query.with_for_update() if for_update else query


@functools.cache
def _lock_checking_arrays(dialect: str) -> Any:
    """``_LOCK_CHECKING`` for a batch of any size in one SQL text, its ids and client ids as
    one parameter each (PostgreSQL: arrays, ``= ANY``; SQLite: JSON arrays read by
    ``json_each``), so a large batch locks on the driver too: no compiling per batch size, and
    one prepared statement on PostgreSQL. Built once, on first use."""
    from sqlalchemy import ARRAY, String, any_

    if dialect == "postgresql":
        ids: Any = any_(bindparam("ids", type_=ARRAY(String)))
        cids: Any = any_(bindparam("cids", type_=ARRAY(String)))
        resent = (select(messages.c.id).where(messages.c.session_id == sessions.c.id, messages.c.client_id == cids)
                  .exists().label("resent"))
        return select(sessions, resent).where(sessions.c.id == ids).order_by(sessions.c.id).with_for_update()
    def listed(name: str) -> Any:
        each = func.json_each(bindparam(name)).table_valued("value")
        return select(each.c.value).scalar_subquery()

    resent = (select(messages.c.id).where(messages.c.session_id == sessions.c.id,
                                          messages.c.client_id.in_(listed("cids"))).exists().label("resent"))
    return select(sessions, resent).where(sessions.c.id.in_(listed("ids"))).order_by(sessions.c.id)


async def lock_sessions(tx: Tx, session_ids: list[str]) -> dict[str, Session]:
    """The sessions by id, row-locked until commit (in id order, so concurrent batches never deadlock)."""
    query = _LOCK if tx.dialect == "sqlite" else _LOCK_FOR_UPDATE
    rows = (await tx.conn.execute(query, {"ids": sorted(session_ids)})).mappings()
    return {row["id"]: _session(tx, row) for row in rows}


async def lock_sessions_for(tx: Tx, keys: list[tuple[str, str | None]]
                            ) -> tuple[dict[str, Session], dict[tuple[str, str], Message]]:
    """``lock_sessions`` for the (session id, client id) of a batch of messages, plus the
    messages already stored under those client ids (resends). One statement when none is a
    resend (SQLite, PostgreSQL); on MySQL/MariaDB, whose locking read would lock the looked-up
    message rows too, the lookup is a statement of its own, as before the lock."""
    session_ids = sorted({sid for sid, _ in keys})
    wanted = [(sid, cid) for sid, cid in keys if cid is not None]
    if tx.dialect == "mysql" or not wanted:
        resent = await find_by_client_ids(tx, wanted)
        return await lock_sessions(tx, session_ids), resent
    cids = sorted({cid for _, cid in wanted})
    rows: Any
    if len(session_ids) <= DIRECT_LOCK_MAX and len(cids) <= DIRECT_LOCK_MAX:  # (on the driver)
        params = {f"i{k}": sid for k, sid in enumerate(session_ids)} | {f"c{k}": cid for k, cid in enumerate(cids)}
        rows = await direct.fetch(tx, _lock_checking(len(session_ids), len(cids), tx.dialect != "sqlite"), params)
    elif tx.dialect == "postgresql":
        rows = await direct.fetch(tx, _lock_checking_arrays("postgresql"), {"ids": session_ids, "cids": cids})
    elif tx.dialect == "sqlite":
        rows = await direct.fetch(tx, _lock_checking_arrays("sqlite"),
                                  {"ids": orjson.dumps(session_ids).decode(), "cids": orjson.dumps(cids).decode()})
    else:
        rows = (await tx.conn.execute(_LOCK_CHECKING_FOR_UPDATE, {"ids": session_ids, "cids": cids})).mappings()
    locked, again = {}, set()
    for row in rows:
        locked[row["id"]] = _session(tx, row)
        if row["resent"]:
            again.add(row["id"])
    resent = await find_by_client_ids(tx, [k for k in wanted if k[0] in again]) if again else {}
    return locked, resent


_SEQ_SET = (update(sessions).where(sessions.c.id == bindparam("sid"))
            .values(last_seq=bindparam("seq"), last_activity=bindparam("now"), last_message_seq=bindparam("seq"),
                    operator_read_seq=bindparam("oread"), operator_unread=bindparam("unread")))


async def set_last_seqs(tx: Tx, last: dict[str, Session]) -> None:
    """Record what a batch of chat messages changed on their sessions (already locked by
    ``lock_sessions``): the last seq (also the last message's), the operators' read mark and
    unread count, in one statement for the whole batch."""
    if last:
        await direct.execute(tx, _SEQ_SET, _seq_rows(tx, last))


async def allocate_seqs(tx: Tx, session_id: str, count: int) -> int:
    """Reserve ``count`` consecutive seqs for a session; returns the first."""
    params = {"sid": session_id, "k": count, "now": tx.now}
    if tx.dialect != "mysql":  # MariaDB has no UPDATE ... RETURNING
        last = (await tx.conn.execute(_SEQ_BUMP_RETURNING, params)).scalar_one()
    else:
        await tx.conn.execute(_SEQ_BUMP, params)
        last = (await tx.conn.execute(_SEQ_READ, {"sid": session_id})).scalar_one()
    return int(last) - count + 1


_BY_CLIENT_IDS = select(messages).where(messages.c.session_id.in_(bindparam("sids", expanding=True)),
                                        messages.c.client_id.in_(bindparam("cids", expanding=True)))


async def find_by_client_ids(tx: Tx, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Message]:
    if not keys:
        return {}
    wanted = set(keys)
    rows = (await tx.conn.execute(_BY_CLIENT_IDS, {"sids": sorted({k[0] for k in wanted}),
                                                   "cids": sorted({k[1] for k in wanted})})).mappings()
    found = {}
    for row in rows:
        key = (row["session_id"], row["client_id"])
        if key in wanted:
            found[key] = _message(tx, row)
    return found


_INSERT_MESSAGES = messages.insert()
_MESSAGE_COLUMNS = ("id", "session_id", "seq", "kind", "sender", "source", "name", "text", "operator_name",
                    "client_id", "created_at", "attachments")


def _message_rows(tx: Tx, items: list[Message]) -> list[dict[str, Any]]:
    return [{"id": m.id, "session_id": m.session_id, "seq": m.seq, "kind": m.kind, "sender": m.sender,
             "source": m.source, "name": m.name, "text": tx.encrypt(m.text), "operator_name": m.operator_name,
             "client_id": m.client_id, "created_at": m.created_at,
             "attachments": dump_attachments(tx, m.attachments)} for m in items]


def _seq_rows(tx: Tx, last: dict[str, Session]) -> list[dict[str, Any]]:
    return [{"sid": s.id, "seq": s.last_seq, "now": tx.now, "oread": s.operator_read_seq, "unread": s.operator_unread}
            for s in last.values()]


async def insert_messages(tx: Tx, items: list[Message]) -> None:
    """Insert chat messages in one multi-row statement."""
    if not items:
        return
    await direct.execute(tx, _INSERT_MESSAGES, _message_rows(tx, items), columns=_MESSAGE_COLUMNS)
    await search.index_messages(tx, ((m.session_id, m.id, m.text) for m in items if m.kind == "message"))


# PostgreSQL: a batch's seqs, messages and search terms in one statement (writable CTEs over
# arrays: one SQL text whatever the batch size). The terms' foreign key to their message is
# checked at the statement's end, where the messages' rows are there.
_PG_STORE = (
    "WITH s AS (UPDATE sessions SET last_activity = $1::TIMESTAMP WITHOUT TIME ZONE, last_seq = u.seq, "
    "last_message_seq = u.seq, operator_read_seq = u.oread, operator_unread = u.unread "
    "FROM unnest($2::VARCHAR[], $3::INTEGER[], $4::INTEGER[], $5::INTEGER[]) AS u(sid, seq, oread, unread) "
    "WHERE sessions.id = u.sid), "
    "m AS (INSERT INTO messages (id, session_id, seq, kind, sender, source, name, text, operator_name, client_id, "
    "created_at, attachments) SELECT * FROM unnest($6::VARCHAR[], $7::VARCHAR[], $8::INTEGER[], $9::VARCHAR[], "
    "$10::VARCHAR[], $11::VARCHAR[], $12::VARCHAR[], $13::TEXT[], $14::VARCHAR[], $15::VARCHAR[], "
    "$16::TIMESTAMP WITHOUT TIME ZONE[], $17::TEXT[])) "
    "INSERT INTO search_terms (session_id, message_id, term) "
    "SELECT * FROM unnest($18::VARCHAR[], $19::VARCHAR[], $20::VARCHAR[])"
)


async def store_batch(tx: Tx, last: dict[str, Session], items: list[Message]) -> None:
    """``set_last_seqs`` and ``insert_messages`` (with the search terms) for a batch of chat
    messages: one statement on PostgreSQL, one job on SQLite's thread, three statements elsewhere."""
    if not items:
        await set_last_seqs(tx, last)
        return
    rows = _message_rows(tx, items)
    terms = search.message_rows(tx, ((m.session_id, m.id, m.text) for m in items if m.kind == "message"))
    seqs = _seq_rows(tx, last)
    if tx.dialect != "postgresql":
        await direct.execute_all(tx, [(_SEQ_SET, seqs, ()), (_INSERT_MESSAGES, rows, _MESSAGE_COLUMNS),
                                      (search.INSERT, terms, search.COLUMNS)])
        return
    at = messages.c.created_at.type._cached_bind_processor(tx.conn.dialect)
    assert at is not None
    await direct.execute_sql(tx, _PG_STORE, (
        at(tx.now), [r["sid"] for r in seqs], [r["seq"] for r in seqs], [r["oread"] for r in seqs],
        [r["unread"] for r in seqs],
        *([r[c] for r in rows] for c in _MESSAGE_COLUMNS[:10]), [at(r["created_at"]) for r in rows],
        [r["attachments"] for r in rows],
        [t["session_id"] for t in terms], [t["message_id"] for t in terms], [t["term"] for t in terms]))
