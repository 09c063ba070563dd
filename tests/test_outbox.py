"""The durable outbox: order per chain, retries with backoff, leases, nothing lost or doubled."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import event

from pocketping.clock import FakeClock
from pocketping.core.models import OutboxItem
from pocketping.errors import DeliveryError
from pocketping.store import outbox as q
from pocketping.wiring import build_node, build_services
from pocketping.workers.outbox import OutboxWorker, backoff_seconds
from pocketping_testkit.server import make_settings
from pocketping_testkit.waiting import eventually


class Recorder:
    """A delivery target that records what it got and can be told to fail."""

    def __init__(self) -> None:
        self.delivered: list[tuple[str | None, int]] = []
        self.failures: dict[int, list[DeliveryError]] = {}
        self.changed = asyncio.Event()
        self.gate: asyncio.Event | None = None
        self.entered = asyncio.Event()

    async def deliver(self, item: OutboxItem, checkpoint: Any) -> dict[str, Any]:
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        n = item.payload["n"]
        pending = self.failures.get(n)
        if pending:
            self.changed.set()
            raise pending.pop(0)
        self.delivered.append((item.session_id, n))
        self.changed.set()
        return {"posted": n}

    async def wait_for(self, count: int, timeout: float = 10) -> None:
        async def loop() -> None:
            while len(self.delivered) < count:
                self.changed.clear()
                await self.changed.wait()
        await asyncio.wait_for(loop(), timeout)


@pytest.fixture
async def svc(fresh_db, tmp_path):
    clock = FakeClock()
    services = build_services(make_settings(fresh_db.url, str(tmp_path), outbox_poll_seconds=1.0), clock=clock)
    node = build_node(services.settings, services=services)  # the outbox worker the server would run
    await services.db.migrate()
    yield SimpleNamespace(db=services.db, clock=clock, outbox=node.outbox)
    await node.outbox.stop()
    await services.db.dispose()


async def enqueue(svc, n: int, session: str | None = "s1", target_id: str = "t1") -> None:
    async with svc.db.transaction() as tx:
        await q.enqueue(tx, project_id="p", target="test", target_id=target_id, action="post",
                        payload={"n": n}, session_id=session)
    svc.outbox.notify()


async def test_delivers_in_order_per_chain_and_records_results(svc):
    rec = Recorder()
    svc.outbox.register("test", rec)
    svc.outbox.start()
    for n in range(10):
        await enqueue(svc, n, session="a" if n % 2 else "b")
    await rec.wait_for(10)
    await svc.outbox.wait_idle()
    for session in ("a", "b"):
        got = [n for s, n in rec.delivered if s == session]
        assert got == sorted(got)
    async with svc.db.read() as tx:
        items = await q.list_items(tx, target="test")
    assert {i.status for i in items} == {"done"} and all(i.result == {"posted": i.payload["n"]} for i in items)


async def test_a_failing_head_holds_its_chain_back_until_the_retry(svc):
    clock: FakeClock = svc.clock
    rec = Recorder()
    rec.failures[0] = [DeliveryError("platform down", retry_after=30)]
    svc.outbox.register("test", rec)
    svc.outbox.start()
    for n in range(3):
        await enqueue(svc, n)
    await enqueue(svc, 100, session="other")  # another chain is not blocked
    await rec.wait_for(1)
    await svc.outbox.wait_idle()  # the failed head is recorded
    assert rec.delivered == [("other", 100)]
    async with svc.db.read() as tx:
        head = await q.chain_head(tx, "t1", "s1")
    assert head is not None and head.attempts == 1 and head.last_error == "platform down"
    assert head.next_attempt_at >= clock.now() + timedelta(seconds=30)
    clock.advance(29)
    clock.advance(3)  # past retry_after (+ at most 10% jitter)
    await rec.wait_for(4)
    assert [n for s, n in rec.delivered if s == "s1"] == [0, 1, 2]


async def test_gives_up_after_the_retry_window_and_can_be_retried(svc):
    clock: FakeClock = svc.clock
    worker = OutboxWorker(svc.db, clock, poll_seconds=1, retry_window_seconds=60)
    rec = Recorder()
    rec.failures[0] = [DeliveryError("nope")] * 50
    worker.register("test", rec)
    worker.start()
    try:
        await enqueue(svc, 0)
        await enqueue(svc, 1)
        worker.notify()
        for _ in range(12):
            rec.changed.clear()
            clock.advance(30)
            worker.notify()
            if rec.delivered:
                break
            await asyncio.wait_for(rec.changed.wait(), 10)
        await rec.wait_for(1)
        assert rec.delivered == [("s1", 1)]  # the failed head no longer blocks its chain
        async with svc.db.transaction() as tx:
            [failed] = await q.list_items(tx, target="test", status="failed")
            assert failed.payload == {"n": 0}
            rec.failures[0] = []
            assert await q.retry_failed(tx, item_id=failed.id) == 1
        worker.notify()
        await rec.wait_for(2)
        assert rec.delivered[-1] == ("s1", 0)
    finally:
        await worker.stop()


async def test_a_permanent_error_fails_at_once(svc):
    rec = Recorder()
    rec.failures[0] = [DeliveryError("bad request", permanent=True)]
    svc.outbox.register("test", rec)
    svc.outbox.start()
    await enqueue(svc, 0)
    await enqueue(svc, 1)
    await rec.wait_for(1)
    await svc.outbox.wait_idle()
    async with svc.db.read() as tx:
        assert [i.payload["n"] for i in await q.list_items(tx, status="failed")] == [0]


async def test_two_workers_never_deliver_the_same_row(svc):
    clock = svc.clock
    rec = Recorder()
    workers = [OutboxWorker(svc.db, clock, poll_seconds=1) for _ in range(3)]
    for w in workers:
        w.register("test", rec)
        w.start()
    try:
        for n in range(30):
            await enqueue(svc, n, session=f"s{n % 4}")
            for w in workers:
                w.notify()
        await rec.wait_for(30)
        assert sorted(n for _, n in rec.delivered) == list(range(30))
    finally:
        for w in workers:
            await w.stop()


async def test_a_crashed_workers_lease_expires_and_the_row_is_delivered_once(svc):
    clock: FakeClock = svc.clock
    stuck = Recorder()
    stuck.gate = asyncio.Event()  # never opened: the worker "hangs" mid-delivery, then dies
    first = OutboxWorker(svc.db, clock, poll_seconds=1, lease_seconds=30)
    first.register("test", stuck)
    first.start()
    await enqueue(svc, 7)
    first.notify()

    await asyncio.wait_for(stuck.entered.wait(), 10)  # leased and in the platform call
    await first.stop(grace_seconds=0)  # the crash
    rec = Recorder()
    second = OutboxWorker(svc.db, clock, poll_seconds=1, lease_seconds=30)
    second.register("test", rec)
    second.start()
    try:
        assert await second.run_once() == 0  # still leased by the dead worker
        clock.advance(31)
        second.notify()
        await rec.wait_for(1)
        assert rec.delivered == [("s1", 7)] and stuck.delivered == []
    finally:
        await second.stop()


def test_backoff_grows_and_honours_retry_after():
    delays = [backoff_seconds(a) for a in range(12)]
    assert delays[0] <= 1 and delays[5] >= 16 and max(delays) <= 600
    assert 42 <= backoff_seconds(0, retry_after=42) <= 43


async def test_delivered_rows_are_pruned_after_the_retention_and_the_rest_stay(svc):
    clock: FakeClock = svc.clock
    rec = Recorder()
    rec.failures[1] = [DeliveryError("refused for good", permanent=True)]
    svc.outbox.register("test", rec)
    svc.outbox.start()
    await enqueue(svc, 0, session="a")
    await enqueue(svc, 1, session="b")
    await rec.wait_for(1)
    await svc.outbox.wait_idle()

    async with svc.db.read() as tx:
        assert sorted(i.status for i in await q.list_items(tx, target="test")) == ["done", "failed"]
    clock.advance(6 * 86400)
    assert await svc.outbox.prune() == 0  # still within the 7 days
    clock.advance(2 * 86400)
    await enqueue(svc, 2, session="c")  # delivered now: young, kept
    await rec.wait_for(2)
    await svc.outbox.wait_idle()
    await svc.outbox.prune()  # (the worker may have done it already: it prunes hourly by itself)
    async with svc.db.read() as tx:
        left = {i.payload["n"]: i.status for i in await q.list_items(tx, target="test")}
    assert left == {1: "failed", 2: "done"}  # the failed one stays for a replay


class Statements:
    """Every SQL statement the database runs (SQLAlchemy's cursor event), with an event per statement."""

    def __init__(self, db: Any) -> None:
        self.count = 0
        self.texts: list[str] = []
        self.ran = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._engine = db.engine.sync_engine
        event.listen(self._engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        self.count += 1
        self.texts.append(statement)
        self._loop.call_soon_threadsafe(self.ran.set)

    async def none_within(self, seconds: float) -> bool:
        """True if no statement runs within ``seconds`` of real time (nothing announces an absence)."""
        self.ran.clear()
        try:
            await asyncio.wait_for(self.ran.wait(), seconds)
        except TimeoutError:
            return True
        return False

    def close(self) -> None:
        event.remove(self._engine, "before_cursor_execute", self._seen)


async def test_a_chain_is_due_by_its_head_and_nothing_runs_between_due_times(svc):
    """A backing-off head with due rows behind it: the worker sleeps until the head's retry (no
    query in between, however far the clock moves short of it), then delivers all three in order."""
    clock: FakeClock = svc.clock
    worker = OutboxWorker(svc.db, clock, poll_seconds=3600)  # no polling for other processes' rows
    rec = Recorder()
    rec.failures[0] = [DeliveryError("endpoint down", retry_after=30)]
    worker.register("test", rec)
    worker.start()
    statements = Statements(svc.db)
    try:
        for n in range(3):
            await enqueue(svc, n)
            worker.notify()
        await eventually(lambda: worker.next_ready_at is not None)
        async with svc.db.read() as tx:
            head = await q.chain_head(tx, "t1", "s1")
        assert head is not None and head.attempts == 1 and rec.delivered == []
        assert worker.next_ready_at == head.next_attempt_at  # asleep until the head's retry
        seen = statements.count
        for step in (10, 10, 9):  # up to 29 s of the >= 30 s
            clock.advance(step)
            assert await statements.none_within(0.3), "a query ran before the head was due"
        assert statements.count == seen and rec.delivered == []
        clock.advance(3)  # past retry_after (+ at most 10% jitter): no notify needed
        await rec.wait_for(3)
        assert [n for _, n in rec.delivered] == [0, 1, 2]
    finally:
        statements.close()
        await worker.stop()


async def test_a_dead_workers_lease_wakes_the_next_worker_when_it_expires(svc):
    clock: FakeClock = svc.clock
    stuck = Recorder()
    stuck.gate = asyncio.Event()  # never opened
    first = OutboxWorker(svc.db, clock, poll_seconds=3600, lease_seconds=30)
    first.register("test", stuck)
    first.start()
    await enqueue(svc, 7)
    first.notify()
    await asyncio.wait_for(stuck.entered.wait(), 10)
    await first.stop(grace_seconds=0)

    rec = Recorder()
    second = OutboxWorker(svc.db, clock, poll_seconds=3600, lease_seconds=30)
    second.register("test", rec)
    second.start()
    statements = Statements(svc.db)
    try:
        await eventually(lambda: second.next_ready_at is not None)  # it looked once, found the lease
        seen = statements.count
        clock.advance(29)
        assert await statements.none_within(0.3) and statements.count == seen
        clock.advance(1)  # the lease is over: the sleeping worker takes the row, unprompted
        await rec.wait_for(1)
        assert rec.delivered == [("s1", 7)] and stuck.delivered == []
    finally:
        statements.close()
        await second.stop()


async def test_chain_heads_gives_readiness_by_head_in_one_query(svc):
    clock: FakeClock = svc.clock
    async with svc.db.transaction() as tx:
        for n, (session, delay) in enumerate([("a", 50), ("a", 0), ("b", 20), ("c", 0)]):
            await q.enqueue(tx, project_id="p", target="test", target_id="t1", action="post",
                            payload={"n": n}, session_id=session, delay_seconds=delay)
    async with svc.db.transaction() as tx:
        [c_head] = [i for i in await q.list_items(tx, target="test") if i.session_id == "c"]
        assert await q.lease(tx, c_head.id, tx.now + timedelta(seconds=5))
    statements = Statements(svc.db)
    try:
        async with svc.db.read() as tx:
            heads = await q.chain_heads(tx, limit=10)
        assert [t for t in statements.texts if "outbox" in t] == statements.texts[-1:]
    finally:
        statements.close()
    now = clock.now()
    # "a" waits for its head (due in 50 s) although its second row is due now.
    assert heads == [("t1", "c", now + timedelta(seconds=5)), ("t1", "b", now + timedelta(seconds=20)),
                     ("t1", "a", now + timedelta(seconds=50))]


async def test_a_group_commits_leases_take_only_the_free_pending_rows_in_one_statement(svc):
    for n in range(4):
        await enqueue(svc, n, session=f"s{n}")
    async with svc.db.read() as tx:
        ids = sorted(i.id for i in await q.list_items(tx))
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    async with svc.db.transaction() as tx:
        assert await q.lease(tx, ids[0], tx.now + timedelta(seconds=30))  # someone else's lease
        await q.done_many(tx, [(ids[1], {"posted": 1})])  # delivered already
    event.listen(svc.db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        async with svc.db.transaction() as tx:
            assert await q.lease_many(tx, ids, tx.now + timedelta(seconds=30)) == {ids[2], ids[3]}
        async with svc.db.transaction() as tx:
            assert await q.lease_many(tx, ids, tx.now + timedelta(seconds=30)) == set()
    finally:
        event.remove(svc.db.engine.sync_engine, "before_cursor_execute", seen)
    updates = [s for s in statements if s.lstrip().upper().startswith(("UPDATE", "SELECT"))]
    assert len(updates) <= (4 if svc.db.backend == "mysql" else 2)  # not one per row
    svc.clock.advance(31)
    async with svc.db.transaction() as tx:
        assert await q.lease_many(tx, ids, tx.now + timedelta(seconds=30)) == {ids[0], ids[2], ids[3]}
        await q.done_many(tx, [(ids[0], None), (ids[2], {"posted": 2})])
        await q.retry_many(tx, [(ids[3], "boom", tx.now, True)])
    async with svc.db.read() as tx:
        rows = {i.id: i for i in await q.list_items(tx)}
    assert [rows[i].status for i in ids] == ["done", "done", "done", "failed"]
    assert rows[ids[2]].result == {"posted": 2} and rows[ids[3]].last_error == "boom"
    assert [rows[i].attempts for i in ids] == [1, 1, 1, 1]


async def test_posted_ids_are_recorded_once_however_often_a_retry_records_them(svc):
    from pocketping.store import bridges as bridge_repo
    from pocketping.store import projects as project_repo
    from pocketping.store import sessions as session_repo

    async with svc.db.transaction() as tx:
        await project_repo.insert_project(tx, id="proj_posted", name="P", public_key="pk_posted",
                                          secret_key_hash="h", secret_key_hint="x", allowed_origins=[], settings={})
        await session_repo.insert_session(tx, id="sess_posted", project_id="proj_posted", visitor_id="v",
                                          meta={}, ip=None, country=None)
        await session_repo.insert_item(tx, id="msg_posted", session_id="sess_posted", seq=1, kind="message",
                                       sender="visitor", source="widget", text="hi")
        await bridge_repo.insert_bridge(tx, id="brg_posted", project_id="proj_posted", type="telegram", config={})
    for ids in (["10", "11"], ["10", "11"], ["11", "12", "12"]):
        async with svc.db.transaction() as tx:
            await bridge_repo.record_posted(tx, "brg_posted", "msg_posted", ids)
    async with svc.db.read() as tx:
        assert await bridge_repo.posted_ids(tx, "brg_posted", "msg_posted") == ["10", "11", "12"]
        assert await bridge_repo.find_message_by_external(tx, "brg_posted", "12") == "msg_posted"
    # Several deliveries' records in one (group-committed) transaction: one statement for all.
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(svc.db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        async with svc.db.transaction() as tx:
            for n in range(3):
                await bridge_repo.record_posted(tx, "brg_posted", "msg_posted", [f"2{n}", f"3{n}"])
    finally:
        event.remove(svc.db.engine.sync_engine, "before_cursor_execute", seen)
    assert len([s for s in statements if s.lstrip().upper().startswith("INSERT")]) == 1
    async with svc.db.read() as tx:
        assert await bridge_repo.posted_ids(tx, "brg_posted", "msg_posted") == [
            "10", "11", "12", "20", "30", "21", "31", "22", "32"]


class RecordingTarget(Recorder):
    """A target whose outcome carries a write; the write of row 1 fails."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[int] = []

    def done_write(self, item: OutboxItem) -> Any:
        n = item.payload["n"]

        async def write(tx: Any) -> None:
            if n == 1:
                raise RuntimeError("the record cannot be written")
            self.written.append(n)
        return write


async def test_a_handlers_done_write_commits_with_the_outcome_and_a_failing_one_does_not_redeliver(svc):
    rec = RecordingTarget()
    svc.outbox.register("test", rec)
    svc.outbox.start()
    for n in range(3):
        await enqueue(svc, n)
    await rec.wait_for(3)
    await svc.outbox.wait_idle()
    assert [n for _, n in rec.delivered] == [0, 1, 2]  # row 1 delivered once, not again
    assert rec.written == [0, 2]
    async with svc.db.read() as tx:
        assert {i.payload["n"]: i.status for i in await q.list_items(tx)} == {0: "done", 1: "done", 2: "done"}


@pytest.mark.backends("postgresql")
async def test_reads_on_postgresql_take_no_transaction_and_see_each_commit(svc):
    """The worker's reads (chain heads, chain rows) cost no BEGIN/ROLLBACK round trip on
    PostgreSQL: the driver's connection is not in a transaction while they run."""
    await enqueue(svc, 0)
    async with svc.db.read() as tx:
        assert [i.payload["n"] for i in await q.chain_rows(tx, "t1", "s1", 16)] == [0]
        raw = await tx.conn.get_raw_connection()
        assert not raw.driver_connection.is_in_transaction()
        await enqueue(svc, 1)  # committed meanwhile: the next statement sees it
        assert [i.payload["n"] for i in await q.chain_rows(tx, "t1", "s1", 16)] == [0, 1]
    async with svc.db.transaction() as tx:  # writes keep their transaction
        raw = await tx.conn.get_raw_connection()
        await q.chain_heads(tx, 10)
        assert raw.driver_connection.is_in_transaction()


async def test_a_rows_outcome_and_the_next_rows_lease_share_one_commit(svc):
    for n in range(5):
        await enqueue(svc, n)
    commits: list[int] = []

    def committed(conn: Any) -> None:
        commits.append(1)

    event.listen(svc.db.engine.sync_engine, "commit", committed)
    rec = Recorder()
    svc.outbox.register("test", rec)
    try:
        svc.outbox.start()
        await rec.wait_for(5)
        await svc.outbox.wait_idle()
    finally:
        event.remove(svc.db.engine.sync_engine, "commit", committed)
    assert [n for _, n in rec.delivered] == [0, 1, 2, 3, 4]
    # The head's lease, then each outcome with the next row's lease: 6 commits, not 10 (on
    # PostgreSQL the head's lease, one statement, commits by itself: 5 transactions).
    assert len(commits) <= (5 if svc.db.backend == "postgresql" else 6)
    async with svc.db.read() as tx:
        items = await q.list_items(tx)
    assert {i.status for i in items} == {"done"} and all(i.attempts == 1 for i in items)


async def test_a_stopping_worker_gives_back_the_lease_it_took_ahead(svc):
    clock: FakeClock = svc.clock
    rec = Recorder()
    rec.gate = asyncio.Event()
    first = OutboxWorker(svc.db, clock, poll_seconds=1, lease_seconds=30)
    first.register("test", rec)
    for n in range(2):
        await enqueue(svc, n)
    first.start()
    first.notify()
    await asyncio.wait_for(rec.entered.wait(), 10)  # row 0 in the platform call
    stopping = asyncio.create_task(first.stop())
    await asyncio.sleep(0)  # stop has begun: row 0 finishes, row 1 (leased with its outcome) is not started
    rec.gate.set()
    await stopping
    assert [n for _, n in rec.delivered] == [0]
    second = OutboxWorker(svc.db, clock, poll_seconds=1, lease_seconds=30)
    second.register("test", rec)
    second.start()
    try:
        second.notify()
        await rec.wait_for(2)  # at once: no lease of the stopped worker's to wait out
        assert [n for _, n in rec.delivered] == [0, 1]
    finally:
        await second.stop()


@pytest.mark.backends("postgresql")
async def test_a_one_statement_write_commits_by_itself_on_postgresql(svc):
    await enqueue(svc, 0)
    async with svc.db.read() as tx:
        ids = [i.id for i in await q.list_items(tx)]
    async with svc.db.one_statement() as tx:
        assert await q.lease_many(tx, ids, tx.now + timedelta(seconds=30)) == set(ids)
        raw = await tx.conn.get_raw_connection()
        assert not raw.driver_connection.is_in_transaction()
        async with svc.db.transaction() as other:  # committed already: another worker cannot take it
            assert await q.lease_many(other, ids, other.now + timedelta(seconds=30)) == set()
