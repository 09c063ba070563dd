"""The Slack bridge (one thread per session), registered as bridge type ``slack``."""

from __future__ import annotations

from typing import Any

from pocketping.bridges.pacing import shared_pacer
from pocketping.bridges.registry import register
from pocketping.bridges.slack.bridge import REQUIRED_SCOPES, SlackBridge, SlackConfig
from pocketping.bridges.slack.events import SlackEventsRouter, events_router
from pocketping.core.models import Bridge as BridgeRecord


def create(record: BridgeRecord, services: Any) -> SlackBridge:
    settings = services.settings
    return SlackBridge(record.id, SlackConfig.from_dict(record.config), api_url=settings.slack_api_url,
                       clock=services.clock, router=events_router(services), public_url=settings.public_base(),
                       pacer=shared_pacer(services), max_wait=max(5.0, float(settings.outbox_lease_seconds) / 2),
                       recheck_after=float(settings.outbox_lease_seconds))


register("slack", create)

__all__ = ["REQUIRED_SCOPES", "SlackBridge", "SlackConfig", "SlackEventsRouter", "create", "events_router"]
