"""The live bridges: one running ``Bridge`` per configured bridge, started, restarted and
stopped as the configuration changes (no server restart)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import orjson

from pocketping.bridges.base import Bridge, InboundSink
from pocketping.core.models import BridgeRecord
from pocketping.errors import DeliveryError
from pocketping.relay import runtime as rt
from pocketping.relay.health import BridgeHealth
from pocketping.relay.threads import ThreadCache
from pocketping.store.db import Database

log = logging.getLogger(__name__)

# After a platform said another process holds a connection, this node leaves it alone this long.
CONFLICT_PAUSE_SECONDS = 10.0

# Makes the bridge for a record (None: this server cannot run that platform).
BridgeMaker = Callable[[BridgeRecord], Bridge | None]


@dataclass
class Live:
    record: BridgeRecord
    fingerprint: bytes
    bridge: Bridge | None
    error: str | None = None
    started: bool = False  # its platform connection runs here (this node holds the lease)


class Ownership(Protocol):
    """Who may run a bridge's single platform connection (``workers.leases`` with several nodes).
    A bridge whose lease another node holds is made here for deliveries, but not started."""

    async def claim(self, name: str) -> bool: ...

    async def give_up(self, name: str) -> None: ...

    def holds(self, name: str) -> bool: ...


def lease_name(bridge_id: str) -> str:
    return f"bridge:{bridge_id}"


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
        self.ownership: Ownership | None = None
        self._restarts: set[asyncio.Task[None]] = set()
        self._conflicts: dict[str, float] = {}  # bridge id -> until when this node leaves it alone

    def use_ownership(self, ownership: Ownership) -> None:
        """Several nodes: run a bridge's connection only while holding its lease; write its
        state only then; give the lease up when the platform says another process has it."""
        self.ownership = ownership
        setter = getattr(self.sink, "may_save", None)
        if setter is not None:
            self.sink.may_save = lambda bridge_id: ownership.holds(lease_name(bridge_id))  # type: ignore[attr-defined]
            self.sink.on_conflict = self._conflict  # type: ignore[attr-defined]

    def _conflict(self, bridge_id: str) -> bool:
        if self.ownership is None:
            return False

        self._conflicts[bridge_id] = time.monotonic() + CONFLICT_PAUSE_SECONDS

        async def give_up() -> None:
            assert self.ownership is not None
            await self.ownership.give_up(lease_name(bridge_id))
            await self.restart(lease_name(bridge_id))

        log.warning("bridge %s: another process holds its platform connection; giving up the lease", bridge_id)
        task = asyncio.get_running_loop().create_task(give_up())
        self._restarts.add(task)
        task.add_done_callback(self._restarts.discard)
        return True

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
                live = Live(record, fingerprint(record), bridge)
                if self.ownership is None or (not self._paused(record.id)
                                              and await self.ownership.claim(lease_name(record.id))):
                    await bridge.start(self.sink)
                    live.started = True
        except Exception as exc:
            log.exception("bridge %s (%s) did not start", record.id, record.type)
            live = Live(record, fingerprint(record), None, f"could not start: {type(exc).__name__}: {exc}")
        self.live[record.id] = live
        self.health.forget(record.id)
        if live.error:
            await self.health.report(record.id, "error", live.error)
        log.info("bridge %s (%s) for %s %s", record.id, record.type, record.project_id,
                 "started" if live.started or live.bridge is None else "ready for deliveries (another node "
                 "holds its platform connection)")
        return live

    async def _stop_one(self, bridge_id: str) -> None:
        live = self.live.pop(bridge_id, None)
        if live is not None and live.bridge is not None:
            try:
                await live.bridge.stop()
            except Exception:
                log.exception("bridge %s did not stop cleanly", bridge_id)
        if live is not None and live.started and self.ownership is not None:
            await self.ownership.give_up(lease_name(bridge_id))
        self.threads.forget_bridge(bridge_id)

    def wanted_leases(self) -> list[str]:
        """The leases of the bridges made here whose connection runs elsewhere."""
        return [lease_name(b) for b, lv in self.live.items()
                if lv.bridge is not None and not lv.started and not self._paused(b)]

    def _paused(self, bridge_id: str) -> bool:
        until = self._conflicts.get(bridge_id)
        if until is None:
            return False
        if time.monotonic() >= until:
            del self._conflicts[bridge_id]
            return False
        return True

    async def restart(self, name: str) -> None:
        """The lease ``name`` was gained or lost: make the bridge again from its stored state
        (a new holder resumes where the last one saved) and start it if it is ours now."""
        bridge_id = name.removeprefix("bridge:")
        async with self._lock:
            if bridge_id not in self.live:
                return
            live = self.live.pop(bridge_id)
            if live.bridge is not None:
                try:
                    await live.bridge.stop()
                except Exception:
                    log.exception("bridge %s did not stop cleanly", bridge_id)
            self.threads.forget_bridge(bridge_id)
            record = await rt.load_bridge(self.db, bridge_id)
            if record is not None:
                await self._start_one(record)

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
