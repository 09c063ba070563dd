"""Fixtures for the bridge tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pocketping.actions.bridges import remove_bridge
from pocketping.testing.bridges import TelegramSetup, connect_telegram
from pocketping.testing.fakes.telegram import FakeTelegram
from pocketping.testing.server import ServerThread


@pytest.fixture
def telegram(server: ServerThread, project: Any, fake_telegram: FakeTelegram) -> Iterator[TelegramSetup]:
    setup = connect_telegram(fake_telegram, server, project.id)
    yield setup
    server.call(remove_bridge(server.services, project.id, setup.bridge_id))
    server.call(server.services.extras["bridge_manager"].sync())
