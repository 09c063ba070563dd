"""The platforms this server bridges to, listed in plain code (nothing registers itself).

Each platform package exports the same two things: ``create(record, deps) -> Bridge`` and
``check_config(options, current) -> config``. A new platform is one more line in each table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pocketping.bridges import discord, slack, telegram
from pocketping.bridges.base import Bridge
from pocketping.bridges.deps import BridgeDeps
from pocketping.core.models import BridgeRecord
from pocketping.errors import InvalidInput

# create(record, deps) -> a Bridge; ``record.config`` holds the decrypted configuration.
BridgeFactory = Callable[[BridgeRecord, BridgeDeps], Bridge]
# check_config(options, current) -> the complete configuration to store; raises InvalidInput naming a JSON field.
ConfigCheck = Callable[[Mapping[str, Any], Mapping[str, Any] | None], dict[str, Any]]

PLATFORMS: dict[str, BridgeFactory] = {
    "telegram": telegram.create,
    "discord": discord.create,
    "slack": slack.create,
}

CONFIG_CHECKS: dict[str, ConfigCheck] = {
    "telegram": telegram.check_config,
    "discord": discord.check_config,
    "slack": slack.check_config,
}


def check_config(type_: str, options: Mapping[str, Any], current: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A complete, valid configuration of a ``type_`` bridge from REST/CLI options (merged over
    ``current`` on update). Errors name the JSON field at fault (``field``: ``botToken`` ...)."""
    check = CONFIG_CHECKS.get(type_)
    if check is None:
        raise InvalidInput(f"unknown bridge type {type_!r}: use one of {', '.join(CONFIG_CHECKS)}",
                           code="invalid_bridge_type")
    return check(options, current)
