"""Outgoing webhooks and the public event stream (a feature module: see pocketping.features).

Importing it registers the planner (event log + outbox rows, in the change's transaction)
and a start-up hook (the outbox handler for target "webhook", and pruning of the log).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from pocketping.actions.fanout import PLANNERS
from pocketping.services import Services
from pocketping.store import event_log
from pocketping.webhooks.planner import TARGET, plan_public_event

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger(__name__)
PRUNE_EVERY_SECONDS = 3600.0


async def prune_forever(svc: Services) -> None:
    while True:
        try:
            async with svc.db.transaction() as tx:
                cutoff = tx.now - timedelta(days=svc.settings.event_retention_days)
                removed = await event_log.prune(tx, cutoff)
            if removed:
                log.info("pruned %d events older than %d days", removed, svc.settings.event_retention_days)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("could not prune the event log")
        await svc.clock.sleep(PRUNE_EVERY_SECONDS)


async def start(svc: Services, app: FastAPI) -> Callable[[], Awaitable[None]]:
    from pocketping.webhooks.delivery import WebhookDelivery

    handler = WebhookDelivery(svc)
    svc.outbox.register(TARGET, handler)
    task = asyncio.create_task(prune_forever(svc), name="event-log-prune") if svc.settings.workers else None

    async def stop() -> None:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await handler.aclose()

    return stop


def _register() -> None:
    from pocketping.server.app import STARTUP_HOOKS

    if plan_public_event not in PLANNERS:
        PLANNERS.append(plan_public_event)
    if start not in STARTUP_HOOKS:
        STARTUP_HOOKS.append(start)


_register()
