"""Plugs the bridges in: the planner, the webhook routes, and the manager with the platforms
of ``bridges.platforms`` (a start-up hook; it runs where the background workers run)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI

from pocketping.actions import bridge_plan
from pocketping.server.app import STARTUP_HOOKS
from pocketping.services import Services

bridge_plan.register()


async def start_bridges(svc: Services, app: FastAPI) -> Callable[[], Awaitable[None]] | None:
    from pocketping.bridges.platforms import PLATFORMS
    from pocketping.relay import routes
    from pocketping.relay.deps import shared_bridge_deps
    from pocketping.relay.manager import BridgeManager

    app.include_router(routes.router)
    if not svc.settings.workers:
        return None
    manager = BridgeManager(svc, shared_bridge_deps(svc), PLATFORMS)
    svc.extras["bridge_manager"] = manager
    await manager.start()
    return manager.stop


if start_bridges not in STARTUP_HOOKS:
    STARTUP_HOOKS.append(start_bridges)
