"""Polls the configuration version so CLI changes reach this running server within seconds."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from pocketping.clock import Clock, sleep_or_wake
from pocketping.store import projects as project_repo
from pocketping.store.db import Database

log = logging.getLogger(__name__)


class ConfigWatcher:
    def __init__(self, db: Database, clock: Clock, poll_seconds: float) -> None:
        self.db = db
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.version: str | None = None  # None until the first poll ("" is a real value: never bumped)
        self.listeners: list[Callable[[], Awaitable[None]]] = []
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Another node said the configuration changed: look now rather than at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                async with self.db.read() as tx:
                    version = await project_repo.config_version(tx)
                if version != self.version:
                    first = self.version is None
                    self.version = version
                    if not first:
                        for listener in self.listeners:
                            await listener()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("could not poll the configuration version")
            await sleep_or_wake(self.clock, self.poll_seconds, self._wake)
            self._wake.clear()
