"""Fixtures for the AI fallback: fake model APIs, a fake website, servers on a FakeClock.

Timer tests run on every backend, each module on fresh databases of its own. Every test's
clock starts a month before the previous one's, so a timer another test left running is
always in the future and never fires in the wrong test.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pocketping.clock import FakeClock
from pocketping.crypto import generate_key
from pocketping_testkit.databases import create_database, drop_database
from pocketping_testkit.fakes.llm import FakeLLM
from pocketping_testkit.fakes.site import FakeSite
from pocketping_testkit.server import ServerThread

_starts = itertools.count()


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    fake = FakeLLM().start()
    yield fake
    fake.stop()


@pytest.fixture
def site() -> Iterator[FakeSite]:
    fake = FakeSite().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def ai_database(database: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    """A fresh database of each backend for the module (the shared one belongs to ``server``),
    with the encryption key every server on it uses."""
    backend = database.backend
    url, name = create_database(backend, tmp_path_factory.mktemp(f"ai-{backend}"))
    try:
        yield backend, url, generate_key()
    finally:
        drop_database(backend, name)


@dataclass
class AIEnv:
    backend: str
    url: str
    key: str
    clock: FakeClock
    start: Callable[..., ServerThread]

    def server(self, clock: FakeClock | None = None, **overrides: Any) -> ServerThread:
        overrides.setdefault("allowed_private_hosts", "127.0.0.1")  # the fake web site's address
        return self.start(self.url, clock=clock or self.clock, encryption_key=self.key, **overrides)


def _clock() -> FakeClock:
    return FakeClock(datetime(2030, 1, 1, tzinfo=UTC) - timedelta(days=30 * next(_starts)))


@pytest.fixture
def ai_env(ai_database: tuple[str, str, str], make_server: Callable[..., ServerThread]) -> AIEnv:
    """Servers on a FakeClock, on each backend (for what involves storage)."""
    backend, url, key = ai_database
    return AIEnv(backend, url, key, _clock(), make_server)


@pytest.fixture
def ai_env_sqlite(tmp_path: Path, make_server: Callable[..., ServerThread]) -> AIEnv:
    """The same on one SQLite database only (for what does not depend on the backend)."""
    return AIEnv("sqlite", f"sqlite:///{tmp_path / 'ai.db'}", generate_key(), _clock(), make_server)
