"""Helpers and fixtures for the Discord bridge tests: a fake Discord per test, the bridge
pointed at it, a sink that records what operators do, records, sessions, cards and items.

The fixtures live here rather than in a conftest.py: test modules import them by name (a
second module called ``conftest`` would shadow tests/conftest.py for ``from conftest import``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from pocketping.bridges.base import InboundReply, Outgoing, SessionCard
from pocketping.bridges.discord import DiscordBridge
from pocketping.core.models import BridgeRecord, Message, Session
from pocketping_testkit.fakes.discord import FakeDiscord

NOW = datetime(2030, 1, 1, tzinfo=UTC)


class RecordingSink:
    """An InboundSink that keeps everything and lets a test wait for it."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self._changed = asyncio.Condition()
        self._seen: set[tuple[str, str]] = set()
        self.state: dict[str, Any] = {}  # what save_state kept, as the bridge record would

    async def _add(self, kind: str, value: Any) -> None:
        async with self._changed:
            self.events.append((kind, value))
            self._changed.notify_all()

    async def reply(self, reply: InboundReply) -> None:
        await self._add("reply", reply)

    async def edited(self, bridge_id: str, thread_id: str, external_id: str, text: str) -> None:
        await self._add("edited", (thread_id, external_id, text))

    async def deleted(self, bridge_id: str, thread_id: str, external_id: str) -> None:
        await self._add("deleted", (thread_id, external_id))

    async def typing(self, bridge_id: str, thread_id: str, operator_name: str) -> None:
        await self._add("typing", (thread_id, operator_name))

    async def seen(self, source: str, key: str) -> bool:
        if (source, key) in self._seen:
            return False
        self._seen.add((source, key))
        return True

    async def save_state(self, bridge_id: str, changes: dict[str, Any]) -> None:
        self.state.update(changes)
        await self._add("state", dict(changes))

    async def report(self, bridge_id: str, status: str, detail: str | None = None) -> None:
        await self._add("status", (status, detail))

    def of(self, kind: str) -> list[Any]:
        return [value for k, value in self.events if k == kind]

    async def wait(self, kind: str, count: int = 1, timeout: float = 10.0) -> list[Any]:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: len(self.of(kind)) >= count), timeout)
        return self.of(kind)


def record(channel_id: str, token: str, bridge_id: str = "brg_test",
           state: dict[str, Any] | None = None) -> BridgeRecord:
    return BridgeRecord(id=bridge_id, project_id="proj_test", type="discord",
                        config={"bot_token": token, "channel_id": channel_id}, status="active", status_detail=None,
                        state=state or {}, created_at=NOW, updated_at=NOW)


def session(session_id: str = "sess_1", visitor: str = "vis_abcdef123456") -> Session:
    return Session(id=session_id, project_id="proj_test", visitor_id=visitor, status="active",
                   metadata={"url": "https://shop.example/pricing"}, identity=None, created_at=NOW,
                   last_activity=NOW, closed_at=None, first_message_at=NOW, last_seq=1, visitor_read_seq=0,
                   operator_read_seq=0, ai_enabled=False, ai_due_at=None, ai_reply_count=0)


def card(sess: Session | None = None, title: str = "Visitor 123456 · /pricing") -> SessionCard:
    sess = sess or session()
    return SessionCard(session=sess, title=title,
                       lines=(("Page", "https://shop.example/pricing"), ("Browser", "Firefox 133")))


_seq = iter(range(1, 1_000_000))


def item(text: str, *, author: str = "Visitor", kind: str = "visitor", message_id: str | None = None) -> Outgoing:
    seq = next(_seq)
    message = Message(id=message_id or f"msg_{seq}", session_id="sess_1", seq=seq, kind="message",
                      sender="visitor", source="widget", text=text, created_at=NOW)
    return Outgoing(message=message, author=author, text=text, kind=kind)  # type: ignore[arg-type]


def make_bridge(discord: FakeDiscord, channel_id: str, state: dict[str, Any] | None = None,
                **gateway: Any) -> DiscordBridge:
    options = {"invalid_session_delay": (0.0, 0.01)}
    options.update(gateway)
    return DiscordBridge(record(channel_id, discord.token, state=state), discord.api_url, timeout=0.5,
                         gateway_options=options)


@pytest.fixture(name="discord")
def discord_fixture() -> Iterator[FakeDiscord]:
    with FakeDiscord() as fake:
        yield fake


@pytest.fixture(name="channel")
def channel_fixture(discord: FakeDiscord) -> str:
    return discord.add_channel("support")


@pytest.fixture(name="bridge")
async def bridge_fixture(discord: FakeDiscord, channel: str) -> AsyncIterator[DiscordBridge]:
    """The bridge, not connected to the Gateway (outgoing calls only)."""
    b = make_bridge(discord, channel)
    yield b
    await b.stop()


@pytest.fixture(name="sink")
async def sink_fixture() -> RecordingSink:
    return RecordingSink()


@pytest.fixture(name="live")
async def live_fixture(discord: FakeDiscord, channel: str, sink: RecordingSink) -> AsyncIterator[DiscordBridge]:
    """The bridge connected to the Gateway and ready."""
    b = make_bridge(discord, channel)
    await b.start(sink)
    await asyncio.wait_for(b.gateway.ready.wait(), 10)
    yield b
    await b.stop()
