"""SQLite through aiosqlite, one thread hop per statement.

aiosqlite runs every sqlite3 call in its own thread and SQLAlchemy's adaptor makes four such
calls per statement (open a cursor, execute, fetch, close), each a queue put, a future and a
wake-up of the event loop: most of the CPU a short statement costs. This adaptor does the four
in one call on aiosqlite's thread (the same thread, the same order, the same errors), handed to
SQLAlchemy as the DB-API module of its own aiosqlite dialect (``create_async_engine(module=)``).
Server-side cursors (streamed results) keep SQLAlchemy's own adaptor.
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any

import aiosqlite
from sqlalchemy import exc
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_


class _Done:
    """What a DB-API cursor tells after its statement ran (the sqlite3 cursor is closed)."""

    __slots__ = ("arraysize", "description", "lastrowid", "rowcount")

    def __init__(self) -> None:
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1

    def close(self) -> None:
        pass


def _run(conn: aiosqlite.Connection, operation: str, parameters: Any, many: bool) -> tuple[Any, list[Any], int, Any]:
    """On aiosqlite's thread: the whole statement, its rows fetched, its cursor closed."""
    cursor: sqlite3.Cursor = conn._conn.cursor()  # the thread's own sqlite3 connection
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


def run_all(conn: aiosqlite.Connection, steps: list[tuple[str, Any, bool]]) -> None:
    """On aiosqlite's thread: several statements (sql, parameters, many) in order, one job."""
    cursor: sqlite3.Cursor = conn._conn.cursor()
    try:
        for operation, parameters, many in steps:
            if many:
                cursor.executemany(operation, parameters)
            else:
                cursor.execute(operation, parameters)
    finally:
        cursor.close()


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ()
    _awaitable_cursor_close = False  # nothing is left open to close

    def __init__(self, adapt_connection: Any) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = _Done()  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()

    async def _one_hop(self, operation: Any, parameters: Any, many: bool) -> None:
        async with self._adapt_connection._execute_mutex:
            done = await self._connection._execute(_run, self._connection, operation, parameters, many)
        description, rows, rowcount, lastrowid = done
        state: Any = self._cursor
        state.description, state.rowcount, state.lastrowid = description, rowcount, lastrowid
        self._rows = collections.deque(rows)

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        await self._one_hop(operation, parameters, False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        await self._one_hop(operation, seq_of_parameters, True)


class _Connection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneHopCursor

    def begin_immediate(self) -> None:
        """``BEGIN IMMEDIATE`` as one job, without SQLAlchemy's statement machinery (from its
        ``begin`` event, inside its greenlet); a failure is SQLAlchemy's error for it."""
        try:
            await_(self._begin_immediate())
        except sqlite3.Error as error:
            raise exc.DBAPIError.instance("BEGIN IMMEDIATE", None, error, sqlite3.Error) from error

    async def _begin_immediate(self) -> None:
        async with self._execute_mutex:
            await self._connection._execute(_run, self._connection, "BEGIN IMMEDIATE", None, False)


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> _Connection:
        connection = self.aiosqlite.connect(*arg, **kw)
        connection._thread.daemon = True  # as SQLAlchemy's own adaptor does
        return _Connection(self, await_(connection))


def dbapi() -> OneHopDBAPI:
    return OneHopDBAPI(aiosqlite, sqlite3)
