"""What may be shown of a bridge's configuration, and how sources are named (pure rules, no I/O).

The stored configuration is encrypted; what may be shown of it (``public_view``) never
includes a token or a secret, only a hint of its last characters. Each platform checks its
own configuration (``pocketping.bridges.<platform>.config``).
"""

from __future__ import annotations

import re
from typing import Any

LABELS = {"telegram": "Telegram", "discord": "Discord", "slack": "Slack", "inbox": "Inbox", "api": "API",
          "widget": "widget", "ai": "AI"}

SECRET_KEYS = ("bot_token", "signing_secret", "app_token", "webhook_secret")


def label(source: str) -> str:
    return LABELS.get(source, source.capitalize())


def json_field(key: str) -> str:
    """A stored configuration key as the REST API names it: ``bot_token`` -> ``botToken``."""
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), key)


def _hint(value: object) -> str:
    text = str(value)
    return "..." + text[-4:] if len(text) > 8 else "***"


def public_view(type_: str, config: dict[str, Any]) -> dict[str, Any]:
    """What may be printed: destinations in full, secrets as a hint of their last characters."""
    view: dict[str, Any] = {}
    for key, value in config.items():
        camel = json_field(key)
        if key in SECRET_KEYS:
            if key != "webhook_secret":
                view[camel + "Hint"] = _hint(value)
        else:
            view[camel] = value
    return view
