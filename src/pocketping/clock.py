"""Injected time, so timers (AI delay, retries, presence) can be tested without sleeping."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class FakeClock:
    """A clock that only moves when told. Safe to advance from another thread or loop."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2030, 1, 1, tzinfo=UTC)
        self._lock = threading.Lock()
        self._sleepers: list[tuple[datetime, int, asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._counter = itertools.count()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    async def sleep(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        with self._lock:
            due = self._now + timedelta(seconds=max(0.0, seconds))
            if due <= self._now:
                fut.set_result(None)
            else:
                heapq.heappush(self._sleepers, (due, next(self._counter), loop, fut))
        # Give real time a chance too: tasks awaiting a fake sleep still yield.
        await fut

    def due(self) -> list[datetime]:
        """When the tasks sleeping on this clock wake up, earliest first (tests wait for a sleeper
        before they move the clock)."""
        with self._lock:
            return sorted(due for due, *_ in self._sleepers)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)
            woken = []
            while self._sleepers and self._sleepers[0][0] <= self._now:
                woken.append(heapq.heappop(self._sleepers))
        for _, _, loop, fut in woken:
            loop.call_soon_threadsafe(_resolve, fut)

    def set(self, when: datetime) -> None:
        delta = (when - self.now()).total_seconds()
        if delta > 0:
            self.advance(delta)


async def sleep_or_wake(clock: Clock, seconds: float, wake: asyncio.Event) -> None:
    """Sleep on ``clock`` until ``seconds`` have passed or ``wake`` is set, whichever is first
    (background loops that poll, and are woken early when there is news)."""
    # The deadline is taken now, not when the sleeper task first runs: a clock that moved in
    # between (a fake one advanced, a busy loop) must not push the wake-up further out.
    until = clock.now() + timedelta(seconds=max(0.0, seconds))

    async def sleep() -> None:
        await clock.sleep(max(0.0, (until - clock.now()).total_seconds()))

    sleeper = asyncio.ensure_future(sleep())
    waker = asyncio.ensure_future(wake.wait())
    try:
        await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        sleeper.cancel()
        waker.cancel()


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
