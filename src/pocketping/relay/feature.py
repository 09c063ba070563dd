"""Plugs the bridges in: the planner, the platform types, the webhook routes, and the
manager (a start-up hook; it runs where the background workers run)."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Awaitable, Callable

from fastapi import FastAPI

from pocketping.actions import bridge_plan
from pocketping.server.app import STARTUP_HOOKS
from pocketping.services import Services

# Each platform module registers its bridge type when imported.
PLATFORMS = ("pocketping.bridges.telegram", "pocketping.bridges.discord", "pocketping.bridges.slack")

for _platform in PLATFORMS:
    if importlib.util.find_spec(_platform) is not None:
        importlib.import_module(_platform)

bridge_plan.register()


async def start_bridges(svc: Services, app: FastAPI) -> Callable[[], Awaitable[None]] | None:
    from pocketping.relay import routes
    from pocketping.relay.manager import BridgeManager

    app.include_router(routes.router)
    if not svc.settings.workers:
        return None
    manager = BridgeManager(svc)
    svc.extras["bridge_manager"] = manager
    await manager.start()
    return manager.stop


if start_bridges not in STARTUP_HOOKS:
    STARTUP_HOOKS.append(start_bridges)
