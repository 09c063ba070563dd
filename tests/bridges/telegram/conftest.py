"""Telegram bridge fixtures: a bot and a forum of their own in the session's fake Bot API
(tests/conftest.py's ``fake_telegram``), connected to the test's project."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pocketping_testkit.bridges import TelegramSetup, telegram_bridge


@pytest.fixture
def telegram(server, project, fake_telegram) -> Iterator[TelegramSetup]:
    with telegram_bridge(server, project, fake_telegram) as setup:
        yield setup
