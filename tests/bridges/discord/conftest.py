"""Fixtures for the Discord bridge tests: a fake Discord per test, the bridge pointed at it,
and a sink that records what operators do."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
from discord_helpers import RecordingSink, make_bridge

from pocketping.bridges.discord import DiscordBridge
from pocketping.testing.fakes.discord import FakeDiscord


@pytest.fixture
def discord() -> Iterator[FakeDiscord]:
    with FakeDiscord() as fake:
        yield fake


@pytest.fixture
def channel(discord: FakeDiscord) -> str:
    return discord.add_channel("support")


@pytest.fixture
async def bridge(discord: FakeDiscord, channel: str) -> AsyncIterator[DiscordBridge]:
    """The bridge, not connected to the Gateway (outgoing calls only)."""
    b = make_bridge(discord, channel)
    yield b
    await b.stop()


@pytest.fixture
async def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
async def live(discord: FakeDiscord, channel: str, sink: RecordingSink) -> AsyncIterator[DiscordBridge]:
    """The bridge connected to the Gateway and ready."""
    b = make_bridge(discord, channel)
    await b.start(sink)
    await asyncio.wait_for(b.gateway.ready.wait(), 10)
    yield b
    await b.stop()
