"""Which platform thread holds which session, per bridge: the database is the truth, this
keeps the recent ones at hand (typing asks often)."""

from __future__ import annotations

from collections import OrderedDict

from pocketping.relay import runtime as rt
from pocketping.store.db import Database

MAX_CACHED = 20_000


class ThreadCache:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._threads: OrderedDict[tuple[str, str], str] = OrderedDict()

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
