"""AI fallback settings per project, and turning it on or off for one session."""

from __future__ import annotations

from datetime import timedelta
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

__all__ = ["ai_usage", "get_ai_settings", "set_ai_enabled", "update_ai_settings"]

MAX_USAGE_DAYS = 366


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


async def ai_usage(svc: Services, project_id: str, days: int = 7) -> dict[str, Any]:
    """Tokens and answers by day (UTC), the last ``days`` days up to today, oldest first, with
    the project's caps (``pocketping ai usage``, ``GET /api/v1/ai/usage``)."""
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_USAGE_DAYS:
        raise InvalidInput(f"days is a whole number from 1 to {MAX_USAGE_DAYS}", code="invalid_days")
    async with svc.db.read() as tx:
        await project_repo.get_project(tx, project_id)
        settings = await repo.get_settings(tx, project_id)
        wanted = [repo.day_of(tx.now - timedelta(days=n)) for n in range(days - 1, -1, -1)]
        found = await repo.usage_by_day(tx, project_id, wanted)
    rows = [{"day": u["day"], "answers": u["replies"], "errors": u["errors"], "tokens": u["tokens"],
             "inputTokens": u["inputTokens"], "outputTokens": u["outputTokens"],
             "embeddingTokens": u["embeddingTokens"], "limitToldAt": u["limitToldAt"]} for u in found]
    return {"projectId": project_id, "maxAnswers": settings.max_replies_per_session,
            "maxRepliesPerDay": settings.max_replies_per_day, "dailyTokens": settings.daily_tokens,
            "days": rows, "totals": {"answers": sum(r["answers"] for r in rows),
                                     "tokens": sum(r["tokens"] for r in rows)}}
