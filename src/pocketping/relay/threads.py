"""Which platform thread holds which session, per bridge: the database is the truth, this
keeps the recent ones at hand (typing asks often), and knows which bridges this process is
opening a thread on right now (an operator may answer in it before its mapping is stored)."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter, OrderedDict
from collections.abc import Iterator

from pocketping.relay import runtime as rt
from pocketping.store.db import Database

MAX_CACHED = 20_000


class ThreadCache:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._threads: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._opening: Counter[str] = Counter()  # bridge id -> threads being opened here
        self._changed: asyncio.Event | None = None  # set (and replaced) when an opening ends

    @contextlib.contextmanager
    def opening(self, bridge_id: str) -> Iterator[None]:
        """Around creating a thread on the platform and storing its mapping: meanwhile a reply
        in a thread this bridge does not know yet may be in that one (``Sink`` waits for it)."""
        self._opening[bridge_id] += 1
        try:
            yield
        finally:
            self._opening[bridge_id] -= 1
            if self._opening[bridge_id] <= 0:
                del self._opening[bridge_id]
            changed, self._changed = self._changed, None
            if changed is not None:
                changed.set()

    def opening_here(self, bridge_id: str) -> bool:
        return self._opening[bridge_id] > 0 if bridge_id in self._opening else False

    async def opening_ended(self, timeout: float) -> None:
        """Returns when an opening ends in this process, or after ``timeout`` seconds."""
        if self._changed is None:
            self._changed = asyncio.Event()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)

    def remember(self, bridge_id: str, session_id: str, thread_id: str) -> None:
        self._threads[(bridge_id, session_id)] = thread_id
        self._threads.move_to_end((bridge_id, session_id))
        while len(self._threads) > MAX_CACHED:
            self._threads.popitem(last=False)

    def forget_bridge(self, bridge_id: str) -> None:
        for key in [k for k in self._threads if k[0] == bridge_id]:
            self._threads.pop(key, None)

    async def thread_of(self, bridge_id: str, session_id: str) -> str | None:
        cached = self._threads.get((bridge_id, session_id))
        if cached is not None:
            return cached
        thread = await rt.find_thread(self.db, bridge_id, session_id)
        if thread is None:
            return None
        self.remember(bridge_id, session_id, thread.external_id)
        return thread.external_id
