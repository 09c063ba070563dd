"""The live bridges: one running ``Bridge`` per configured bridge, started, restarted and
stopped as the configuration changes (no server restart)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from pocketping.bridges.base import Bridge, InboundSink
from pocketping.core.models import BridgeRecord
from pocketping.errors import DeliveryError
from pocketping.relay import runtime as rt
from pocketping.relay.health import BridgeHealth
from pocketping.relay.threads import ThreadCache
from pocketping.store.db import Database

log = logging.getLogger(__name__)

# Makes the bridge for a record (None: this server cannot run that platform).
BridgeMaker = Callable[[BridgeRecord], Bridge | None]


@dataclass
class Live:
    record: BridgeRecord
    fingerprint: bytes
    bridge: Bridge | None
    error: str | None = None


def fingerprint(record: BridgeRecord) -> bytes:
    return orjson.dumps({"type": record.type, "config": record.config}, option=orjson.OPT_SORT_KEYS)


class LiveBridges:
    def __init__(self, db: Database, make: BridgeMaker, sink: InboundSink, health: BridgeHealth,
                 threads: ThreadCache) -> None:
        self.db = db
        self.make = make
        self.sink = sink
        self.health = health
        self.threads = threads
        self.live: dict[str, Live] = {}
        self._lock = asyncio.Lock()

    async def sync(self) -> None:
        """Make the live bridges match the database (called when the configuration changed)."""
        async with self._lock:
            # Read under the lock: a sync that read earlier must not undo one that read later.
            records = {r.id: r for r in await rt.load_bridges(self.db)}
            for bridge_id in [b for b in self.live if b not in records]:
                await self._stop_one(bridge_id)
            for record in records.values():
                live = self.live.get(record.id)
                if live is not None and live.fingerprint == fingerprint(record):
                    live.record = record
                    continue
                if live is not None:
                    await self._stop_one(record.id)
                await self._start_one(record)

    async def stop_all(self) -> None:
        async with self._lock:
            for bridge_id in list(self.live):
                await self._stop_one(bridge_id)

    async def _start_one(self, record: BridgeRecord) -> Live:
        try:
            bridge = self.make(record)
            if bridge is None:
                live = Live(record, fingerprint(record), None, f"this server cannot run {record.type} bridges "
                                                               "(upgrade PocketPing)")
            else:
                await bridge.start(self.sink)
                live = Live(record, fingerprint(record), bridge)
        except Exception as exc:
            log.exception("bridge %s (%s) did not start", record.id, record.type)
            live = Live(record, fingerprint(record), None, f"could not start: {type(exc).__name__}: {exc}")
        self.live[record.id] = live
        self.health.forget(record.id)
        if live.error:
            await self.health.report(record.id, "error", live.error)
        log.info("bridge %s (%s) for %s started", record.id, record.type, record.project_id)
        return live

    async def _stop_one(self, bridge_id: str) -> None:
        live = self.live.pop(bridge_id, None)
        if live is not None and live.bridge is not None:
            try:
                await live.bridge.stop()
            except Exception:
                log.exception("bridge %s did not stop cleanly", bridge_id)
        self.threads.forget_bridge(bridge_id)

    async def instance(self, bridge_id: str) -> Bridge | None:
        """The live bridge; None if it no longer exists. Raises ``DeliveryError`` while it can't run."""
        live = self.live.get(bridge_id)
        if live is None:
            # Added a moment ago (before the configuration watcher noticed): start it now.
            async with self._lock:
                live = self.live.get(bridge_id)
                if live is None:
                    record = await rt.load_bridge(self.db, bridge_id)
                    if record is None:
                        return None
                    live = await self._start_one(record)
        if live.bridge is None:
            raise DeliveryError(live.error or "the bridge is not running", retry_after=30.0)
        return live.bridge

    def running(self, bridge_id: str) -> Bridge | None:
        live = self.live.get(bridge_id)
        return live.bridge if live is not None else None

    def project_bridges(self, project_id: str) -> list[Bridge]:
        return [lv.bridge for lv in self.live.values() if lv.bridge is not None and lv.record.project_id == project_id]

    def bridges_of_type(self, type_: str) -> list[Bridge]:
        """For platform HTTP routes that are not per bridge (Slack's one Events URL)."""
        return [lv.bridge for lv in self.live.values() if lv.bridge is not None and lv.record.type == type_]

    def record(self, bridge_id: str) -> BridgeRecord | None:
        live = self.live.get(bridge_id)
        return live.record if live else None
