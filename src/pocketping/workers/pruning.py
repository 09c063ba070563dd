"""Hourly clean-up: delivered outbox rows past their retention, public events past theirs,
and the record of platform ids already seen (inbound dedupe)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from pocketping.clock import Clock
from pocketping.store import bridges as bridge_repo
from pocketping.store import event_log
from pocketping.store.db import Database

log = logging.getLogger(__name__)

PRUNE_EVERY_SECONDS = 3600.0
SEEN_DAYS = 14  # platform ids are redelivered within minutes; two weeks is plenty


async def prune_event_log(db: Database, retention_days: int) -> int:
    async with db.transaction() as tx:
        removed = await event_log.prune(tx, tx.now - timedelta(days=retention_days))
    if removed:
        log.info("pruned %d events older than %d days", removed, retention_days)
    return removed


async def prune_inbound_seen(db: Database) -> int:
    async with db.transaction() as tx:
        return await bridge_repo.prune_seen(tx, tx.now - timedelta(days=SEEN_DAYS))


class Pruner:
    """Runs each job now and then every hour (on the injected clock); a failing job is logged
    and tried again at the next round."""

    def __init__(self, clock: Clock, jobs: list[tuple[str, Callable[[], Awaitable[object]]]], *,
                 every_seconds: float = PRUNE_EVERY_SECONDS) -> None:
        self.clock = clock
        self.jobs = jobs
        self.every_seconds = every_seconds
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="pruning")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def run_once(self) -> None:
        for name, job in self.jobs:
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("could not prune %s", name)

    async def _run(self) -> None:
        while True:
            await self.run_once()
            await self.clock.sleep(self.every_seconds)
