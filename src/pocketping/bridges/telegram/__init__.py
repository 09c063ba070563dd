"""The Telegram bridge (registered as type "telegram" when imported)."""

from pocketping.bridges.registry import register
from pocketping.bridges.telegram.bridge import TelegramBridge, make_bridge

register("telegram", make_bridge)

__all__ = ["TelegramBridge"]
