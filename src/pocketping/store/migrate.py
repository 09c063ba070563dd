"""Apply Alembic migrations, safely when several processes start at once.

PostgreSQL takes an advisory lock, MySQL/MariaDB a named lock (GET_LOCK), SQLite a
file lock beside the database file. Whoever gets the lock first migrates; the others
find nothing left to do.

The state is one query (``alembic_version``) compared with the heads ``store.revisions``
reads from the migration scripts; Alembic is imported only when a migration must run.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from pocketping.store.async_engine import AsyncConnection, AsyncEngine
from pocketping.store.revisions import check_known, head_revisions

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
_LOCK_KEY = 0x70636B70  # "pckp"


__all__ = ["alembic_config", "current_revisions", "head_revisions", "upgrade"]


def alembic_config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


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
    from alembic import command

    cfg = alembic_config()
    cfg.attributes["connection"] = sync_conn
    command.upgrade(cfg, "head")


async def _current(conn: AsyncConnection) -> tuple[str, ...]:
    """The database's revisions (Alembic's ``alembic_version`` table): one query; () when the
    table is not there yet (a new database)."""
    try:
        return tuple((await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars())
    except DBAPIError:
        await conn.rollback()
        if await conn.run_sync(lambda sync: inspect(sync).has_table("alembic_version")):
            raise
        return ()


async def current_revisions(engine: AsyncEngine) -> tuple[str, ...]:
    async with engine.connect() as conn:
        return await _current(conn)


async def upgrade(engine: AsyncEngine, then: Callable[[], Awaitable[object]] | None = None
                  ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Bring the database to the newest schema; returns (before, after) revisions. ``then`` (data
    steps that need the keyring) runs after, still under the lock: one process at a time."""
    async with _migration_lock(engine) as conn:
        before = await _current(conn)
        check_known(before)  # a newer version's database: refused before anything runs
        if set(before) != set(head_revisions()):
            await conn.run_sync(_upgrade)
            await conn.commit()
            after = await _current(conn)
        else:
            after = before
        await conn.rollback()
        if then is not None:
            if engine.dialect.name == "sqlite":
                await conn.close()  # its pool holds one connection; the file lock stays held
            await then()
    return before, after
