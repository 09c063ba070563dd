"""Shared fixtures: real databases, a real server per backend, projects, HTTP clients."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from pocketping_testkit.databases import create_database, drop_database, wanted_backends
from pocketping_testkit.fakes.discord import FakeDiscord
from pocketping_testkit.fakes.slack import FakeSlack
from pocketping_testkit.fakes.telegram import FakeTelegram
from pocketping_testkit.server import ServerThread, make_settings

BACKENDS = wanted_backends()
_ran: dict[str, int] = {}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: runs headless Chromium")
    config.addinivalue_line("markers", "slow: takes more than a few seconds")
    config.addinivalue_line("markers", "backends(*names): runs only on these database backends "
                                       "(a feature of theirs); collected for no other, never skipped")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test marked ``backends("postgresql")`` is a test of that backend's own feature: it is
    not collected for the other backends at all (deselected, not skipped)."""
    keep, drop = [], []
    for item in items:
        marker = item.get_closest_marker("backends")
        callspec = getattr(item, "callspec", None)
        params = callspec.params if callspec is not None else {}
        backend = params.get("database", params.get("fresh_db"))
        (drop if marker is not None and backend is not None and backend not in marker.args else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _ran:
        shown = ", ".join(f"{name} ({count} tests)" for name, count in sorted(_ran.items()))
        terminalreporter.write_line(f"database backends exercised: {shown}")
    missing = [b for b in ("sqlite", "postgresql", "mysql") if b not in _ran]
    if missing and os.environ.get("POCKETPING_TEST_BACKENDS") is None and _ran:
        terminalreporter.write_line(f"WARNING: backends not exercised: {', '.join(missing)}")


@dataclass
class Db:
    backend: str
    url: str


@pytest.fixture(scope="session", params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Db]:
    backend = request.param
    url, name = create_database(backend, tmp_path_factory.mktemp(backend))
    try:
        yield Db(backend, url)
    finally:
        drop_database(backend, name)


@pytest.fixture(autouse=True)
def _count_backend(request: pytest.FixtureRequest) -> None:
    if "database" in request.fixturenames:
        backend = request.getfixturevalue("database").backend
        _ran[backend] = _ran.get(backend, 0) + 1


@pytest.fixture(scope="session")
def fake_slack() -> Iterator[FakeSlack]:
    """One fake Slack for the run; tests isolate themselves with their own app and channel."""
    slack = FakeSlack().start()
    try:
        yield slack
    finally:
        slack.stop()


@pytest.fixture(scope="session")
def fake_telegram() -> Iterator[FakeTelegram]:
    """One fake Telegram Bot API for the run; tests isolate themselves by bot token."""
    fake = FakeTelegram().start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture(scope="session")
def fake_discord() -> Iterator[FakeDiscord]:
    """One fake Discord (REST and Gateway) for the run; tests isolate themselves by channel."""
    with FakeDiscord() as fake:
        yield fake


@pytest.fixture(scope="session")
def server(database: Db, tmp_path_factory: pytest.TempPathFactory, fake_telegram: FakeTelegram,
           fake_slack: FakeSlack, fake_discord: FakeDiscord) -> Iterator[ServerThread]:
    """One real server per backend for the whole run (tests isolate themselves by project)."""
    data_dir = tmp_path_factory.mktemp(f"data-{database.backend}")
    # The fake web site (knowledge-base pages) listens on 127.0.0.1, which only a listed host reaches.
    srv = ServerThread(make_settings(database.url, str(data_dir), telegram_api_url=fake_telegram.url,
                                     slack_api_url=fake_slack.api_url, discord_api_url=fake_discord.api_url,
                                     allowed_private_hosts="127.0.0.1")).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Callable[..., ServerThread]]:
    """Start an extra server with its own settings (and a fresh SQLite database unless given one)."""
    started: list[ServerThread] = []

    def start(database_url: str | None = None, clock: Any = None, **overrides: Any) -> ServerThread:
        url = database_url or f"sqlite:///{tmp_path / f'extra{len(started)}.db'}"
        srv = ServerThread(make_settings(url, str(tmp_path / "data"), **overrides), clock=clock).start()
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()


@dataclass
class ProjectKeys:
    id: str
    public_key: str
    secret_key: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret_key}"}


def create_project_on(srv: ServerThread, name: str = "Test", origins: list[str] | None = None,
                      **widget: Any) -> ProjectKeys:
    from pocketping.actions.projects import create_project

    project, secret = srv.call(create_project(srv.services, name, origins or [], widget=widget or None))
    return ProjectKeys(project.id, project.public_key, secret)


@pytest.fixture
def project(server: ServerThread) -> ProjectKeys:
    return create_project_on(server)


@pytest.fixture
async def api(server: ServerThread) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=20) as client:
        yield client


@pytest.fixture
def make_project(server: ServerThread) -> Callable[..., ProjectKeys]:
    """Another project on the shared server: make_project(name=..., origins=[...], **widget)."""
    return lambda name="Test", origins=None, **widget: create_project_on(server, name, origins, **widget)


@pytest.fixture(params=BACKENDS)
def fresh_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    """A new, empty database of its own for one test, on each backend (migrations not applied)."""
    url, name = create_database(request.param, tmp_path)
    _ran[request.param] = _ran.get(request.param, 0) + 1
    try:
        yield Db(request.param, url)
    finally:
        drop_database(request.param, name)
