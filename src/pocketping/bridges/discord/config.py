"""A Discord bridge's configuration: what it must look like (errors name the JSON fields of
``POST /api/v1/bridges``; the CLI says its flags instead), and how it is read back."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pocketping.bridges.config import invalid, merged, required_text

SNOWFLAKE = re.compile(r"^\d{5,25}$")


def check_config(options: Mapping[str, Any], current: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A complete, valid configuration from REST/CLI options (merged over ``current`` on update)."""
    values = merged(options, current)
    token = required_text(values, "bot_token", "the bot token from the Discord developer portal")
    channel = str(values.get("channel_id") or "").strip()
    if not SNOWFLAKE.match(channel):
        raise invalid("channelId", "channelId is required: the numeric id of a text or forum channel (turn on "
                                   "Developer Mode, right-click the channel, Copy Channel ID)")
    return {"bot_token": token, "channel_id": channel}


@dataclass(frozen=True)
class DiscordConfig:
    bot_token: str
    channel_id: str

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DiscordConfig:
        return cls(bot_token=str(data["bot_token"]), channel_id=str(data["channel_id"]))
