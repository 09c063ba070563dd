"""The Events API Request URL, ``POST /bridges/slack/events``, without the web framework.

Slack signs each request: ``X-Slack-Signature: v0=HMAC-SHA256(signing secret,
"v0:{X-Slack-Request-Timestamp}:{raw body}")``. One URL serves every Slack bridge of the
server, so the request belongs to the bridges whose signing secret verifies it (several
bridges may share one Slack app); the event's channel then picks the bridge. Nothing is
parsed, stored or answered before the signature and the 5-minute window check out.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from pocketping.clock import Clock

log = logging.getLogger(__name__)

SIGNATURE_WINDOW = 300  # seconds either side of our clock
MAX_BODY = 1 << 20


def sign(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signature_ok(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, timestamp, body).encode(), signature.encode())


@dataclass
class EventsAnswer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def _refuse(status: int, code: str, message: str) -> EventsAnswer:
    return EventsAnswer(status, {"error": {"code": code, "message": message}})


class EventsReceiver(Protocol):
    """A Slack bridge, as the router sees it."""

    id: str

    @property
    def signing_secret(self) -> str | None: ...

    def accepts(self, payload: Mapping[str, Any]) -> bool: ...

    async def receive(self, payload: Mapping[str, Any], retry: int = 0) -> bool: ...


class SlackEventsRouter:
    """The Slack bridges listening on the Events API in this process (they add themselves on
    start). One per process, made by whoever makes the bridges (``BridgeDeps.slack_events``)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.bridges: dict[str, EventsReceiver] = {}

    def add(self, bridge: EventsReceiver) -> None:
        self.bridges[bridge.id] = bridge

    def remove(self, bridge: EventsReceiver) -> None:
        if self.bridges.get(bridge.id) is bridge:
            del self.bridges[bridge.id]

    async def handle(self, headers: Mapping[str, str], body: bytes) -> EventsAnswer:
        timestamp = headers.get("x-slack-request-timestamp") or ""
        signature = headers.get("x-slack-signature") or ""
        if not timestamp or not signature:
            return _refuse(401, "invalid_signature", "missing X-Slack-Signature or X-Slack-Request-Timestamp")
        try:
            sent_at = int(timestamp)
        except ValueError:
            return _refuse(401, "invalid_signature", "X-Slack-Request-Timestamp is not a number")
        if abs(self.clock.now().timestamp() - sent_at) > SIGNATURE_WINDOW:
            return _refuse(401, "stale_request", "the request is more than 5 minutes old (or the clocks disagree)")
        # Check every candidate (not just until the first match): several bridges may share an app.
        matches = [b for b in list(self.bridges.values())
                   if b.signing_secret and signature_ok(b.signing_secret, timestamp, body, signature)]
        if not matches:
            return _refuse(401, "invalid_signature", "the signature matches no Slack bridge's signing secret")
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            return _refuse(400, "invalid_input", "the body is not JSON")
        if not isinstance(payload, dict):
            return _refuse(400, "invalid_input", "the body is not a JSON object")
        kind = payload.get("type")
        if kind == "url_verification":
            return EventsAnswer(200, {"challenge": str(payload.get("challenge", ""))})
        if kind == "app_rate_limited":
            log.warning("Slack is dropping events for app %s: more than 30,000 events an hour",
                        payload.get("api_app_id"))
            return EventsAnswer(200, {"ok": True})
        if kind != "event_callback":
            return EventsAnswer(200, {"ok": True})
        targets = [b for b in matches if b.accepts(payload)]
        if not targets:
            return EventsAnswer(200, {"ok": True})
        retry = headers.get("x-slack-retry-num") or "0"
        results = await asyncio.gather(*(b.receive(payload, int(retry) if retry.isdigit() else 1)
                                         for b in targets))
        if all(results):
            return EventsAnswer(200, {"ok": True})
        # Not processed (yet): Slack retries, and the retry joins or redoes the work.
        return _refuse(503, "try_again", "the event could not be processed yet")

