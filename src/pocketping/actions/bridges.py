"""Bridges: connect a project to Telegram, Discord or Slack; list, change, remove; delivery status.

Every change bumps the configuration version, so running servers start, restart or stop
the bridge within ``POCKETPING_CONFIG_POLL_SECONDS``.
"""

from __future__ import annotations

from typing import Any

from pocketping import ids
from pocketping.actions.services import Services
from pocketping.actions.unit import unit_of_work
from pocketping.bridges.platforms import check_config
from pocketping.core.models import BridgeRecord
from pocketping.relay.status import BridgeStatus, bridge_statuses, bridge_to_api, delivery_to_api
from pocketping.store import bridges as repo
from pocketping.store import outbox as outbox_repo
from pocketping.store import projects as project_repo

__all__ = ["BridgeStatus", "add_bridge", "all_bridges", "bridge_status", "bridge_to_api", "delivery_to_api",
           "get_bridge", "list_bridges", "remove_bridge", "retry_deliveries", "update_bridge"]

DESTINATION_KEYS = ("chat_id", "channel_id")


async def add_bridge(svc: Services, project_id: str, type_: str, options: dict[str, Any]) -> BridgeRecord:
    config = check_config(type_, options)
    async with unit_of_work(svc) as tx:
        await project_repo.get_project(tx, project_id)
        bridge = await repo.insert_bridge(tx, id=ids.new_id(ids.BRIDGE), project_id=project_id, type=type_,
                                          config=config)
        await project_repo.bump_config_version(tx)
        return bridge


async def update_bridge(svc: Services, project_id: str, bridge_id: str, options: dict[str, Any]) -> BridgeRecord:
    async with unit_of_work(svc) as tx:
        current = await repo.get_bridge(tx, bridge_id, project_id)
        config = check_config(current.type, options, current.config)
        await repo.update_config(tx, bridge_id, config)
        if any(config.get(k) != current.config.get(k) for k in DESTINATION_KEYS):
            # Threads of another group or channel mean nothing in the new one: start afresh.
            await repo.forget_threads(tx, bridge_id)
        await project_repo.bump_config_version(tx)
        return await repo.get_bridge(tx, bridge_id)


async def remove_bridge(svc: Services, project_id: str, bridge_id: str) -> BridgeRecord:
    async with unit_of_work(svc) as tx:
        bridge = await repo.get_bridge(tx, bridge_id, project_id)
        await repo.delete_bridge(tx, bridge_id)
        await project_repo.bump_config_version(tx)
        return bridge


async def list_bridges(svc: Services, project_id: str) -> list[tuple[BridgeRecord, dict[str, int]]]:
    async with svc.db.read() as tx:
        await project_repo.get_project(tx, project_id)
        found = await repo.list_bridges(tx, project_id)
        return [(b, await outbox_repo.counts(tx, target_id=b.id)) for b in found]


async def get_bridge(svc: Services, project_id: str, bridge_id: str) -> BridgeRecord:
    async with svc.db.read() as tx:
        return await repo.get_bridge(tx, bridge_id, project_id)


async def all_bridges(svc: Services, project_id: str | None = None) -> list[BridgeRecord]:
    async with svc.db.read() as tx:
        if project_id is not None:
            await project_repo.get_project(tx, project_id)
        return await repo.list_bridges(tx, project_id)


async def bridge_status(svc: Services, project_id: str | None = None, *, limit: int = 50) -> list[BridgeStatus]:
    """Every bridge (of one project, or all) with its delivery queue: pending, failed and why."""
    return await bridge_statuses(svc.db, project_id, limit=limit)


async def retry_deliveries(svc: Services, project_id: str | None = None, *, bridge_id: str | None = None,
                           delivery_id: int | None = None) -> int:
    """Put failed deliveries back in the queue (a running server picks them up within a second)."""
    async with unit_of_work(svc) as tx:
        if project_id is not None:
            await project_repo.get_project(tx, project_id)
        if bridge_id is not None:
            await repo.get_bridge(tx, bridge_id, project_id)
        count = await repo.retry_failed(tx, project_id=project_id, bridge_id=bridge_id, item_id=delivery_id)
        if count:
            tx.outbox_rows += count  # wakes this process's worker; others poll
        return count
