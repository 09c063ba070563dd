"""Webhook signatures: ``PocketPing-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from typing import Any

from pocketping_sdk.errors import WebhookVerificationError
from pocketping_sdk.models import WebhookEvent

SIGNATURE_HEADER = "PocketPing-Signature"
DEFAULT_TOLERANCE = 300  # seconds


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The header value PocketPing sends (for tests of your own receiver)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def header_value(headers: Any, name: str) -> str | None:
    """A header from a dict, Starlette/Django/Werkzeug headers or a list of pairs, any case."""
    getter = getattr(headers, "get", None)
    if getter is not None:
        for candidate in (name, name.lower(), name.upper()):
            value = getter(candidate)
            if value is not None:
                return str(value)
    items: Iterable[Any] = headers.items() if hasattr(headers, "items") else headers
    wanted = name.lower()
    for key, value in items:
        if str(key).lower() == wanted:
            return str(value)
    return None


def verify(raw_body: bytes | str, headers: Mapping[str, str] | Any, secrets: Iterable[str], *, now: float,
           tolerance: float = DEFAULT_TOLERANCE) -> WebhookEvent:
    body = raw_body.encode() if isinstance(raw_body, str) else bytes(raw_body)
    header = header_value(headers, SIGNATURE_HEADER)
    if not header:
        raise WebhookVerificationError(f"no {SIGNATURE_HEADER} header", code="missing_signature")
    timestamp: int | None = None
    given: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            given.append(value.strip())
    if timestamp is None or not given:
        raise WebhookVerificationError("the signature header must look like t=<unix>,v1=<hex>",
                                       code="invalid_signature")
    if abs(now - timestamp) > tolerance:
        raise WebhookVerificationError(f"the signature is {abs(now - timestamp):.0f} s away from now "
                                       f"(tolerance {tolerance:.0f} s): a replay, or a wrong clock",
                                       code="stale_signature")
    matched = False
    for secret in secrets:
        expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
        for candidate in given:
            # Compare every pair (no early exit): the time taken says nothing about the secret.
            matched |= hmac.compare_digest(expected.encode(), candidate.encode())
    if not matched:
        raise WebhookVerificationError("the signature does not match", code="invalid_signature")
    try:
        payload = json.loads(body)
        return WebhookEvent.from_api(payload)
    except (ValueError, KeyError, TypeError) as exc:
        raise WebhookVerificationError("the body is not a PocketPing event", code="invalid_payload") from exc
