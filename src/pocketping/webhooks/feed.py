"""Following a project's public events live, from a durable cursor (the SSE stream)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from pocketping.hub import Event, Hub
from pocketping.store import event_log
from pocketping.store.db import Database
from pocketping.store.event_log import LoggedEvent

HEARTBEAT_SECONDS = 15.0
PAGE = 200


async def follow(db: Database, hub: Hub, project_id: str, after: int, *, poll_seconds: float,
                 types: tuple[str, ...] | None = None) -> AsyncIterator[list[LoggedEvent]]:
    """Yield batches of events with seq > ``after``, in order, forever; an empty batch means
    "nothing for a while" (time for a heartbeat).

    This process's hub wakes the loop at once; the poll catches events committed by other
    nodes. Reading from the log rather than from the hub is what makes a resume lossless.
    """
    wake = asyncio.Event()

    def on_event(_event: Event) -> None:
        wake.set()

    unsubscribe = hub.subscribe_project(project_id, on_event)
    poll = poll_seconds
    cursor = after
    loop = asyncio.get_running_loop()
    try:
        last_sent = loop.time()
        while True:
            wake.clear()
            async with db.read() as tx:
                batch = await event_log.after(tx, project_id, cursor, limit=PAGE, types=types)
            if batch:
                cursor = batch[-1].seq
                last_sent = loop.time()
                yield batch
                continue
            if loop.time() - last_sent >= HEARTBEAT_SECONDS:
                last_sent = loop.time()
                yield []
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), poll)
    finally:
        unsubscribe()
