"""Shared by the platforms' ``config`` modules: merging options over the current configuration,
and errors that name the JSON field at fault (``botToken``, ``chatId`` ...), as REST callers
send them; the CLI turns the names into its flags (``--bot-token``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pocketping.core.bridge_config import json_field
from pocketping.errors import InvalidInput


def merged(options: Mapping[str, Any], current: Mapping[str, Any] | None) -> dict[str, Any]:
    """``options`` over ``current`` (an update changes only what it gives)."""
    return {**(current or {}), **{k: v for k, v in options.items() if v is not None}}


def invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, code="invalid_bridge_config", field=field)


def required_text(values: Mapping[str, Any], key: str, what: str) -> str:
    value = values.get(key)
    if not isinstance(value, str) or not value.strip():
        field = json_field(key)
        raise invalid(field, f"{field} is required: {what}")
    return value.strip()
