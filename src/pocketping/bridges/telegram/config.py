"""A Telegram bridge's configuration: what it must look like (errors name the JSON fields of
``POST /api/v1/bridges``; the CLI says its flags instead), and how it is read back."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pocketping.bridges.config import invalid, merged, required_text

TOKEN = re.compile(r"^\d{3,20}:[A-Za-z0-9_-]{20,100}$")
CHAT = re.compile(r"^-?\d{1,20}$")
WEBHOOK_PATH = "/bridges/telegram/{bridge_id}"


def check_config(options: Mapping[str, Any], current: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A complete, valid configuration from REST/CLI options (merged over ``current`` on update)."""
    values = merged(options, current)
    token = required_text(values, "bot_token", "the token @BotFather gave you (123456:ABC...)")
    if not TOKEN.match(token):
        raise invalid("botToken", "botToken does not look like a Telegram bot token (123456789:AA...): copy it "
                                  "from @BotFather")
    chat = str(values.get("chat_id") or "").strip()
    if not CHAT.match(chat):
        raise invalid("chatId", "chatId is required: the forum supergroup's id, e.g. -1001234567890")
    secret = values.get("webhook_secret") or secrets.token_urlsafe(32)
    return {"bot_token": token, "chat_id": int(chat), "webhook_secret": secret}


@dataclass(frozen=True)
class TelegramConfig:
    bot_token: str
    chat_id: int
    webhook_secret: str

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TelegramConfig:
        return cls(bot_token=str(data["bot_token"]), chat_id=int(data["chat_id"]),
                   webhook_secret=str(data.get("webhook_secret", "")))


def uses_webhook(mode: Literal["auto", "polling", "webhook"], public_url: str | None) -> bool:
    """Webhook when asked for, or (``auto``) when the server has a public URL; else long polling."""
    return mode == "webhook" or (mode == "auto" and bool(public_url))


def webhook_url(public_url: str | None, bridge_id: str) -> str | None:
    return public_url + WEBHOOK_PATH.format(bridge_id=bridge_id) if public_url else None
