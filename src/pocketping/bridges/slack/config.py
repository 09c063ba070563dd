"""A Slack bridge's configuration: what it must look like (errors name the JSON fields of
``POST /api/v1/bridges``; the CLI says its flags instead), how it is read back, and the bot
scopes the app needs (docs/bridges/slack.md has the manifest)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pocketping.bridges.config import invalid, merged, required_text

CHANNEL = re.compile(r"^[CGD][A-Z0-9]{5,30}$")
REQUIRED_SCOPES = ("chat:write", "channels:history", "groups:history", "channels:read", "groups:read",
                   "users:read")


def check_config(options: Mapping[str, Any], current: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A complete, valid configuration from REST/CLI options (merged over ``current`` on update)."""
    values = merged(options, current)
    token = required_text(values, "bot_token", "the Bot User OAuth Token (xoxb-...)")
    if not token.startswith("xoxb-"):
        raise invalid("botToken", "botToken must be the Bot User OAuth Token, starting with xoxb-")
    channel = str(values.get("channel_id") or "").strip()
    if not CHANNEL.match(channel):
        raise invalid("channelId", "channelId is required: the channel's id such as C0123456789 (channel details, "
                                   "at the bottom)")
    config: dict[str, Any] = {"bot_token": token, "channel_id": channel}
    app_token = values.get("app_token")
    signing = values.get("signing_secret")
    if app_token:
        if not str(app_token).startswith("xapp-"):
            raise invalid("appToken", "appToken must be an app-level token starting with xapp-")
        config["app_token"] = str(app_token).strip()
    if signing:
        config["signing_secret"] = str(signing).strip()
    if not app_token and not signing:
        raise invalid("signingSecret", "signingSecret is required (Basic Information > App Credentials) unless "
                                       "you use Socket Mode with appToken xapp-...")
    return config


@dataclass(frozen=True)
class SlackConfig:
    bot_token: str
    channel_id: str
    signing_secret: str | None = None
    app_token: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SlackConfig:
        bot_token, channel_id = str(data.get("bot_token") or ""), str(data.get("channel_id") or "")
        if not bot_token or not channel_id:
            raise ValueError("a Slack bridge needs a bot token (xoxb-...) and a channel id")
        return cls(bot_token=bot_token, channel_id=channel_id,
                   signing_secret=str(data["signing_secret"]) if data.get("signing_secret") else None,
                   app_token=str(data["app_token"]) if data.get("app_token") else None)
