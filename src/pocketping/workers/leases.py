"""Leases: one process at a time holds each single platform connection (a Telegram poller,
a Discord gateway, a Slack Socket Mode socket).

A lease is a row with a holder, an expiry and a fencing token that grows with every new
holder. The holder renews it every third of ``POCKETPING_LEASE_SECONDS``; a process that
cannot renew (the row expired and was taken, or the database is away for longer than the
lease) stops that connection at once. A process that dies simply stops renewing: another
takes the lease once it expired, within a lease and a renewal interval. The same rows work
on SQLite, PostgreSQL and MariaDB.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from pocketping.clock import Clock
from pocketping.store import cluster as q
from pocketping.store.db import Database

log = logging.getLogger(__name__)


class LeaseKeeper:
    """Claims, renews and gives up named leases for one node. ``wanted`` says which names this
    node would like to hold; ``on_gained``/``on_lost`` start and stop what they guard."""

    def __init__(self, db: Database, clock: Clock, holder: str, *, lease_seconds: float) -> None:
        self.db = db
        self.clock = clock
        self.holder = holder
        self.ttl = timedelta(seconds=lease_seconds)
        self.every = lease_seconds / 3
        self.held: dict[str, int] = {}  # name -> fencing token
        self._renewed: dict[str, float] = {}  # name -> when it was last claimed or renewed
        self.wanted: Callable[[], list[str]] = list
        self.on_gained: Callable[[str], Awaitable[None]] | None = None
        self.on_lost: Callable[[str], Awaitable[None]] | None = None
        self._task: asyncio.Task[None] | None = None

    def holds(self, name: str) -> bool:
        return name in self.held

    async def claim(self, name: str) -> bool:
        """Take the lease now if it is free (or ours); False while another node holds it."""
        try:
            async with self.db.transaction() as tx:
                token = await q.acquire(tx, name, self.holder, self.ttl)
        except Exception:
            log.warning("could not claim lease %s", name, exc_info=True)
            return False
        if token is None:
            return False
        if self.held.get(name) not in (None, token):
            log.warning("lease %s was lost and taken again (token %s)", name, token)
        self.held[name] = token
        self._renewed[name] = self.clock.now().timestamp()
        return True

    async def give_up(self, name: str) -> None:
        token = self.held.pop(name, None)
        self._renewed.pop(name, None)
        if token is None:
            return
        with contextlib.suppress(Exception):
            async with self.db.transaction() as tx:
                await q.release(tx, name, self.holder, token)

    async def renew_all(self) -> None:
        """One round: renew what is held (drop what was lost), claim what is wanted and free."""
        for name, token in list(self.held.items()):
            try:
                async with self.db.transaction() as tx:
                    kept = await q.renew(tx, name, self.holder, token, self.ttl)
                if kept:
                    self._renewed[name] = self.clock.now().timestamp()
            except Exception:
                log.warning("could not renew lease %s", name, exc_info=True)
                # An outage shorter than the lease costs nothing; a longer one means another
                # node may hold it by now.
                kept = self.clock.now().timestamp() - self._renewed.get(name, 0.0) < self.ttl.total_seconds()
            if not kept:
                log.warning("lost lease %s: stopping it here", name)
                self.held.pop(name, None)
                self._renewed.pop(name, None)
                if self.on_lost is not None:
                    await self.on_lost(name)
        for name in self.wanted():
            if name not in self.held and await self.claim(name):
                log.info("took lease %s (token %s)", name, self.held[name])
                if self.on_gained is not None:
                    await self.on_gained(name)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="leases")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for name in list(self.held):
            await self.give_up(name)

    async def _run(self) -> None:
        while True:
            await self.clock.sleep(self.every)
            try:
                await self.renew_all()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("lease round failed")
