"""The platforms this server bridges to, listed in plain code (nothing registers itself).

Each platform package exports the same two things: ``create(record, deps) -> Bridge`` and
``check_config(options, current) -> config``. A new platform is one more line in each table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pocketping.bridges.base import Bridge
from pocketping.bridges.deps import BridgeDeps
from pocketping.core.models import BridgeRecord
from pocketping.errors import InvalidInput

# create(record, deps) -> a Bridge; ``record.config`` holds the decrypted configuration.
BridgeFactory = Callable[[BridgeRecord, BridgeDeps], Bridge]
# check_config(options, current) -> the complete configuration to store; raises InvalidInput naming a JSON field.
ConfigCheck = Callable[[Mapping[str, Any], Mapping[str, Any] | None], dict[str, Any]]

# Each platform's package is imported when a bridge of it is made or configured, not with this
# table: a server without, say, a Discord bridge never loads the Discord client and gateway
# (the three platforms together are 1.7 MB and 50 ms of every start).


def _telegram(record: BridgeRecord, deps: BridgeDeps) -> Bridge:
    from pocketping.bridges import telegram

    return telegram.create(record, deps)


def _discord(record: BridgeRecord, deps: BridgeDeps) -> Bridge:
    from pocketping.bridges import discord

    return discord.create(record, deps)


def _slack(record: BridgeRecord, deps: BridgeDeps) -> Bridge:
    from pocketping.bridges import slack

    return slack.create(record, deps)


def _telegram_config(options: Mapping[str, Any], current: Mapping[str, Any] | None) -> dict[str, Any]:
    from pocketping.bridges import telegram

    return telegram.check_config(options, current)


def _discord_config(options: Mapping[str, Any], current: Mapping[str, Any] | None) -> dict[str, Any]:
    from pocketping.bridges import discord

    return discord.check_config(options, current)


def _slack_config(options: Mapping[str, Any], current: Mapping[str, Any] | None) -> dict[str, Any]:
    from pocketping.bridges import slack

    return slack.check_config(options, current)


PLATFORMS: dict[str, BridgeFactory] = {
    "telegram": _telegram,
    "discord": _discord,
    "slack": _slack,
}

CONFIG_CHECKS: dict[str, ConfigCheck] = {
    "telegram": _telegram_config,
    "discord": _discord_config,
    "slack": _slack_config,
}


def check_config(type_: str, options: Mapping[str, Any], current: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A complete, valid configuration of a ``type_`` bridge from REST/CLI options (merged over
    ``current`` on update). Errors name the JSON field at fault (``field``: ``botToken`` ...)."""
    check = CONFIG_CHECKS.get(type_)
    if check is None:
        raise InvalidInput(f"unknown bridge type {type_!r}: use one of {', '.join(CONFIG_CHECKS)}",
                           code="invalid_bridge_type")
    return check(options, current)
