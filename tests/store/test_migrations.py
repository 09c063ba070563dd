"""Migrations: one head, they build exactly schema.py, and concurrent starts are safe."""

from __future__ import annotations

import subprocess
import sys

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from pocketping.store.engine import create_engine
from pocketping.store.migrate import current_revisions, head_revisions, upgrade
from pocketping.store.schema import metadata


def test_exactly_one_head():
    assert len(head_revisions()) == 1


@pytest.fixture
def empty_db(fresh_db):
    return fresh_db.backend, fresh_db.url


async def test_migrations_build_exactly_the_declared_schema(empty_db):
    _, url = empty_db
    engine = create_engine(url)
    try:
        before, after = await upgrade(engine)
        assert before == () and after == head_revisions()
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync, opts={"compare_type": True}),
                                              metadata))
        assert diff == []
        # Running again changes nothing.
        assert await upgrade(engine) == (head_revisions(), head_revisions())
    finally:
        await engine.dispose()


async def test_several_processes_migrating_at_once(empty_db):
    _, url = empty_db
    code = ("import asyncio,sys;from pocketping.store.engine import create_engine;"
            "from pocketping.store.migrate import upgrade;"
            "e=create_engine(sys.argv[1]);print(asyncio.run(upgrade(e))[1])")
    procs = [subprocess.Popen([sys.executable, "-c", code, url], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(4)]
    results = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in results]
    engine = create_engine(url)
    try:
        assert await current_revisions(engine) == head_revisions()
    finally:
        await engine.dispose()
