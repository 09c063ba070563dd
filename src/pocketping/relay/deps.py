"""What bridges are made with (``BridgeDeps``), built from the settings and the clock."""

from __future__ import annotations

from pocketping.bridges.deps import DEFAULT_HTTP, BridgeDeps, BridgeSettings, HttpClientFactory
from pocketping.bridges.pacing import Pacer
from pocketping.bridges.slack.events import SlackEventsRouter
from pocketping.clock import Clock
from pocketping.config import Settings


def bridge_settings(settings: Settings) -> BridgeSettings:
    return BridgeSettings(public_url=settings.public_base(), outbox_lease_seconds=settings.outbox_lease_seconds,
                          telegram_api_url=settings.telegram_api_url, telegram_mode=settings.telegram_mode,
                          discord_api_url=settings.discord_api_url, slack_api_url=settings.slack_api_url)


def build_bridge_deps(settings: Settings, clock: Clock, *, http: HttpClientFactory = DEFAULT_HTTP) -> BridgeDeps:
    """One process's: a single pacer (POCKETPING_BRIDGE_PACING=off keeps only the platforms'
    own 429s) and a single Slack Events API router, shared by every bridge made with it."""
    return BridgeDeps(clock=clock, settings=bridge_settings(settings),
                      pacer=Pacer(clock, enabled=settings.bridge_pacing != "off"),
                      slack_events=SlackEventsRouter(clock), http=http)
