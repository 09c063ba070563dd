"""The contract between the outbox worker and whoever delivers its rows (bridges, webhooks)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from pocketping.core.models import OutboxItem

# Records a delivery's progress (the platform ids of what is posted so far) before its next
# step, so a retry after a crash skips what is done.
Checkpoint = Callable[[dict[str, Any]], Awaitable[None]]
# A write run in the transaction that marks a row delivered (given the transaction).
DoneWrite = Callable[[Any], Awaitable[None]]


class OutboxHandler(Protocol):
    async def deliver(self, item: OutboxItem, checkpoint: Checkpoint) -> dict[str, Any] | None:
        """Deliver one row; return what to record (platform ids). Raise DeliveryError to retry.

        A handler may also have ``async prepare(items)``: called with several rows of one chain
        just before they are delivered in order, to read what they need at once; and
        ``done_write(item)``: called once ``deliver`` returned, it may give a write
        (``async write(tx)``) that runs in the transaction marking the row delivered, so a
        retry (which happens only when that did not commit) finds none of it."""
        ...
