"""What ``bridge list``, ``bridge status`` and the doctor show of each bridge: its public
configuration, its health and its delivery queue (pending, failed and why)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pocketping.core.bridge_config import public_view
from pocketping.core.models import BridgeRecord, OutboxItem, iso
from pocketping.store import bridges as repo
from pocketping.store import outbox as outbox_repo
from pocketping.store import projects as project_repo
from pocketping.store.db import Database


def bridge_to_api(bridge: BridgeRecord, counts: dict[str, int] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": bridge.id,
        "projectId": bridge.project_id,
        "type": bridge.type,
        "status": bridge.status,
        "statusDetail": bridge.status_detail,
        "config": public_view(bridge.type, bridge.config),
        "createdAt": iso(bridge.created_at),
        "updatedAt": iso(bridge.updated_at),
    }
    if counts is not None:
        body["deliveries"] = {"pending": counts.get("pending", 0), "failed": counts.get("failed", 0),
                              "done": counts.get("done", 0)}
    return body


def delivery_to_api(item: OutboxItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "bridgeId": item.target_id,
        "projectId": item.project_id,
        "sessionId": item.session_id,
        "messageId": item.message_id,
        "action": item.action,
        "status": item.status,
        "attempts": item.attempts,
        "lastError": item.last_error,
        "createdAt": iso(item.created_at),
        "nextAttemptAt": iso(item.next_attempt_at) if item.status == "pending" else None,
        "failedAt": iso(item.done_at) if item.status == "failed" else None,
    }


@dataclass(frozen=True)
class BridgeStatus:
    bridge: BridgeRecord
    counts: dict[str, int]
    oldest_pending_seconds: float | None
    failed: list[OutboxItem]
    pending: list[OutboxItem]

    def to_api(self) -> dict[str, Any]:
        body = bridge_to_api(self.bridge, self.counts)
        body["oldestPendingSeconds"] = self.oldest_pending_seconds
        body["failedDeliveries"] = [delivery_to_api(i) for i in self.failed]
        body["retryingDeliveries"] = [delivery_to_api(i) for i in self.pending if i.attempts > 0]
        return body


async def bridge_statuses(db: Database, project_id: str | None = None, *, limit: int = 50) -> list[BridgeStatus]:
    """Every bridge (of one project, or all) with its delivery queue: pending, failed and why."""
    async with db.read() as tx:
        if project_id is not None:
            await project_repo.get_project(tx, project_id)
        out = []
        for bridge in await repo.list_bridges(tx, project_id):
            counts = await outbox_repo.counts(tx, target_id=bridge.id)
            failed = await outbox_repo.list_items(tx, target="bridge", target_id=bridge.id, status="failed",
                                                  limit=limit)
            pending = await outbox_repo.list_items(tx, target="bridge", target_id=bridge.id, status="pending",
                                                   limit=limit)
            oldest = min((p.created_at for p in pending), default=None)
            age = (tx.now - oldest).total_seconds() if oldest else None
            out.append(BridgeStatus(bridge, counts, age, failed, pending))
        return out
