"""The unit of work every action runs in."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from pocketping.hub import Event
from pocketping.services import Services
from pocketping.store.db import Tx

# A planner turns a committed-to-be event into outbox rows, inside the same transaction.
# Feature modules (bridges, webhooks, AI) append theirs in pocketping.actions.fanout.
Planner = Callable[[Tx, Event], Awaitable[None]]


@contextlib.asynccontextmanager
async def unit_of_work(svc: Services) -> AsyncIterator[Tx]:
    from pocketping.actions.fanout import PLANNERS

    async with svc.db.transaction() as tx:
        yield tx
        # Planners may emit follow-up events; walk the list as it grows.
        i = 0
        while i < len(tx.events):
            for planner in PLANNERS:
                await planner(tx, tx.events[i])
            i += 1
    # Committed: now the world may hear of it.
    for event in tx.events:
        svc.hub.publish(event)
    for callback in tx.after_commit:
        callback()
    if tx.outbox_rows:
        svc.outbox_committed()

