"""A concurrency limit that gives way to the chat when the process is busy.

Deliveries to chat apps and webhooks mostly wait on the network, so many may run at once.
When the platforms answer at once (a self-hosted API, a burst on a fast network) they are
CPU work instead, and many of them at once fill the event loop's queue: a visitor's message
then waits behind them for its acknowledgement. ``AdaptiveLimit`` watches how late the event
loop runs its callbacks while deliveries are under way and narrows the limit when the loop
falls behind (multiplicative decrease), widening it again while it keeps up (additive
increase). It starts narrow and widens within about a second while the loop keeps up.

Together with the database gate for background work (``pocketping.store.db.background``),
measured on 2 cores with the three platform fakes answering at once, 100 visitor messages per
second on PostgreSQL: visitor acks p50 360 -> 110 ms, p99 3.2 s -> 0.21 s, and slightly more
deliveries per second (less contention), not fewer.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

LATE = 0.005  # the loop ran a callback this late (s): narrow
ON_TIME = 0.002  # ... this close to on time: widen
TICK = 0.02


class AdaptiveLimit:
    def __init__(self, maximum: int, minimum: int = 4) -> None:
        self.maximum = maximum
        self.minimum = min(minimum, maximum)
        self._limit = float(self.minimum)  # grows within a second or so while the loop keeps up
        self.in_use = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._busy = asyncio.Event()
        self._watcher: asyncio.Task[None] | None = None

    @property
    def limit(self) -> int:
        return max(self.minimum, int(self._limit))

    async def __aenter__(self) -> None:
        while self.in_use >= self.limit:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
                self._wake()  # a turn it was given goes to the next in line
                raise
            finally:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
        self.in_use += 1
        self._busy.set()

    async def __aexit__(self, *_exc: object) -> None:
        self.in_use -= 1
        if self.in_use == 0:
            self._busy.clear()
        self._wake()

    def _wake(self) -> None:
        free = self.limit - self.in_use
        for waiter in list(self._waiters):
            if free <= 0:
                break
            if not waiter.done():  # (a cancelled one may still be in line: it takes no turn)
                waiter.set_result(None)
                free -= 1

    def observe(self, lateness: float) -> None:
        """One reading of the event loop's lateness (seconds)."""
        if lateness > LATE:
            self._limit = max(float(self.minimum), self._limit * 0.7)
        elif lateness < ON_TIME and self._limit < self.maximum:
            self._limit = min(float(self.maximum), self._limit + 1)
            self._wake()

    def start(self) -> None:
        if self._watcher is None and self.maximum > self.minimum:
            self._watcher = asyncio.create_task(self._watch(), name="outbox-loop-watch")

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._busy.wait()  # nothing to measure (or to cost) while no delivery runs
            started = loop.time()
            await asyncio.sleep(TICK)  # the real loop's lateness, whatever clock the worker uses
            self.observe(loop.time() - started - TICK)
