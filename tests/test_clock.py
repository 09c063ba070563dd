"""The clock's sleep-or-wake: its deadline is taken when it is called."""

from __future__ import annotations

import asyncio

from pocketping.clock import FakeClock, sleep_or_wake


async def test_a_clock_moved_before_the_sleeper_runs_still_wakes_it():
    # A worker computes how long to sleep, then the clock moves past that before its sleeper
    # task first runs (a test advancing a fake clock; a busy loop): it must wake, not wait again.
    clock = FakeClock()
    task = asyncio.ensure_future(sleep_or_wake(clock, 1.0, asyncio.Event()))
    await asyncio.sleep(0)  # the task has been called (its sleeper scheduled, not yet run)
    clock.advance(2)  # before its sleeper has run a step
    await asyncio.wait_for(task, 5)
    assert task.done()
