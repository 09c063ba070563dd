"""The hot paths stay lean (docs/performance.md): a page view is one (shared) transaction with
no replay read for a new session, page views refused in a batch do not spoil the others, a
message reads the planners' project settings in one statement, and on PostgreSQL its event is
logged and counted in one; a message's writes run on the driver (store/direct.py) with the
engine's listeners told and the driver's errors raised as SQLAlchemy's.

The server's own engine is watched with SQLAlchemy's event hooks (nothing of ours is replaced);
the shared server also runs background work, so statements are picked out by what they touch."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError

from pocketping import ids
from pocketping.actions import sessions as session_actions
from pocketping.core.models import Message
from pocketping.errors import Forbidden, Unauthorized
from pocketping.store import sessions as session_repo
from pocketping_testkit.widget_client import WidgetClient


class Transactions:
    """Every statement the engine runs, grouped by the transaction (or connection use) it ran in."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine.sync_engine
        self.lock = threading.Lock()
        self.done: list[list[tuple[str, Any]]] = []
        self._open: dict[int, list[tuple[str, Any]]] = {}

    def _execute(self, conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        with self.lock:
            self._open.setdefault(id(conn), []).append((" ".join(statement.split()), parameters))

    def _end(self, conn: Any, *_: Any) -> None:
        with self.lock:
            statements = self._open.pop(id(conn), None)
            if statements:
                self.done.append(statements)

    def __enter__(self) -> Transactions:
        event.listen(self.engine, "before_cursor_execute", self._execute)
        for name in ("commit", "rollback", "checkin"):
            event.listen(self.engine, name, self._end)
        return self

    def __exit__(self, *_: Any) -> None:
        event.remove(self.engine, "before_cursor_execute", self._execute)
        for name in ("commit", "rollback", "checkin"):
            event.remove(self.engine, name, self._end)

    def touching(self, *words: str) -> list[list[tuple[str, Any]]]:
        with self.lock:
            return [tx for tx in self.done if any(all(w in sql for w in words) for sql, _ in tx)]

    def statements(self, *words: str) -> list[tuple[str, Any]]:
        with self.lock:
            return [(sql, p) for tx in self.done for sql, p in tx if all(w in sql for w in words)]


@pytest.fixture
def watched(server: Any) -> Iterator[Transactions]:
    with Transactions(server.services.db.engine) as tx:
        yield tx


def _mentions(parameters: Any, value: str) -> bool:
    return value in repr(parameters)


async def test_a_page_view_is_one_transaction_and_a_new_session_reads_nothing_back(server, project, watched):
    widget = await WidgetClient.connect(server.ws_url, project.public_key)
    try:
        await widget.expect("synced")
        session_id = widget.session_id
        created = watched.touching("INSERT INTO sessions")
        mine = [tx for tx in created if any(_mentions(p, session_id) for _, p in tx)]
        assert len(mine) == 1
        # The project was found by its public key inside that same transaction ...
        assert any("public_key" in sql and _mentions(p, project.public_key) for sql, p in mine[0])
        # ... and in no other one.
        lookups = [sql for sql, p in watched.statements("FROM projects") if _mentions(p, project.public_key)]
        assert len(lookups) == 1
        # Nothing was read back for the new session: no replay query of its items.
        replays = [sql for sql, p in watched.statements("FROM messages") if _mentions(p, session_id)]
        assert replays == []
    finally:
        await widget.close()


async def test_a_resumed_page_view_still_replays(server, project, watched):
    first = await WidgetClient.connect(server.ws_url, project.public_key)
    await first.expect("synced")
    await first.say("before the reload")
    await first.close()

    def reads() -> int:
        return len([sql for sql, p in watched.statements("FROM messages") if _mentions(p, first.session_id)])

    before = reads()
    again = await WidgetClient.connect(server.ws_url, project.public_key, token=first.token, last_seq=0)
    try:
        frame = await again.expect("message")
        assert frame["message"]["text"] == "before the reload"
        await again.expect("synced")
        assert reads() == before + 1  # the replay
    finally:
        await again.close()


async def test_refused_page_views_in_one_batch_leave_the_others_alone(server, make_project):
    open_project = make_project()
    guarded = make_project(origins=["https://shop.example"])
    svc = server.services

    async def page_views() -> list[Any]:
        def view(key: str, origin: str | None) -> Any:
            return session_actions.open_widget(svc, key, origin, None, {}, user_agent=None, ip="192.0.2.1",
                                               country=None)
        # Started together: they share the connect batch.
        return list(await asyncio.gather(
            view(open_project.public_key, None), view("pk_" + "0" * 24, None),
            view(guarded.public_key, "https://evil.example"), view(guarded.public_key, "https://shop.example"),
            return_exceptions=True))

    good, unknown, wrong_origin, right_origin = await server.acall(page_views())
    assert good.project.id == open_project.id and good.created
    assert isinstance(unknown, Unauthorized) and unknown.code == "invalid_key"
    assert isinstance(wrong_origin, Forbidden) and wrong_origin.code == "origin_not_allowed"
    assert right_origin.project.id == guarded.id and right_origin.created
    assert good.session.id != right_origin.session.id


async def test_a_message_reads_the_planners_project_settings_in_one_statement(server, project, watched):
    widget = await WidgetClient.connect(server.ws_url, project.public_key)
    try:
        await widget.expect("synced")
        ack = await widget.say("hello")
        assert ack["type"] == "ack"
        stored = [tx for tx in watched.touching("INSERT INTO messages") if any(_mentions(p, ack["id"]) for _, p in tx)]
        assert len(stored) == 1
        reads = [sql for sql, p in stored[0] if "FROM webhooks" in sql or "FROM bridges" in sql
                 or "FROM ai_settings" in sql]
        assert len(reads) == 1, reads
        assert all(table in reads[0] for table in ("FROM webhooks", "FROM bridges", "FROM ai_settings"))
    finally:
        await widget.close()


async def test_a_resend_is_found_by_the_lock_and_not_inserted_again(server, project, watched):
    widget = await WidgetClient.connect(server.ws_url, project.public_key)
    try:
        await widget.expect("synced")
        first = await widget.say("once", client_id="resend-1")
        inserts = len(watched.statements("INSERT INTO messages"))
        again = await widget.say("once", client_id="resend-1")
        assert again["duplicate"] is True and again["id"] == first["id"]
        # Recognised before writing: no insert tried (and failed on the unique key) for the resend.
        assert len(watched.statements("INSERT INTO messages")) == inserts
    finally:
        await widget.close()


async def test_a_lone_message_is_these_statements(server, project, watched):
    widget = await WidgetClient.connect(server.ws_url, project.public_key)
    try:
        await widget.expect("synced")
        await widget.say("first")  # (the first message also sets first_message_at)
        ack = await widget.say("a second word")
        (stored,) = [tx for tx in watched.touching("INSERT INTO messages")
                     if any(_mentions(p, ack["id"]) for _, p in tx)]
        what = [sql for sql, _ in stored if not sql.startswith("BEGIN")]
        lock = "SELECT sessions.id"
        planners = "SELECT " + ("$1::VARCHAR" if server.services.db.backend == "postgresql" else
                                "%s" if server.services.db.backend == "mysql" else "?") + " AS k, webhooks.id AS a,"
        expected = {
            # the lock (with the resend check), the seqs, the message and its search terms, the
            # planners' read, then the event log's seq and row; on PostgreSQL the seqs, message and
            # terms are one statement, and the event log's seq and row another
            "postgresql": [lock, "WITH s AS (UPDATE sessions", planners, "WITH c AS (INSERT INTO event_counters"],
            "sqlite": [lock, "UPDATE sessions", "INSERT INTO messages", "INSERT INTO search_terms", planners,
                       "INSERT INTO event_counters", "INSERT INTO event_log"],
        }.get(server.services.db.backend)
        if expected is None:  # MySQL/MariaDB: the resend lookup apart, no RETURNING on the counter
            expected = ["SELECT messages.id", lock, "UPDATE sessions", "INSERT INTO messages",
                        "INSERT INTO search_terms", planners, "INSERT INTO event_counters",
                        "SELECT event_counters.last_seq", "INSERT INTO event_log"]
        assert len(what) == len(expected), what
        assert all(w.startswith(e) for w, e in zip(what, expected, strict=True)), what
    finally:
        await widget.close()


async def test_the_event_log_numbers_a_transactions_events_in_order(server, project):
    from pocketping.store.schema import event_log

    widget = await WidgetClient.connect(server.ws_url, project.public_key)
    try:
        await widget.expect("synced")
        for i in range(3):
            await widget.say(f"number {i}")
    finally:
        await widget.close()

    async def logged() -> list[tuple[int, str]]:
        async with server.services.db.read() as tx:
            rows = await tx.conn.execute(select(event_log.c.seq, event_log.c.type)
                                         .where(event_log.c.project_id == project.id).order_by(event_log.c.seq))
            return [(int(seq), type_) for seq, type_ in rows]

    rows = await server.acall(logged())
    seqs = [seq for seq, _ in rows]
    assert seqs == list(range(1, len(seqs) + 1))  # gapless from 1, whatever the statement
    assert [t for _, t in rows].count("message.created") == 3


async def test_a_raced_client_id_fails_as_sqlalchemy_integrity_error(server, project):
    """The message insert runs on the driver: a duplicate (session, clientId), which two
    batches racing with the same resend meet, must still be SQLAlchemy's IntegrityError (the
    group commit answers it with the stored message)."""
    widget = await WidgetClient.connect(server.ws_url, project.public_key)
    try:
        await widget.expect("synced")
        first = await widget.say("once", client_id="raced-1")
    finally:
        await widget.close()
    svc = server.services

    async def insert_again() -> None:
        async with svc.db.transaction() as tx:
            await session_repo.store_batch(tx, {}, [Message(
                id=ids.new_id(ids.MESSAGE), session_id=widget.session_id, seq=first["seq"] + 100, kind="message",
                sender="visitor", source="widget", text="once", created_at=tx.now, client_id="raced-1")])

    with pytest.raises(IntegrityError):
        await server.acall(insert_again())


async def test_the_lock_on_the_driver_reads_the_session_as_sqlalchemy_does(server, project):
    """The lock's read runs on the driver (SQLite, PostgreSQL) with SQLAlchemy's result
    processing: the session it gives is the one SQLAlchemy's own read gives (aware times, flags)."""
    widget = await WidgetClient.connect(server.ws_url, project.public_key)
    try:
        await widget.expect("synced")
        await widget.say("something to have times set", client_id="lock-1")
    finally:
        await widget.close()
    svc = server.services

    async def both() -> tuple[Any, Any, Any]:
        async with svc.db.transaction() as tx:
            locked, resent = await session_repo.lock_sessions_for(tx, [(widget.session_id, "lock-1")])
            read = await session_repo.get_session(tx, project.id, widget.session_id)
            return locked[widget.session_id], read, resent

    locked, read, resent = await server.acall(both())
    assert locked == read
    assert locked.first_message_at is not None and locked.first_message_at.tzinfo is not None
    assert list(resent) == [(widget.session_id, "lock-1")]


async def test_a_large_batch_locks_in_one_sql_text_whatever_its_size(server, project, watched):
    """Batches above ``DIRECT_LOCK_MAX`` (a closed loop's, under load) lock their sessions and
    find their resends as the small ones do, and on SQLite and PostgreSQL in one SQL text for
    any batch size (arrays / JSON arrays on the driver, not one expanded text per size)."""
    widgets = []
    for _ in range(session_repo.DIRECT_LOCK_MAX + 4):
        w = await WidgetClient.connect(server.ws_url, project.public_key)
        await w.expect("synced")
        widgets.append(w)
    try:
        await widgets[3].say("already here", client_id="big-3")
    finally:
        for w in widgets:
            await w.close()
    svc = server.services

    async def lock(count: int) -> tuple[Any, Any, Any]:
        keys = [(w.session_id, f"big-{i}") for i, w in enumerate(widgets[:count])]
        async with svc.db.transaction() as tx:
            locked, resent = await session_repo.lock_sessions_for(tx, keys)
            read = {w.session_id: await session_repo.get_session(tx, project.id, w.session_id)
                    for w in widgets[:count]}
            return locked, resent, read

    texts = []
    for count in (session_repo.DIRECT_LOCK_MAX + 1, session_repo.DIRECT_LOCK_MAX + 4):
        before = len(watched.statements("FROM sessions"))
        locked, resent, read = await server.acall(lock(count))
        assert locked == read
        assert list(resent) == [(widgets[3].session_id, "big-3")]
        assert resent[(widgets[3].session_id, "big-3")].text == "already here"
        texts.append([sql for sql, _ in watched.statements("FROM sessions")[before:] if "resent" in sql])
    if svc.db.backend in ("sqlite", "postgresql"):
        assert len(texts[0]) == len(texts[1]) == 1
        assert texts[0] == texts[1]
