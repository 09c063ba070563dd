"""A visitor typing shows as the bot typing in the conversation's threads (best effort, at
most every few seconds per thread)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from pocketping.clock import Clock
from pocketping.hub import Event
from pocketping.relay.live import LiveBridges
from pocketping.relay.threads import ThreadCache

log = logging.getLogger(__name__)

TYPING_INTERVAL = 5.0  # Telegram's typing indicator lasts about 5 s; Discord's about 10 s


class VisitorTyping:
    def __init__(self, live: LiveBridges, threads: ThreadCache, clock: Clock) -> None:
        self.live = live
        self.threads = threads
        self.clock = clock
        self._typing_at: dict[tuple[str, str], float] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    def on_event(self, event: Event) -> None:
        """A hub listener."""
        if event.type == "typing" and event.session_id and event.data.get("sender") == "visitor":
            if event.data.get("active", True):
                task = asyncio.create_task(self._typing(event.project_id, event.session_id))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        elif event.type == "message.created" and (event.data.get("message") or {}).get("sender") == "visitor":
            # A visitor's message ends the typing indicator on the platforms; let the next start afresh.
            for key in [k for k in self._typing_at if k[1] == event.session_id]:
                self._typing_at.pop(key, None)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    async def _typing(self, project_id: str, session_id: str) -> None:
        now = self.clock.now().timestamp()
        for bridge in self.live.project_bridges(project_id):
            key = (bridge.id, session_id)
            if now - self._typing_at.get(key, -1e9) < TYPING_INTERVAL:
                continue
            self._typing_at[key] = now
            try:
                thread = await self.threads.thread_of(bridge.id, session_id)
                if thread is not None:
                    await bridge.typing(thread)
            except Exception as exc:  # typing is best effort
                log.debug("typing on %s failed: %s", bridge.id, exc)
        if len(self._typing_at) > 50000:
            self._typing_at.clear()
