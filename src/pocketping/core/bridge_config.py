"""What a bridge's configuration must look like, per platform (pure rules, no I/O).

The stored configuration is encrypted; what may be shown of it (``public_view``) never
includes a token or a secret, only a hint of its last characters.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from pocketping.errors import InvalidInput

BRIDGE_TYPES = ("telegram", "discord", "slack")
LABELS = {"telegram": "Telegram", "discord": "Discord", "slack": "Slack", "inbox": "Inbox", "api": "API",
          "widget": "widget", "ai": "AI"}

TELEGRAM_TOKEN = re.compile(r"^\d{3,20}:[A-Za-z0-9_-]{20,100}$")
TELEGRAM_CHAT = re.compile(r"^-?\d{1,20}$")
SNOWFLAKE = re.compile(r"^\d{5,25}$")
SLACK_CHANNEL = re.compile(r"^[CGD][A-Z0-9]{5,30}$")
SECRET_KEYS = ("bot_token", "signing_secret", "app_token", "webhook_secret")


def label(source: str) -> str:
    return LABELS.get(source, source.capitalize())


def _text(options: dict[str, Any], key: str, flag: str, what: str) -> str:
    value = options.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{flag} is required: {what}", code="invalid_bridge_config", field=flag)
    return value.strip()


def check_config(type_: str, options: dict[str, Any], current: dict[str, Any] | None = None) -> dict[str, Any]:
    """A complete, valid configuration from CLI/REST options (merged over ``current`` on update)."""
    if type_ not in BRIDGE_TYPES:
        raise InvalidInput(f"unknown bridge type {type_!r}: use one of {', '.join(BRIDGE_TYPES)}",
                           code="invalid_bridge_type")
    merged = {**(current or {}), **{k: v for k, v in options.items() if v is not None}}
    if type_ == "telegram":
        return _telegram(merged)
    if type_ == "discord":
        return _discord(merged)
    return _slack(merged)


def _telegram(options: dict[str, Any]) -> dict[str, Any]:
    token = _text(options, "bot_token", "--bot-token", "the token @BotFather gave you (123456:ABC...)")
    if not TELEGRAM_TOKEN.match(token):
        raise InvalidInput("--bot-token does not look like a Telegram bot token (123456789:AA...): copy it from "
                           "@BotFather", code="invalid_bridge_config", field="--bot-token")
    chat = str(options.get("chat_id") or "").strip()
    if not TELEGRAM_CHAT.match(chat):
        raise InvalidInput("--chat-id is required: the forum supergroup's id, e.g. --chat-id=-1001234567890 "
                           "(note the '=' for negative numbers)", code="invalid_bridge_config", field="--chat-id")
    secret = options.get("webhook_secret") or secrets.token_urlsafe(32)
    return {"bot_token": token, "chat_id": int(chat), "webhook_secret": secret}


def _discord(options: dict[str, Any]) -> dict[str, Any]:
    token = _text(options, "bot_token", "--bot-token", "the bot token from the Discord developer portal")
    channel = str(options.get("channel_id") or "").strip()
    if not SNOWFLAKE.match(channel):
        raise InvalidInput("--channel-id is required: the numeric id of a text or forum channel (turn on "
                           "Developer Mode, right-click the channel, Copy Channel ID)",
                           code="invalid_bridge_config", field="--channel-id")
    return {"bot_token": token, "channel_id": channel}


def _slack(options: dict[str, Any]) -> dict[str, Any]:
    token = _text(options, "bot_token", "--bot-token", "the Bot User OAuth Token (xoxb-...)")
    if not token.startswith("xoxb-"):
        raise InvalidInput("--bot-token must be the Bot User OAuth Token, starting with xoxb-",
                           code="invalid_bridge_config", field="--bot-token")
    channel = str(options.get("channel_id") or "").strip()
    if not SLACK_CHANNEL.match(channel):
        raise InvalidInput("--channel-id is required: the channel's id such as C0123456789 (channel details, "
                           "at the bottom)", code="invalid_bridge_config", field="--channel-id")
    config: dict[str, Any] = {"bot_token": token, "channel_id": channel}
    app_token = options.get("app_token")
    signing = options.get("signing_secret")
    if app_token:
        if not str(app_token).startswith("xapp-"):
            raise InvalidInput("--app-token must be an app-level token starting with xapp-",
                               code="invalid_bridge_config", field="--app-token")
        config["app_token"] = str(app_token).strip()
    if signing:
        config["signing_secret"] = str(signing).strip()
    if not app_token and not signing:
        raise InvalidInput("--signing-secret is required (Basic Information > App Credentials) unless you use "
                           "Socket Mode with --app-token xapp-...", code="invalid_bridge_config",
                           field="--signing-secret")
    return config


def _hint(value: object) -> str:
    text = str(value)
    return "..." + text[-4:] if len(text) > 8 else "***"


def public_view(type_: str, config: dict[str, Any]) -> dict[str, Any]:
    """What may be printed: destinations in full, secrets as a hint of their last characters."""
    view: dict[str, Any] = {}
    for key, value in config.items():
        camel = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), key)
        if key in SECRET_KEYS:
            if key != "webhook_secret":
                view[camel + "Hint"] = _hint(value)
        else:
            view[camel] = value
    return view
