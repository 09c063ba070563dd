"""Plugs the AI fallback in: the timer planner, the scheduler, the REST routes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI

from pocketping.actions.ai_timer import plan_ai_timer
from pocketping.actions.fanout import PLANNERS
from pocketping.server.app import STARTUP_HOOKS
from pocketping.services import Services


async def start_ai(svc: Services, app: FastAPI) -> Callable[[], Awaitable[None]] | None:
    from pocketping.ai.rest import router
    from pocketping.ai.scheduler import AIScheduler

    app.include_router(router)
    if not svc.settings.workers:
        return None
    scheduler = AIScheduler(svc, poll_seconds=svc.settings.ai_poll_seconds)
    svc.extras["ai_scheduler"] = scheduler
    scheduler.start()
    return scheduler.stop


if plan_ai_timer not in PLANNERS:
    PLANNERS.append(plan_ai_timer)
if start_ai not in STARTUP_HOOKS:
    STARTUP_HOOKS.append(start_ai)
