"""The Telegram bridge: one forum topic per conversation. See docs/bridges/telegram.md."""

from pocketping.bridges.telegram.bridge import TelegramBridge, create
from pocketping.bridges.telegram.config import check_config

__all__ = ["TelegramBridge", "check_config", "create"]
