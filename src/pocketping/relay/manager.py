"""The bridge manager: one live ``Bridge`` per configured bridge, started, restarted and
stopped as the configuration changes (no server restart), plus the outbox handler, the
inbound sink, visitor typing and operator presence."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from pocketping.actions import bridge_runtime as rt
from pocketping.actions.bridges import prune_inbound_seen
from pocketping.bridges.base import Bridge
from pocketping.bridges.deps import BridgeDeps
from pocketping.bridges.platforms import BridgeFactory
from pocketping.core.models import BridgeRecord
from pocketping.errors import DeliveryError
from pocketping.hub import Event
from pocketping.relay.delivery import BridgeDelivery
from pocketping.relay.presence import PresenceTracker
from pocketping.relay.sink import Sink
from pocketping.services import Services

log = logging.getLogger(__name__)

TYPING_INTERVAL = 5.0  # Telegram's typing indicator lasts about 5 s; Discord's about 10 s
MAINTENANCE_SECONDS = 3600.0


@dataclass
class Live:
    record: BridgeRecord
    fingerprint: bytes
    bridge: Bridge | None
    error: str | None = None


def fingerprint(record: BridgeRecord) -> bytes:
    return orjson.dumps({"type": record.type, "config": record.config}, option=orjson.OPT_SORT_KEYS)


class BridgeManager:
    def __init__(self, svc: Services, deps: BridgeDeps, platforms: Mapping[str, BridgeFactory]) -> None:
        self.svc = svc
        self.deps = deps  # what every bridge is made with
        self.platforms = platforms  # bridge type -> create(record, deps)
        self.live: dict[str, Live] = {}
        self.sink = Sink(self)
        self.delivery = BridgeDelivery(self)
        self.presence = PresenceTracker(svc)
        self._lock = asyncio.Lock()
        # What was last written for each bridge, and its two sources: the receiver (polling,
        # gateway, socket mode: it says "active" or "error" itself) and deliveries (an error
        # until the next delivery succeeds). A receiver's error outlives successful deliveries.
        self._status: dict[str, tuple[str, str | None]] = {}
        self._receiver: dict[str, tuple[str, str | None]] = {}
        self._delivery_error: dict[str, str] = {}
        self._threads: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._typing_at: dict[tuple[str, str], float] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._unsubscribe: list[Any] = []
        self._maintenance: asyncio.Task[None] | None = None

    # --- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        self.svc.outbox.register("bridge", self.delivery)
        await self.sync()
        watcher = self.svc.extras.get("config_watcher")
        if watcher is not None:
            watcher.listeners.append(self.sync)
        self._unsubscribe.append(self.svc.hub.subscribe_all(self._on_event))
        await self.presence.start()
        self._maintenance = asyncio.create_task(self._maintain(), name="bridge-maintenance")

    async def stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        if self._maintenance is not None:
            self._maintenance.cancel()
        await self.presence.stop()
        for task in list(self._tasks):
            task.cancel()
        async with self._lock:
            for bridge_id in list(self.live):
                await self._stop_one(bridge_id)

    async def sync(self) -> None:
        """Make the live bridges match the database (called when the configuration changed)."""
        async with self._lock:
            # Read under the lock: a sync that read earlier must not undo one that read later.
            records = {r.id: r for r in await rt.load_bridges(self.svc)}
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

    async def _start_one(self, record: BridgeRecord) -> Live:
        factory = self.platforms.get(record.type)
        if factory is None:
            live = Live(record, fingerprint(record), None, f"this server cannot run {record.type} bridges "
                                                           "(upgrade PocketPing)")
        else:
            try:
                bridge = factory(record, self.deps)
                await bridge.start(self.sink)
                live = Live(record, fingerprint(record), bridge)
            except Exception as exc:
                log.exception("bridge %s (%s) did not start", record.id, record.type)
                live = Live(record, fingerprint(record), None, f"could not start: {type(exc).__name__}: {exc}")
        self.live[record.id] = live
        for known in (self._status, self._receiver, self._delivery_error):
            known.pop(record.id, None)
        if live.error:
            await self.report(record.id, "error", live.error)
        log.info("bridge %s (%s) for %s started", record.id, record.type, record.project_id)
        return live

    async def _stop_one(self, bridge_id: str) -> None:
        live = self.live.pop(bridge_id, None)
        if live is not None and live.bridge is not None:
            try:
                await live.bridge.stop()
            except Exception:
                log.exception("bridge %s did not stop cleanly", bridge_id)
        for key in [k for k in self._threads if k[0] == bridge_id]:
            self._threads.pop(key, None)

    async def instance(self, bridge_id: str) -> Bridge | None:
        """The live bridge; None if it no longer exists. Raises ``DeliveryError`` while it can't run."""
        live = self.live.get(bridge_id)
        if live is None:
            # Added a moment ago (before the configuration watcher noticed): start it now.
            async with self._lock:
                live = self.live.get(bridge_id)
                if live is None:
                    record = await rt.load_bridge(self.svc, bridge_id)
                    if record is None:
                        return None
                    live = await self._start_one(record)
        if live.bridge is None:
            raise DeliveryError(live.error or "the bridge is not running", retry_after=30.0)
        return live.bridge

    def project_bridges(self, project_id: str) -> list[Bridge]:
        return [lv.bridge for lv in self.live.values() if lv.bridge is not None and lv.record.project_id == project_id]

    def bridges_of_type(self, type_: str) -> list[Bridge]:
        """For platform HTTP routes that are not per bridge (Slack's one Events URL)."""
        return [lv.bridge for lv in self.live.values() if lv.bridge is not None and lv.record.type == type_]

    def record(self, bridge_id: str) -> BridgeRecord | None:
        live = self.live.get(bridge_id)
        return live.record if live else None

    # --- health ------------------------------------------------------------------------
    async def report(self, bridge_id: str, status: str, detail: str | None = None) -> None:
        """The receiver's own word on its connection."""
        self._receiver[bridge_id] = (status, detail)
        await self._write_status(bridge_id)

    async def delivery_failed(self, bridge_id: str, detail: str) -> None:
        self._delivery_error[bridge_id] = detail
        await self._write_status(bridge_id)

    async def delivered_ok(self, bridge_id: str) -> None:
        if self._delivery_error.pop(bridge_id, None) is not None or bridge_id not in self._status:
            await self._write_status(bridge_id)

    async def _write_status(self, bridge_id: str) -> None:
        receiver = self._receiver.get(bridge_id)
        delivery = self._delivery_error.get(bridge_id)
        if receiver is not None and receiver[0] == "error":
            status = receiver
        elif delivery is not None:
            status = ("error", delivery)
        else:
            status = receiver or ("active", None)
        if self._status.get(bridge_id) == status:
            return
        self._status[bridge_id] = status
        try:
            await rt.set_bridge_status(self.svc, bridge_id, *status)
        except Exception:
            log.exception("could not record the status of bridge %s", bridge_id)

    # --- threads cache (typing needs it often; the database is the truth) ----------------
    def remember_thread(self, bridge_id: str, session_id: str, thread_id: str) -> None:
        self._threads[(bridge_id, session_id)] = thread_id
        self._threads.move_to_end((bridge_id, session_id))
        while len(self._threads) > 20000:
            self._threads.popitem(last=False)

    async def thread_of(self, bridge_id: str, session_id: str) -> str | None:
        cached = self._threads.get((bridge_id, session_id))
        if cached is not None:
            return cached
        thread = await rt.find_thread(self.svc, bridge_id, session_id)
        if thread is None:
            return None
        self.remember_thread(bridge_id, session_id, thread.external_id)
        return thread.external_id

    # --- hub ---------------------------------------------------------------------------
    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_event(self, event: Event) -> None:
        if event.type == "typing" and event.session_id and event.data.get("sender") == "visitor":
            if event.data.get("active", True):
                self._spawn(self._visitor_typing(event.project_id, event.session_id))
        elif event.type == "presence":
            self.presence.told(event.project_id, bool(event.data.get("online")))
        elif event.type == "message.created" and (event.data.get("message") or {}).get("sender") == "operator":
            self._spawn(self.presence.operator_active(event.project_id))
        elif event.type == "message.created" and (event.data.get("message") or {}).get("sender") == "visitor":
            # A visitor's message ends the typing indicator on the platforms; let the next start afresh.
            for key in [k for k in self._typing_at if k[1] == event.session_id]:
                self._typing_at.pop(key, None)

    async def _visitor_typing(self, project_id: str, session_id: str) -> None:
        now = self.svc.clock.now().timestamp()
        for bridge in self.project_bridges(project_id):
            key = (bridge.id, session_id)
            if now - self._typing_at.get(key, -1e9) < TYPING_INTERVAL:
                continue
            self._typing_at[key] = now
            try:
                thread = await self.thread_of(bridge.id, session_id)
                if thread is not None:
                    await bridge.typing(thread)
            except Exception as exc:  # typing is best effort
                log.debug("typing on %s failed: %s", bridge.id, exc)
        if len(self._typing_at) > 50000:
            self._typing_at.clear()

    async def _maintain(self) -> None:
        while True:
            await self.svc.clock.sleep(MAINTENANCE_SECONDS)
            with contextlib.suppress(Exception):
                await prune_inbound_seen(self.svc)
