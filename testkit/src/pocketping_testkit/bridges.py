"""Test and benchmark helpers for the bridges: a Telegram bot and forum, or a Discord
channel, in the fakes, connected to a project of a running server; fake time moved until
something happened."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pocketping.actions.bridges import add_bridge, remove_bridge
from pocketping.clock import FakeClock
from pocketping_testkit.fakes.discord import FakeDiscord
from pocketping_testkit.fakes.telegram import FakeTelegram, Msg, Topic
from pocketping_testkit.server import ServerThread


@dataclass
class TelegramSetup:
    fake: FakeTelegram
    server: ServerThread
    project_id: str
    token: str
    chat_id: int
    bridge_id: str

    def topics(self) -> list[Topic]:
        return self.fake.topics(self.chat_id)

    def live_topics(self) -> list[Topic]:
        return [t for t in self.topics() if not t.deleted]

    def posts(self, thread_id: int | None = None) -> list[Msg]:
        return self.fake.posts(self.chat_id, thread_id)

    def texts(self, thread_id: int | None = None) -> list[str]:
        return [m.text for m in self.posts(thread_id)]

    async def wait_post(self, fragment: str, timeout: float = 20.0) -> Msg:
        await self.fake.wait_for(lambda: any(fragment in m.text for m in self.posts()), timeout)
        return next(m for m in self.posts() if fragment in m.text)

    def topic(self) -> Topic:
        live = self.live_topics()
        assert len(live) == 1, live
        return live[0]


def connect_telegram(fake: FakeTelegram, srv: ServerThread, project_id: str, **forum: Any) -> TelegramSetup:
    token = fake.add_bot()
    chat = fake.add_forum(token, **forum)
    bridge = srv.call(add_bridge(srv.services, project_id, "telegram", {"bot_token": token, "chat_id": str(chat)}))
    # The configuration watcher would notice within seconds; tests need not wait for it.
    srv.call(srv.bridges.sync())
    return TelegramSetup(fake, srv, project_id, token, chat, bridge.id)


async def advance_until(clock: FakeClock, done: Callable[[], bool], *, fake: FakeTelegram | None = None,
                        step: float = 1.0, settle: float = 0.1, limit_seconds: float = 3600.0) -> float:
    """Move fake time forward a step at a time until ``done()``; returns the fake seconds spent.

    After each step the server (on its own thread) gets up to ``settle`` real seconds to act
    on the timers that fired; with ``fake`` given, the wait ends as soon as the fake's state
    changes, so a test runs about as fast as the server works."""
    spent = 0.0
    while not done():
        if spent >= limit_seconds:
            raise TimeoutError(f"not done after {spent} fake seconds")
        clock.advance(step)
        spent += step
        if fake is not None:
            marker = fake.change_count
            with contextlib.suppress(TimeoutError):
                await fake.wait_for(lambda m=marker: done() or fake.change_count != m, settle)  # type: ignore[misc]
        else:
            await asyncio.sleep(settle)
    return spent


@contextlib.contextmanager
def telegram_bridge(server: ServerThread, project: Any, fake_telegram: FakeTelegram) -> Iterator[TelegramSetup]:
    """A bot and a forum in the session's fake Telegram, connected to the test's project
    (and disconnected afterwards). Test modules wrap it in a fixture of their own."""
    setup = connect_telegram(fake_telegram, server, project.id)
    try:
        yield setup
    finally:
        server.call(remove_bridge(server.services, project.id, setup.bridge_id))
        server.call(server.bridges.sync())


@dataclass
class DiscordSetup:
    fake: FakeDiscord
    server: ServerThread
    project_id: str
    channel_id: str
    bridge_id: str

    def threads(self) -> list[dict[str, Any]]:
        return self.fake.threads(self.channel_id)

    def thread(self) -> dict[str, Any]:
        threads = self.threads()
        assert len(threads) == 1, threads
        return threads[0]

    def posts(self, thread_id: str | None = None) -> list[dict[str, Any]]:
        """What the bot posted, in the given thread or in all of this channel's threads."""
        ids = [thread_id] if thread_id else [t["id"] for t in self.threads()]
        bot = self.fake.bot["id"]
        return [m for i in ids for m in self.fake.messages(i) if m["author"]["id"] == bot]

    def texts(self, thread_id: str | None = None) -> list[str]:
        return [m["content"] for m in self.posts(thread_id)]

    async def wait_post(self, fragment: str, timeout: float = 20.0) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            return next((m for m in self.posts() if fragment in m["content"]), None)
        return await self.fake.wait_until(found, timeout, what=f"a Discord post with {fragment!r}")

    def bridge(self) -> Any:
        """The live bridge in the server (to look at its Gateway)."""
        return self.server.bridges.live.running(self.bridge_id)


def connect_discord(fake: FakeDiscord, srv: ServerThread, project_id: str, kind: str = "text") -> DiscordSetup:
    """A channel of its own in the fake guild (``kind``: text or forum), connected to the
    project, with the bridge's Gateway session ready."""
    channel = fake.add_channel(f"support-{project_id[-6:]}", kind=kind)
    bridge = srv.call(add_bridge(srv.services, project_id, "discord", {"bot_token": fake.token,
                                                                       "channel_id": channel}))
    srv.call(srv.bridges.sync())
    setup = DiscordSetup(fake, srv, project_id, channel, bridge.id)
    srv.call(asyncio.wait_for(setup.bridge().gateway.ready.wait(), 20))
    return setup


@contextlib.contextmanager
def discord_bridge(server: ServerThread, project: Any, fake_discord: FakeDiscord,
                   kind: str = "text") -> Iterator[DiscordSetup]:
    """A channel in the session's fake Discord connected to the test's project (and
    disconnected afterwards). Test modules wrap it in a fixture of their own."""
    setup = connect_discord(fake_discord, server, project.id, kind)
    try:
        yield setup
    finally:
        server.call(remove_bridge(server.services, project.id, setup.bridge_id))
        server.call(server.bridges.sync())
