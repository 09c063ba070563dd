"""Test and benchmark helper: a Slack app and channel in the fake Slack, connected to a
project of a running server (Events API to the server's Request URL, or Socket Mode)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pocketping.actions.bridges import add_bridge, remove_bridge
from pocketping_testkit.fakes.slack import Channel, FakeApp, FakeSlack, Said
from pocketping_testkit.server import ServerThread


@dataclass
class SlackSetup:
    fake: FakeSlack
    server: ServerThread
    project_id: str
    app: FakeApp
    channel: Channel
    bridge_id: str

    def cards(self) -> list[dict[str, Any]]:
        """The threads' parent messages (one per conversation), oldest first."""
        return self.fake.top_level(self.channel.id)

    def card(self) -> dict[str, Any]:
        cards = self.cards()
        assert len(cards) == 1, cards
        return cards[0]

    def replies(self, thread_ts: str | None = None) -> list[dict[str, Any]]:
        """Replies in one thread, or in every thread of the channel."""
        threads = [thread_ts] if thread_ts else [c["ts"] for c in self.cards()]
        return [m for t in threads for m in self.fake.replies(self.channel.id, t)]

    def texts(self, thread_ts: str | None = None) -> list[str]:
        return [str(m["text"]) for m in self.replies(thread_ts)]

    async def wait_reply(self, fragment: str, timeout: float = 20.0) -> dict[str, Any]:
        """The first reply in the channel's threads whose text contains ``fragment`` (waits for it)."""

        def found() -> dict[str, Any]:
            return next((m for m in self.replies() if fragment in str(m["text"])), {})

        return await self.fake.wait_until(found, timeout, what=f"a Slack reply containing {fragment!r}")

    async def say(self, text: str, thread_ts: str | None = None, **kwargs: Any) -> Said:
        """The operator (Sarah) writes in the conversation's thread."""
        return await self.fake.operator_reply(self.channel.id, thread_ts or self.card()["ts"], text, **kwargs)


def connect_slack(fake: FakeSlack, srv: ServerThread, project_id: str, *, socket_mode: bool = False) -> SlackSetup:
    app = fake.create_app(socket_mode=socket_mode)
    channel = fake.create_channel(members=[app.bot_user_id])
    config = {"bot_token": app.bot_token, "channel_id": channel.id}
    if socket_mode:
        config["app_token"] = app.app_token
    else:
        config["signing_secret"] = app.signing_secret
        app.request_url = srv.base_url + "/bridges/slack/events"
    bridge = srv.call(add_bridge(srv.services, project_id, "slack", config))
    # The configuration watcher would notice within seconds; tests need not wait for it.
    srv.call(srv.bridges.sync())
    if socket_mode:
        fake.call(fake.wait_socket(app))
    return SlackSetup(fake, srv, project_id, app, channel, bridge.id)


@contextlib.contextmanager
def slack_bridge(server: ServerThread, project: Any, fake: FakeSlack, *,
                 socket_mode: bool = False) -> Iterator[SlackSetup]:
    """A Slack app and channel of the session's fake Slack, connected to the test's project
    (and disconnected afterwards)."""
    setup = connect_slack(fake, server, project.id, socket_mode=socket_mode)
    try:
        yield setup
    finally:
        server.call(remove_bridge(server.services, project.id, setup.bridge_id))
        server.call(server.bridges.sync())
