"""The bridge manager: the relay's parts put together, none of them pointing back at it.

``live`` runs one ``Bridge`` per configured bridge; ``delivery`` is the outbox handler for
target "bridge"; ``sink`` takes what operators do in their threads; ``typing`` shows a
visitor typing in the threads; ``health`` records what ``bridge list`` shows.
"""

from __future__ import annotations

from collections.abc import Callable

from pocketping.clock import Clock
from pocketping.ephemeral import Delivered
from pocketping.hub import Hub
from pocketping.relay import runtime as rt
from pocketping.relay.delivery import BridgeDelivery
from pocketping.relay.health import BridgeHealth
from pocketping.relay.live import BridgeMaker, LiveBridges
from pocketping.relay.ports import Files, TeamActions
from pocketping.relay.sink import Sink
from pocketping.relay.threads import ThreadCache
from pocketping.relay.typing import VisitorTyping
from pocketping.store.db import Database


class ThreadNotices:
    """Posts a line into one thread through the outbox (a command's answer)."""

    def __init__(self, db: Database, outbox_wake: Callable[[], None]) -> None:
        self.db = db
        self.outbox_wake = outbox_wake

    async def post(self, project_id: str, bridge_id: str, session_id: str, text: str) -> None:
        await rt.post_notice(self.db, self.outbox_wake, project_id, bridge_id, session_id, text)


class BridgeManager:
    def __init__(self, db: Database, hub: Hub, clock: Clock, make: BridgeMaker, team: TeamActions,
                 delivered: Delivered, *, outbox_wake: Callable[[], None], max_text_chars: int,
                 public_base: str | None, project_ttl_seconds: float, files: Files | None = None) -> None:
        self.hub = hub
        self.health = BridgeHealth(db)
        self.threads = ThreadCache(db)
        self.sink = Sink(db, hub, team, ThreadNotices(db, outbox_wake), self.health,
                         max_text_chars=max_text_chars, public_base=public_base, files=files, threads=self.threads)
        self.live = LiveBridges(db, make, self.sink, self.health, self.threads)
        self.delivery = BridgeDelivery(db, self.live, self.health, self.threads, delivered,
                                       public_base=public_base, project_ttl_seconds=project_ttl_seconds, files=files)
        self.typing = VisitorTyping(self.live, self.threads, clock)
        self._unsubscribe: Callable[[], None] | None = None

    async def start(self) -> None:
        await self.live.sync()
        self._unsubscribe = self.hub.subscribe_all(self.typing.on_event)

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        await self.typing.stop()
        await self.live.stop_all()

    async def sync(self) -> None:
        """Make the live bridges match the database (called when the configuration changed)."""
        await self.live.sync()
