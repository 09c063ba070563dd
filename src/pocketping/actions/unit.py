"""The unit of work every action runs in."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from pocketping.actions.services import Services
from pocketping.store.db import Tx


@contextlib.asynccontextmanager
async def unit_of_work(svc: Services) -> AsyncIterator[Tx]:
    """One transaction; before it commits, every planner (``svc.planners``) writes the outbox
    rows its events need; once committed, the events are published."""
    async with svc.db.transaction() as tx:
        yield tx
        # Planners may emit follow-up events; walk the list as it grows.
        i = 0
        while i < len(tx.events):
            for planner in svc.planners:
                await planner(tx, tx.events[i])
            i += 1
    # Committed: now the world may hear of it.
    for event in tx.events:
        svc.hub.publish(event)
    for callback in tx.after_commit:
        callback()
    if tx.outbox_rows:
        svc.outbox_committed()
