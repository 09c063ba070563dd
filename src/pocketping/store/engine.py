"""Database URLs and engines for SQLite, PostgreSQL and MySQL/MariaDB."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event

from pocketping.dburl import async_database_url, backend_name, redact
from pocketping.store.async_engine import AsyncEngine, create_async_engine

__all__ = ["async_database_url", "backend_name", "create_engine", "redact", "sqlite_path"]


def sqlite_path(url: str) -> Path | None:
    driver = async_database_url(url)
    if not driver.startswith("sqlite"):
        return None
    return Path(driver.split(":///", 1)[1])


# No pre-ping (a round trip per checkout): a connection found dead fails its transaction,
# is discarded, and the write is retried (group commit retries each write alone).
# Connections kept open: overflow connections are opened and closed per checkout, which
# costs far more than waiting briefly for a pooled one, so the pool covers normal load.
POOL_SIZE = 20
POOL_OVERFLOW = 10


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    driver_url = async_database_url(url)
    if driver_url.startswith("sqlite"):
        path = sqlite_path(url)
        assert path is not None
        path.parent.mkdir(parents=True, exist_ok=True)
        # One connection per process: SQLite has one writer anyway, and BEGIN IMMEDIATE
        # below makes other processes (the CLI) wait for it instead of failing.
        from pocketping.store.sqlite_driver import dbapi

        engine = create_async_engine(driver_url, pool_size=1, max_overflow=0, pool_timeout=60,
                                     connect_args={"timeout": 30}, module=dbapi(), **kwargs)
        _sqlite_setup(engine)
        return engine
    if driver_url.startswith("mysql"):
        return create_async_engine(driver_url, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW, pool_recycle=1800,
                                   isolation_level="READ COMMITTED", **kwargs)
    return create_async_engine(driver_url, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW, pool_recycle=1800,
                               **kwargs)


def _sqlite_setup(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves (pysqlite's implicit BEGIN is DEFERRED).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.connection.dbapi_connection.begin_immediate()  # (sqlite_driver: one job on its thread)
