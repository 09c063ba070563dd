"""Every open operator socket of this process, so configuration changes reach them."""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from pocketping.ephemeral import Delivered
from pocketping.hub import Event

log = logging.getLogger(__name__)


class _Refreshable(Protocol):
    async def refresh(self) -> None: ...


class InboxSockets:
    def __init__(self, delivered: Delivered) -> None:
        self._delivered = delivered
        self.open: set[_Refreshable] = set()
        self._idle = asyncio.Event()
        self._idle.set()

    def add(self, sock: _Refreshable) -> None:
        self.open.add(sock)
        self._idle.clear()

    def discard(self, sock: _Refreshable) -> None:
        self.open.discard(sock)
        if not self.open:
            self._idle.set()

    async def wait_idle(self) -> None:
        """Until no operator socket is open in this process (its presence heartbeat has stopped)."""
        await self._idle.wait()

    def delivered(self, event: Event) -> None:
        """A visitor message reached an operator's open inbox: the widget shows it as delivered
        (once per message, however many operators have the inbox open)."""
        message = event.data.get("message") or {}
        if message.get("sender") != "visitor" or event.session_id is None:
            return
        self._delivered.announce(event.project_id, event.session_id, message["id"], message["seq"], origin="inbox")

    async def refresh_all(self) -> None:
        for sock in list(self.open):
            try:
                await sock.refresh()
            except Exception:
                log.exception("could not refresh an operator socket")
