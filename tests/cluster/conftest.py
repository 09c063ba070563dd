"""Several real processes on one database (PostgreSQL or MariaDB) and one Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pocketping.actions.bridges import add_bridge
from pocketping.actions.operators import add_operator
from pocketping.actions.projects import create_project
from pocketping.crypto import generate_key
from pocketping.store import cluster as cluster_repo
from pocketping.wiring import build_services
from pocketping_testkit.cluster import Cluster
from pocketping_testkit.databases import create_database, drop_database, wanted_backends
from pocketping_testkit.fakes.telegram import FakeTelegram
from pocketping_testkit.server import make_settings

# Several processes need a database server: with POCKETPING_TEST_BACKENDS=sqlite they run on PostgreSQL.
SERVER_BACKENDS = [b for b in ("postgresql", "mysql") if b in wanted_backends()] or ["postgresql"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.slow)  # real processes started and killed: not for make test-fast


@dataclass
class Setup:
    cluster: Cluster
    url: str
    key: str
    public_key: str
    secret: str
    project_id: str
    token: str
    chat: int
    bridge_id: str
    operator_email: str
    operator_password: str
    data_dir: Path

    def services(self) -> Any:
        return build_services(make_settings(self.url, str(self.data_dir), encryption_key=self.key))

    async def lease_holder(self) -> tuple[str | None, int]:
        """(node id, fencing token) holding this bridge's platform connection."""
        svc = self.services()
        try:
            async with svc.db.read() as tx:
                held = {lease.name: lease for lease in await cluster_repo.held_leases(tx)}
        finally:
            await svc.db.dispose()
        lease = held.get(f"bridge:{self.bridge_id}")
        return (lease.holder, lease.token) if lease else (None, 0)

    async def node_pid(self, node_id: str) -> int:
        from datetime import timedelta

        svc = self.services()
        try:
            async with svc.db.read() as tx:
                nodes = {n.id: n for n in await cluster_repo.live_nodes(tx, timedelta(hours=1))}
        finally:
            await svc.db.dispose()
        return nodes[node_id].pid


@pytest.fixture(params=SERVER_BACKENDS)
def cluster_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    url, name = create_database(request.param, tmp_path)
    try:
        yield request.param, url
    finally:
        drop_database(request.param, name)


@pytest.fixture
async def setup(cluster_db: tuple[str, str], tmp_path: Path, fake_telegram: FakeTelegram) -> AsyncIterator[Setup]:
    _, url = cluster_db
    key = generate_key()
    data_dir = tmp_path / "data"
    svc = build_services(make_settings(url, str(data_dir), encryption_key=key))
    await svc.db.migrate()
    project, secret = await create_project(svc, "Cluster", [])
    token = fake_telegram.add_bot()
    chat = fake_telegram.add_forum(token)
    bridge = await add_bridge(svc, project.id, "telegram", {"bot_token": token, "chat_id": str(chat)})
    password = "correct horse battery staple"
    await add_operator(svc, "sarah@example.com", project_ids=[project.id], password=password, name="Sarah")
    await svc.db.dispose()
    cluster = Cluster(url, data_dir, encryption_key=key,
                      env={"POCKETPING_TELEGRAM_API_URL": fake_telegram.url, "POCKETPING_LEASE_SECONDS": "3",
                           "POCKETPING_MAX_TEXT_CHARS": "10000", "POCKETPING_BRIDGE_PACING": "off"})
    try:
        yield Setup(cluster, url, key, project.public_key, secret, project.id, token, chat, bridge.id,
                    "sarah@example.com", password, data_dir)
    finally:
        cluster.stop()
