"""Node heartbeats: every process writes a row in ``nodes`` now and then, so ``pocketping
status`` lists who runs, and a second web process on a database without Redis is refused
(it would neither see the first one's live updates nor they its)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from datetime import timedelta

from pocketping.clock import Clock
from pocketping.errors import ConfigurationError
from pocketping.store import cluster as q
from pocketping.store.db import Database

log = logging.getLogger(__name__)

MISSED_BEATS = 3  # a node silent for this many heartbeats counts as gone

SECOND_WEB_WITHOUT_REDIS = (
    "another PocketPing web process ({other}) runs on this database without Redis: live updates would not "
    "reach between them. Set POCKETPING_REDIS_URL (e.g. redis://127.0.0.1:6379/0) on every node to run "
    "several, or stop the other one")


def _alive_here(host: str, pid: int) -> bool:
    """False only when we can tell: the same machine and no such process."""
    if host != socket.gethostname():
        return True
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class NodeHeartbeat:
    def __init__(self, db: Database, clock: Clock, node_id: str, role: str, *, redis: bool,
                 every_seconds: float) -> None:
        self.db = db
        self.clock = clock
        self.row = q.NodeRow(id=node_id, role=role, host=socket.gethostname(), pid=os.getpid(), redis=redis,
                             started_at=clock.now(), heartbeat_at=clock.now())
        self.every = every_seconds
        self._task: asyncio.Task[None] | None = None

    @property
    def window(self) -> timedelta:
        return timedelta(seconds=self.every * MISSED_BEATS)

    async def check_alone(self) -> None:
        """Raises ``ConfigurationError`` if this is a web process without Redis and another web
        process is alive on the database."""
        if self.row.redis or "web" not in self.row.role:
            return
        async with self.db.read() as tx:
            others = await q.live_nodes(tx, self.window)
        for node in others:
            if node.id != self.row.id and "web" in node.role and _alive_here(node.host, node.pid):
                raise ConfigurationError(SECOND_WEB_WITHOUT_REDIS.format(
                    other=f"node {node.id}, pid {node.pid} on {node.host}"), code="second_node_without_redis")

    async def beat(self) -> None:
        async with self.db.transaction() as tx:
            await q.beat(tx, self.row)

    async def start(self) -> None:
        await self.check_alone()
        await self.beat()
        with contextlib.suppress(Exception):
            async with self.db.transaction() as tx:
                await q.prune_nodes(tx, timedelta(days=1))
        self._task = asyncio.create_task(self._run(), name="node-heartbeat")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(Exception):
            async with self.db.transaction() as tx:
                await q.forget_node(tx, self.row.id)

    async def _run(self) -> None:
        while True:
            await self.clock.sleep(self.every)
            try:
                await self.beat()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("could not write this node's heartbeat", exc_info=True)
