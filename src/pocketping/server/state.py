"""What the edges reach at request time besides ``Services``: the running bridges (where
the workers run), Slack's one Events URL, the open inbox sockets. Built by the wiring."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pocketping.relay.live import BridgeMaker
from pocketping.server.inbox.sockets import InboxSockets

if TYPE_CHECKING:
    from pocketping.bridges.slack.events import SlackEventsRouter
    from pocketping.relay.manager import BridgeManager


@dataclass
class Edges:
    inbox: InboxSockets
    slack_events: SlackEventsRouter
    make_bridge: BridgeMaker  # for doctor checks over REST (a bridge made, checked, stopped)
    bridges: BridgeManager | None = None  # None in a process without workers


def edges_of(app: Any) -> Edges:
    edges: Edges = app.state.edges
    return edges
