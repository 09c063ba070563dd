"""The Slack bridge: one thread per session. See docs/bridges/slack.md.

Its names are imported when first asked for: every server holds a ``SlackEventsRouter`` (from
``.events``, light) from the start, while the bridge, its API client and httpx are loaded once a
Slack bridge is made or configured (``bridges.platforms``), as Telegram's and Discord's are.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pocketping.bridges.slack.bridge import SlackBridge, create
    from pocketping.bridges.slack.config import REQUIRED_SCOPES, SlackConfig, check_config
    from pocketping.bridges.slack.events import SlackEventsRouter

__all__ = ["REQUIRED_SCOPES", "SlackBridge", "SlackConfig", "SlackEventsRouter", "check_config", "create"]

_FROM = {"SlackBridge": "bridge", "create": "bridge", "REQUIRED_SCOPES": "config", "SlackConfig": "config",
         "check_config": "config", "SlackEventsRouter": "events"}


def __getattr__(name: str) -> Any:
    if name not in _FROM:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_FROM[name]}"), name)
    globals()[name] = value
    return value
