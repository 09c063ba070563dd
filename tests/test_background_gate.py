"""Deliveries give way to the chat: background database use goes through a narrow gate, and
the delivery concurrency narrows while the event loop falls behind."""

from __future__ import annotations

import asyncio

from pocketping.adaptive import AdaptiveLimit
from pocketping.clock import FakeClock
from pocketping.crypto import Keyring, generate_key, parse_key
from pocketping.store.db import Database, background


async def test_background_reads_take_turns_and_leave_the_pool_to_the_chat(fresh_db):
    db = Database(fresh_db.url, Keyring((parse_key(generate_key()),)), FakeClock())
    turns = 1 if fresh_db.backend == "sqlite" else 4
    release = asyncio.Event()
    reached, more = asyncio.Event(), asyncio.Event()
    inside = 0

    async def background_read() -> None:
        nonlocal inside
        with background():
            async with db.read():
                inside += 1
                (reached if inside == turns else more).set()
                if fresh_db.backend != "sqlite":  # (SQLite's one connection is taken: no nesting there)
                    async with db.read():  # nested use in the same task takes no second turn
                        pass
                await release.wait()

    tasks = [asyncio.create_task(background_read()) for _ in range(turns + 2)]
    try:
        await asyncio.wait_for(reached.wait(), 10)
        more.clear()
        try:  # the others wait for a turn (ungated, they would be in within milliseconds)
            await asyncio.wait_for(more.wait(), 0.5)
        except TimeoutError:
            pass
        assert inside == turns
        if fresh_db.backend != "sqlite":  # (SQLite has one connection for everyone anyway)
            async with asyncio.timeout(5):
                async with db.read() as tx:  # a visitor's read does not queue behind them
                    assert tx is not None
        release.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 10)
        assert inside == turns + 2
    finally:
        release.set()
        await db.dispose()


async def test_the_delivery_limit_narrows_when_the_loop_is_late_and_widens_when_it_keeps_up():
    limit = AdaptiveLimit(16, minimum=2)
    assert limit.limit == 2  # starts narrow, widens while the loop keeps up
    for _ in range(20):
        limit.observe(0.0)
    assert limit.limit == 16
    limit.observe(0.05)
    assert limit.limit == 11
    for _ in range(10):
        limit.observe(0.05)
    assert limit.limit == 2

    entered: list[int] = []
    gate = asyncio.Event()

    async def worker(n: int) -> None:
        async with limit:
            entered.append(n)
            await gate.wait()

    tasks = [asyncio.create_task(worker(n)) for n in range(4)]
    for _ in range(20):
        await asyncio.sleep(0)
    assert len(entered) == 2 and limit.in_use == 2
    limit.observe(0.0)  # the loop keeps up again: one more may go
    for _ in range(20):
        await asyncio.sleep(0)
    assert len(entered) == 3
    gate.set()
    await asyncio.gather(*tasks)
    assert sorted(entered) == [0, 1, 2, 3] and limit.in_use == 0


async def test_a_turn_given_to_a_cancelled_waiter_goes_to_the_next():
    limit = AdaptiveLimit(1, minimum=1)
    release = asyncio.Event()
    got: list[str] = []
    waiting: list[asyncio.Task[None]] = []

    async def take(name: str) -> None:
        async with limit:
            got.append(name)
            if name == "first":
                await release.wait()
                waiting[0].cancel()  # "second", next in line, is cancelled as the turn frees up

    first = asyncio.create_task(take("first"))
    for _ in range(5):
        await asyncio.sleep(0)
    waiting += [asyncio.create_task(take("second")), asyncio.create_task(take("third"))]
    for _ in range(5):
        await asyncio.sleep(0)
    release.set()
    await first
    await asyncio.wait_for(waiting[1], 5)
    assert got == ["first", "third"] and limit.in_use == 0
