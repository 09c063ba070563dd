"""Apply Alembic migrations, safely when several processes start at once.

PostgreSQL takes an advisory lock, MySQL/MariaDB a named lock (GET_LOCK), SQLite a
file lock beside the database file. Whoever gets the lock first migrates; the others
find nothing left to do.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

MIGRATIONS = Path(__file__).parent / "migrations"
_LOCK_KEY = 0x70636B70  # "pckp"


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revisions() -> tuple[str, ...]:
    return tuple(ScriptDirectory.from_config(alembic_config()).get_heads())


@contextlib.asynccontextmanager
async def _migration_lock(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    dialect = engine.dialect.name
    if dialect == "sqlite":
        db_file = engine.url.database or "pocketping.db"
        lock_path = Path(db_file + ".migrate-lock")
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(lock_path, "a+") as fh:  # noqa: ASYNC230  (a lock file, opened once at start-up)
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                async with engine.connect() as conn:
                    yield conn
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
        return
    async with engine.connect() as conn:
        if dialect == "postgresql":
            await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _LOCK_KEY})
            await conn.commit()
            try:
                yield conn
            finally:
                await conn.rollback()
                await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK_KEY})
                await conn.commit()
        else:
            await conn.execute(text("SELECT GET_LOCK('pocketping_migrate', 300)"))
            await conn.commit()
            try:
                yield conn
            finally:
                await conn.rollback()
                await conn.execute(text("SELECT RELEASE_LOCK('pocketping_migrate')"))
                await conn.commit()


def _upgrade(sync_conn: Any) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = sync_conn
    command.upgrade(cfg, "head")


def _current(sync_conn: Any) -> tuple[str, ...]:
    return tuple(MigrationContext.configure(sync_conn).get_current_heads())


async def current_revisions(engine: AsyncEngine) -> tuple[str, ...]:
    async with engine.connect() as conn:
        return await conn.run_sync(_current)


async def upgrade(engine: AsyncEngine, then: Callable[[], Awaitable[object]] | None = None
                  ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Bring the database to the newest schema; returns (before, after) revisions. ``then`` (data
    steps that need the keyring) runs after, still under the lock: one process at a time."""
    async with _migration_lock(engine) as conn:
        before = await conn.run_sync(_current)
        if set(before) != set(head_revisions()):
            await conn.run_sync(_upgrade)
            await conn.commit()
        after = await conn.run_sync(_current)
        if then is not None:
            if engine.dialect.name == "sqlite":
                await conn.close()  # its pool holds one connection; the file lock stays held
            await then()
    return before, after
