"""Discord: one thread per session, replies over the Gateway. See docs/bridges/discord.md."""

from __future__ import annotations

from typing import Any

from pocketping.bridges.discord.bridge import DiscordBridge
from pocketping.bridges.registry import register
from pocketping.core.models import Bridge as BridgeRecord


def factory(record: BridgeRecord, services: Any) -> DiscordBridge:
    return DiscordBridge(record, services.settings.discord_api_url)


register("discord", factory)

__all__ = ["DiscordBridge", "factory"]
