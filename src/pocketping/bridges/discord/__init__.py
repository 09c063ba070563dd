"""Discord: one thread per session, replies over the Gateway. See docs/bridges/discord.md."""

from pocketping.bridges.discord.bridge import DiscordBridge, create
from pocketping.bridges.discord.config import check_config

__all__ = ["DiscordBridge", "check_config", "create"]
