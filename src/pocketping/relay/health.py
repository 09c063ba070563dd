"""What ``pocketping bridge list`` shows of each running bridge: "active" or "error" with a
plain-words detail, from two sources. The receiver (polling, gateway, socket mode) says it
itself; deliveries say "error" until the next delivery succeeds. A receiver's error
outlives successful deliveries."""

from __future__ import annotations

import logging

from pocketping.relay import runtime as rt
from pocketping.store.db import Database

log = logging.getLogger(__name__)


class BridgeHealth:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._status: dict[str, tuple[str, str | None]] = {}  # what was last written
        self._receiver: dict[str, tuple[str, str | None]] = {}
        self._delivery_error: dict[str, str] = {}

    def forget(self, bridge_id: str) -> None:
        """A bridge (re)started: what was known of it no longer holds."""
        for known in (self._status, self._receiver, self._delivery_error):
            known.pop(bridge_id, None)

    async def report(self, bridge_id: str, status: str, detail: str | None = None) -> None:
        """The receiver's own word on its connection."""
        self._receiver[bridge_id] = (status, detail)
        await self._write(bridge_id)

    async def delivery_failed(self, bridge_id: str, detail: str) -> None:
        self._delivery_error[bridge_id] = detail
        await self._write(bridge_id)

    async def delivered_ok(self, bridge_id: str) -> None:
        if self._delivery_error.pop(bridge_id, None) is not None or bridge_id not in self._status:
            await self._write(bridge_id)

    async def _write(self, bridge_id: str) -> None:
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
            await rt.set_bridge_status(self.db, bridge_id, *status)
        except Exception:
            log.exception("could not record the status of bridge %s", bridge_id)
