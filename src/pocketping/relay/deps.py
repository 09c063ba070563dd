"""What bridges are made with (``BridgeDeps``), built from the settings and the clock."""

from __future__ import annotations

from pocketping.bridges.deps import DEFAULT_HTTP, BridgeDeps, BridgeSettings, HttpClientFactory
from pocketping.bridges.pacing import Pacer
from pocketping.bridges.slack.events import SlackEventsRouter
from pocketping.clock import Clock
from pocketping.config import Settings
from pocketping.services import Services


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


def shared_bridge_deps(svc: Services) -> BridgeDeps:
    """The deps of this process's bridges, made on first use (the bridge manager, ``doctor`` and
    the Slack events route must share one)."""
    # Kept with the services until the wiring holds it as a typed field of its own.
    deps = svc.extras.get("bridge_deps")
    if not isinstance(deps, BridgeDeps):
        deps = svc.extras["bridge_deps"] = build_bridge_deps(svc.settings, svc.clock)
    return deps
