"""Following a project's public events live, from a durable cursor (the SSE stream)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from pocketping.actions.events import list_public_events
from pocketping.hub import Event
from pocketping.services import Services
from pocketping.store.event_log import LoggedEvent

HEARTBEAT_SECONDS = 15.0
PAGE = 200


async def follow(svc: Services, project_id: str, after: int, *, types: tuple[str, ...] | None = None,
                 poll_seconds: float | None = None) -> AsyncIterator[list[LoggedEvent]]:
    """Yield batches of events with seq > ``after``, in order, forever; an empty batch means
    "nothing for a while" (time for a heartbeat).

    This process's hub wakes the loop at once; the poll catches events committed by other
    nodes. Reading from the log rather than from the hub is what makes a resume lossless.
    """
    wake = asyncio.Event()

    def on_event(_event: Event) -> None:
        wake.set()

    unsubscribe = svc.hub.subscribe_project(project_id, on_event)
    poll = poll_seconds if poll_seconds is not None else max(0.2, svc.settings.outbox_poll_seconds)
    cursor = after
    loop = asyncio.get_running_loop()
    try:
        last_sent = loop.time()
        while True:
            wake.clear()
            batch = await list_public_events(svc, project_id, cursor, limit=PAGE, types=types)
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
