"""AI fallback settings per project, and turning it on or off for one session."""

from __future__ import annotations

from typing import Any

from pocketping import netguard
from pocketping.actions.services import Services
from pocketping.actions.sessions import set_ai_enabled
from pocketping.actions.unit import unit_of_work
from pocketping.core.ai import AISettings, apply_changes
from pocketping.errors import InvalidInput
from pocketping.hub import Event
from pocketping.store import ai as repo
from pocketping.store import projects as project_repo

__all__ = ["get_ai_settings", "set_ai_enabled", "update_ai_settings"]


async def get_ai_settings(svc: Services, project_id: str) -> tuple[AISettings, dict[str, Any]]:
    """The project's settings (defaults until first set) and today's usage."""
    async with svc.db.read() as tx:
        await project_repo.get_project(tx, project_id)
        settings = await repo.get_settings(tx, project_id)
        usage = await repo.usage(tx, project_id, repo.day_of(tx.now))
    return settings, usage


async def update_ai_settings(svc: Services, project_id: str, changes: dict[str, Any], *,
                             api_key: str | None = None, clear_api_key: bool = False) -> AISettings:
    """Change some settings (names as in ``AISettings``). ``api_key`` is stored encrypted."""
    if api_key is not None:
        api_key = api_key.strip()
        if not api_key or len(api_key) > 500 or any(c.isspace() for c in api_key):
            raise InvalidInput("the API key must be 1-500 characters without spaces", code="invalid_api_key")
    if changes.get("base_url"):
        netguard.check_url(str(changes["base_url"]), allow_private=svc.settings.allow_private_urls)
    async with unit_of_work(svc) as tx:
        await project_repo.get_project(tx, project_id)
        current = await repo.get_settings(tx, project_id)
        settings = apply_changes(current, changes)
        await repo.save_settings(tx, settings, api_key=api_key, clear_api_key=clear_api_key)
        if not settings.enabled:
            # Timers already running for this project would find the AI off; drop them now.
            await repo.clear_project_timers(tx, project_id)
        await project_repo.bump_config_version(tx)
        settings = await repo.get_settings(tx, project_id)
        tx.emit(Event("ai.settings_changed", project_id, data={"enabled": settings.enabled}))
        return settings
