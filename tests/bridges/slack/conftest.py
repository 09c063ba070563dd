"""Slack bridge fixtures: a fake Slack app and channel per test, bridges against them."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pocketping.bridges.base import InboundReply, Outgoing, SessionCard
from pocketping.bridges.pacing import Limit
from pocketping.bridges.slack import SlackBridge, SlackConfig
from pocketping.clock import Clock, SystemClock
from pocketping.core.models import Message, Session
from pocketping_testkit.fakes.slack import Channel, FakeApp, FakeSlack
from pocketping_testkit.server import ServerThread, make_settings

NOW = datetime(2030, 1, 1, tzinfo=UTC)


class RecordingSink:
    """Stands where the bridge manager will: records what operators did.

    Safe to use from another thread's loop (the server's); ``block`` makes the next replies
    wait until ``release`` (a slow database), ``fail`` makes them raise.
    """

    def __init__(self) -> None:
        self.replies: list[InboundReply] = []
        self.edits: list[tuple[str, str, str, str]] = []
        self.deletions: list[tuple[str, str, str]] = []
        self.seen_keys: set[tuple[str, str]] = set()
        self.seen_calls = 0
        self.statuses: list[tuple[str, str | None]] = []
        self._reported = threading.Event()
        self.fail = 0
        self.entered = threading.Event()
        self._gate: threading.Event | None = None
        self._lock = threading.Lock()

    def block(self) -> None:
        self._gate = threading.Event()

    def release(self) -> None:
        if self._gate is not None:
            self._gate.set()

    async def reply(self, reply: InboundReply) -> None:
        self.entered.set()
        if self._gate is not None:
            await asyncio.to_thread(self._gate.wait, 30)
        with self._lock:
            if self.fail:
                self.fail -= 1
                raise RuntimeError("the database is down")
            self.replies.append(reply)

    async def edited(self, bridge_id: str, thread_id: str, external_id: str, text: str) -> None:
        self.edits.append((bridge_id, thread_id, external_id, text))

    async def deleted(self, bridge_id: str, thread_id: str, external_id: str) -> None:
        self.deletions.append((bridge_id, thread_id, external_id))

    async def typing(self, bridge_id: str, thread_id: str, operator_name: str) -> None:
        pass

    async def save_state(self, bridge_id: str, changes: dict[str, Any]) -> None:
        pass

    async def report(self, bridge_id: str, status: str, detail: str | None = None) -> None:
        self.statuses.append((status, detail))
        self._reported.set()

    async def next_status(self, timeout: float = 10.0) -> tuple[str, str | None]:
        """The status reported next (or already, since the last call)."""
        if not await asyncio.to_thread(self._reported.wait, timeout):
            raise TimeoutError("no status was reported")
        self._reported.clear()
        return self.statuses[-1]

    async def seen(self, source: str, key: str) -> bool:
        with self._lock:
            self.seen_calls += 1
            if (source, key) in self.seen_keys:
                return False
            self.seen_keys.add((source, key))
            return True


def make_session(session_id: str = "sess_test", **fields: Any) -> Session:
    values: dict[str, Any] = dict(
        id=session_id, project_id="proj_test", visitor_id="vis_0123456789abcdef", status="active",
        metadata={"url": "https://shop.example.com/pricing"}, identity=None, created_at=NOW, last_activity=NOW,
        closed_at=None, first_message_at=None, last_seq=0, visitor_read_seq=0, operator_read_seq=0,
        ai_enabled=False, ai_due_at=None, ai_reply_count=0)
    values.update(fields)
    return Session(**values)


def make_card(session_id: str = "sess_test", title: str = "Visitor abcdef · /pricing",
              lines: tuple[tuple[str, str], ...] = (("Page", "https://shop.example.com/pricing"),),
              link: str | None = None) -> SessionCard:
    return SessionCard(session=make_session(session_id), title=title, lines=lines, link=link)


_msg_ids = iter(range(1, 1_000_000))


def outgoing(text: str, author: str = "Visitor", kind: str = "visitor", message_id: str | None = None) -> Outgoing:
    message = Message(id=message_id or f"msg_{next(_msg_ids)}", session_id="sess_test", seq=1, kind="message",
                      sender="visitor", source="widget", text=text, created_at=NOW)
    return Outgoing(message=message, author=author, text=text, kind=kind)  # type: ignore[arg-type]


@pytest.fixture
def slack_app(fake_slack: FakeSlack) -> FakeApp:
    return fake_slack.create_app()


@pytest.fixture
def slack_channel(fake_slack: FakeSlack, slack_app: FakeApp) -> Channel:
    return fake_slack.create_channel(members=[slack_app.bot_user_id])


BridgeFactory = Callable[..., SlackBridge]


@pytest.fixture
async def make_bridge(fake_slack: FakeSlack) -> AsyncIterator[BridgeFactory]:
    """Bridges on the test's own loop, stopped afterwards."""
    made: list[SlackBridge] = []

    def make(app: FakeApp, channel: Channel, *, socket_mode: bool = False, clock: Clock | None = None,
             bridge_id: str = "brg_slacktest", **kwargs: Any) -> SlackBridge:
        config = SlackConfig(bot_token=app.bot_token, channel_id=channel.id,
                             signing_secret=None if socket_mode else app.signing_secret,
                             app_token=app.app_token if socket_mode else None)
        clock = clock or SystemClock()
        # Pacing has its own tests; here a generous bucket keeps the suite fast.
        kwargs.setdefault("pace", Limit(rate=50.0, burst=50))
        kwargs.setdefault("max_wait", 5.0)
        bridge = SlackBridge(bridge_id, config, api_url=fake_slack.api_url, clock=clock, **kwargs)
        made.append(bridge)
        return bridge

    yield make
    for bridge in made:
        await bridge.stop()


@pytest.fixture(scope="module")
def events_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    """A real server for the Events API endpoint tests (no database work happens in them)."""
    tmp: Path = tmp_path_factory.mktemp("slack-events")
    srv = ServerThread(make_settings(f"sqlite:///{tmp / 'events.db'}", str(tmp))).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def served_bridge(events_server: ServerThread, fake_slack: FakeSlack) -> Iterator[Callable[..., SlackBridge]]:
    """Bridges started on the server's own loop, listening on its ``/bridges/slack/events``."""
    started: list[SlackBridge] = []

    def start(app: FakeApp, channel: Channel, sink: RecordingSink, *, bridge_id: str = "brg_served",
              **kwargs: Any) -> SlackBridge:
        config = SlackConfig(bot_token=app.bot_token, channel_id=channel.id, signing_secret=app.signing_secret)

        async def build() -> SlackBridge:
            bridge = SlackBridge(bridge_id, config, api_url=fake_slack.api_url, clock=events_server.services.clock,
                                 router=events_server.node.bridge_deps.slack_events, **kwargs)
            await bridge.start(sink)
            return bridge

        bridge = events_server.call(build())
        started.append(bridge)
        app.request_url = events_server.base_url + "/bridges/slack/events"
        return bridge

    yield start
    for bridge in started:
        events_server.call(bridge.stop())
