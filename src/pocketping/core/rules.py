"""Pure validation rules shared by every edge (WebSocket, REST, CLI)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import orjson

from pocketping.core.models import LOCALES, POSITIONS
from pocketping.errors import InvalidInput

EVENT_NAME = re.compile(r"^[a-zA-Z0-9_.:-]{1,64}$")
CLIENT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
MAX_EVENT_DATA_BYTES = 8192
MAX_OPERATOR_NAME = 100
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


def normalize_origin(value: str) -> str:
    """``scheme://host[:port]`` in lower case, default ports dropped; ``*.`` wildcards kept."""
    raw = value.strip().rstrip("/")
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"origin {value!r} must look like https://example.com or https://*.example.com",
                           code="invalid_origin")
    if parts.path or parts.query or parts.fragment:
        raise InvalidInput(f"origin {value!r} must not have a path", code="invalid_origin")
    host = parts.netloc.rsplit("@", 1)[-1].lower()
    wildcard = host.startswith("*.")
    hostname = parts.hostname.lower() if not wildcard else host.split(":")[0]
    port = _port(parts)
    default = 443 if parts.scheme == "https" else 80
    suffix = f":{port}" if port and port != default else ""
    return f"{parts.scheme}://{hostname}{suffix}"


def _port(parts: Any) -> int | None:
    try:
        return int(parts.port) if parts.port else None
    except ValueError as exc:
        raise InvalidInput("origin has an invalid port", code="invalid_origin") from exc


def origin_allowed(origin: str | None, allowed: tuple[str, ...]) -> bool:
    """Exact scheme + host + port match; ``https://*.example.com`` matches subdomains only."""
    if not allowed:
        return True
    if not origin:
        return False
    try:
        given = normalize_origin(origin)
    except InvalidInput:
        return False
    g_scheme, _, g_rest = given.partition("://")
    for entry in allowed:
        if entry == given:
            return True
        scheme, _, rest = entry.partition("://")
        if rest.startswith("*.") and scheme == g_scheme:
            pattern_host, _, pattern_port = rest[2:].partition(":")
            host, _, port = g_rest.partition(":")
            if port == pattern_port and host.endswith("." + pattern_host) and len(host) > len(pattern_host) + 1:
                return True
    return False


# Bidirectional embedding, override and isolate controls: in a name or a file name they make
# "abc\u202egnp.exe" read as "abcexe.png". One-line fields lose them.
_BIDI_CONTROLS = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])


def strip_bidi(value: str) -> str:
    """``value`` without bidirectional control characters (U+202A-U+202E, U+2066-U+2069)."""
    return value.translate(_BIDI_CONTROLS)


def clean_text(text: Any, max_chars: int) -> str:
    if not isinstance(text, str):
        raise InvalidInput("text must be a string", code="invalid_text")
    text = text.replace("\r\n", "\n").replace("\x00", "")
    if not text.strip():
        raise InvalidInput("text must not be empty", code="empty_text")
    if len(text) > max_chars:
        raise InvalidInput(f"text is {len(text)} characters long; the limit is {max_chars}",
                           code="text_too_long", limit=max_chars)
    return str(text)


def check_event(name: Any, data: Any) -> tuple[str, dict[str, Any]]:
    if not isinstance(name, str) or not EVENT_NAME.match(name):
        raise InvalidInput("event name must be 1-64 characters of letters, digits and _ . : -",
                           code="invalid_event_name")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidInput("event data must be a JSON object", code="invalid_event_data")
    try:
        size = len(orjson.dumps(data))
    except TypeError as exc:  # orjson.JSONEncodeError: integers beyond 64 bits, nesting too deep
        raise InvalidInput(f"event data cannot be stored as JSON: {exc}", code="invalid_event_data") from exc
    if size > MAX_EVENT_DATA_BYTES:
        raise InvalidInput(f"event data is {size} bytes; the limit is {MAX_EVENT_DATA_BYTES}",
                           code="event_data_too_large", limit=MAX_EVENT_DATA_BYTES)
    return name, data


def check_client_id(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not CLIENT_ID.match(value):
        raise InvalidInput("clientId must be 1-64 characters of letters, digits and _ . : -",
                           code="invalid_client_id")
    return value


def check_operator_name(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_OPERATOR_NAME:
        raise InvalidInput(f"operatorName must be 1-{MAX_OPERATOR_NAME} characters", code="invalid_operator_name")
    name = strip_bidi(value).strip()
    if not name:
        raise InvalidInput(f"operatorName must be 1-{MAX_OPERATOR_NAME} characters", code="invalid_operator_name")
    return name


def check_email(value: Any) -> str:
    """An email address a visitor typed (one @, a dot in the domain, at most 320 characters)."""
    email = value.strip() if isinstance(value, str) else ""
    if len(email) > 320 or not EMAIL.match(email):
        raise InvalidInput("email must look like name@example.com", code="invalid_email")
    return email


def check_widget_setting(key: str, value: Any) -> Any:
    if key == "primary_color":
        if not isinstance(value, str) or not COLOR.match(value):
            raise InvalidInput("primary color must be a hex color such as #2563eb", code="invalid_color")
    elif key == "position":
        if value not in POSITIONS:
            raise InvalidInput(f"position must be one of {', '.join(POSITIONS)}", code="invalid_position")
    elif key == "locale":
        if value is not None and value not in LOCALES:
            raise InvalidInput(f"locale must be one of {', '.join(LOCALES)}", code="invalid_locale")
    elif key == "ratings":
        if value not in ("stars", "thumbs", "off"):
            raise InvalidInput("ratings must be stars, thumbs or off", code="invalid_ratings")
    elif key in ("operator_name", "welcome_message"):
        if not isinstance(value, str) or len(value) > 500:
            raise InvalidInput(f"{key.replace('_', ' ')} must be text of at most 500 characters",
                               code="invalid_setting")
    return value
