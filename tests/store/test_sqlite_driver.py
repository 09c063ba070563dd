"""SQLite's adaptor (store/sqlite_driver.py): each statement is one job on aiosqlite's thread
(SQLAlchemy's own adaptor makes four), with the same rows, counts, ids and errors."""

from __future__ import annotations

import threading
from pathlib import Path
from queue import SimpleQueue
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from pocketping.store.engine import create_engine


class Jobs:
    """Counts the jobs aiosqlite's worker thread takes from its queue (a profiler on threads
    started while it is installed: nothing of ours or aiosqlite's is replaced)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, _frame: Any, event: str, arg: Any) -> None:
        if event == "c_return" and getattr(arg, "__name__", "") == "get" \
                and isinstance(getattr(arg, "__self__", None), SimpleQueue):
            self.count += 1


async def test_one_job_per_statement_with_the_same_results(tmp_path: Path) -> None:
    jobs = Jobs()
    threading.setprofile(jobs)
    try:
        engine = create_engine(f"sqlite:///{tmp_path}/one.db")
        async with engine.connect() as conn:
            await conn.execute(text("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT UNIQUE)"))
            before = jobs.count
            inserted = [await conn.execute(text("INSERT INTO t (b) VALUES (:b)"), {"b": f"v{i}"}) for i in range(20)]
            rows = (await conn.execute(text("SELECT a, b FROM t ORDER BY a"))).all()
            statements = jobs.count - before
            assert [r.lastrowid for r in inserted] == list(range(1, 21))
            assert rows == [(i, f"v{i - 1}") for i in range(1, 21)]
            # executemany, rowcount, a result with no rows, an UPDATE ... RETURNING
            await conn.execute(text("INSERT INTO t (b) VALUES (:b)"), [{"b": "x1"}, {"b": "x2"}])
            changed = await conn.execute(text("UPDATE t SET b = b || '!' WHERE b LIKE 'x%'"))
            assert changed.rowcount == 2
            assert (await conn.execute(text("SELECT a FROM t WHERE b = 'none'"))).all() == []
            back = await conn.execute(text("UPDATE t SET b = 'z' WHERE a = 1 RETURNING a, b"))
            assert back.all() == [(1, "z")]
            with pytest.raises(IntegrityError):
                await conn.execute(text("INSERT INTO t (b) VALUES ('z')"))
            await conn.commit()
        await engine.dispose()
    finally:
        threading.setprofile(None)  # type: ignore[arg-type]
    # 21 statements, 21 jobs (SQLAlchemy's adaptor: cursor, execute, fetch and close each).
    assert statements == 21


async def test_a_transaction_holds_the_write_lock_from_its_begin(tmp_path: Path) -> None:
    """BEGIN IMMEDIATE (issued by the adaptor itself, as one job): another process's writer
    waits from the start of ours, before any statement, instead of failing later."""
    import sqlite3

    engine = create_engine(f"sqlite:///{tmp_path}/lock.db")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (a INTEGER)"))
    async with engine.begin():
        other = sqlite3.connect(tmp_path / "lock.db", timeout=0, isolation_level=None)
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        finally:
            other.close()
    other = sqlite3.connect(tmp_path / "lock.db", timeout=0, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # ours committed: free again
    other.close()
    await engine.dispose()
