"""Throwaway databases on real servers, for the test suite and the benchmarks.

Each call makes a fresh, uniquely named database, so parallel runs (several checkouts,
CI and a developer) never share rows.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BACKENDS = ("sqlite", "postgresql", "mysql")

PG_ADMIN = os.environ.get("POCKETPING_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
MYSQL_ADMIN = os.environ.get("POCKETPING_TEST_MYSQL", "mysql://root@127.0.0.1:3306/test")


def wanted_backends() -> tuple[str, ...]:
    raw = os.environ.get("POCKETPING_TEST_BACKENDS", ",".join(BACKENDS))
    chosen = tuple(b.strip() for b in raw.split(",") if b.strip())
    unknown = set(chosen) - set(BACKENDS)
    if unknown:
        raise ValueError(f"unknown backends in POCKETPING_TEST_BACKENDS: {', '.join(sorted(unknown))}")
    return chosen


def _with_db(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


async def _pg(sql: str) -> None:
    import asyncpg

    parts = urlsplit(PG_ADMIN)
    conn = await asyncpg.connect(host=parts.hostname, port=parts.port or 5432, user=parts.username or "postgres",
                                 password=parts.password, database=parts.path.lstrip("/") or "postgres", timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _mysql(sql: str) -> None:
    import pymysql

    parts = urlsplit(MYSQL_ADMIN)
    conn = pymysql.connect(host=parts.hostname or "127.0.0.1", port=parts.port or 3306, user=parts.username or "root",
                           password=parts.password or "", connect_timeout=10)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
        conn.commit()
    finally:
        conn.close()


def _run(coro: object) -> None:
    """Run a coroutine to completion, also when called from inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coro)  # type: ignore[arg-type]
        return
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coro).result()  # type: ignore[arg-type]


def create_database(backend: str, workdir: Path | None = None) -> tuple[str, str]:
    """(database URL, name) of a new empty database. Raises if the server can't be reached:
    a backend that did not run must fail the suite, never pass silently."""
    name = f"pp_{secrets.token_hex(6)}"
    if backend == "sqlite":
        directory = workdir or Path(tempfile.mkdtemp(prefix="pp-"))
        path = (directory / f"{name}.db").resolve()
        return f"sqlite:///{path}", str(path)
    if backend == "postgresql":
        _run(_pg(f'CREATE DATABASE "{name}"'))
        return _with_db(PG_ADMIN, name), name
    if backend == "mysql":
        _mysql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        return _with_db(MYSQL_ADMIN, name), name
    raise ValueError(f"unknown backend {backend}")


def drop_database(backend: str, name: str) -> None:
    if backend == "sqlite":
        for suffix in ("", "-wal", "-shm", ".migrate-lock"):
            Path(name + suffix).unlink(missing_ok=True)
    elif backend == "postgresql":
        _run(_pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    elif backend == "mysql":
        _mysql(f"DROP DATABASE IF EXISTS `{name}`")
