"""What a bridge is made with: ``create(record, deps)`` gets a ``BridgeDeps``, never ``Services``.

The caller (the relay, a test, the bench) builds one per process: a clock, a way to make
HTTP clients (tests and the bench may pass an ``httpx`` transport), the ``Pacer`` every
bridge of the process shares, what a platform shares across its bridges (Slack's Events
API router), and the settings bridges read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from pocketping.bridges.pacing import Pacer
from pocketping.clock import Clock

if TYPE_CHECKING:  # typing only: the Slack package's own modules import this one
    import httpx

    from pocketping.bridges.slack.events import SlackEventsRouter


class HttpClientFactory(Protocol):
    """Makes the HTTP client one platform API talks through."""

    def __call__(self, *, timeout: httpx.Timeout | float, headers: Mapping[str, str] | None = None,
                 base_url: str = "") -> httpx.AsyncClient: ...


@dataclass(frozen=True)
class HttpClients:
    """The default ``HttpClientFactory``: ``bridges.http.PlatformClient``s (no cookies) that follow no redirect, sent
    through ``transport`` when one is given (else each through a ``bridges.http.PlatformTransport`` of its own).
    Every client made shares that transport, and a client closing closes it: give one whose
    ``aclose`` leaves it usable (``httpx.MockTransport`` and ``httpx.ASGITransport`` do)."""

    transport: httpx.AsyncBaseTransport | None = None

    def __call__(self, *, timeout: httpx.Timeout | float, headers: Mapping[str, str] | None = None,
                 base_url: str = "") -> httpx.AsyncClient:
        from pocketping.bridges.http import PlatformClient, PlatformTransport  # httpx, with the first bridge

        return PlatformClient(timeout=timeout, headers=dict(headers or {}), base_url=base_url,
                              follow_redirects=False, transport=self.transport or PlatformTransport())


# Plain clients, no transport of their own: what production uses.
DEFAULT_HTTP = HttpClients()


@dataclass(frozen=True)
class BridgeSettings:
    """The settings bridges read (from ``POCKETPING_*``; see docs/configuration.md)."""

    # The server's public address without a trailing slash (None: not reachable from outside).
    public_url: str | None = None
    # A delivery holds its outbox lease this long: bridges never wait on pacing past half of it.
    outbox_lease_seconds: float = 60.0
    telegram_api_url: str = "https://api.telegram.org"
    telegram_mode: Literal["auto", "polling", "webhook"] = "auto"
    discord_api_url: str = "https://discord.com/api/v10"
    slack_api_url: str = "https://slack.com/api/"

    @property
    def max_pacing_wait(self) -> float:
        """The longest a delivery waits for a pacing slot before giving its lease back."""
        return max(5.0, float(self.outbox_lease_seconds) / 2)


@dataclass(frozen=True)
class BridgeDeps:
    clock: Clock
    settings: BridgeSettings
    # Shared by every bridge of the process: pacing per destination (POCKETPING_BRIDGE_PACING).
    pacer: Pacer
    # Where the Events API calls of every Slack bridge of the process arrive (POST /bridges/slack/events).
    slack_events: SlackEventsRouter
    http: HttpClientFactory = DEFAULT_HTTP
