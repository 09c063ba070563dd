"""A visitor message's few writes, run on the driver connection itself (SQLite, PostgreSQL).

Through SQLAlchemy's execution machinery a prebuilt statement still costs 86-132 µs of CPU
(cache key, execution context, parameter processing, result proxy, a greenlet hop); on the
driver, 12-35 µs (docs/performance.md). The statements here are compiled once per dialect
(and per set of columns) into the SQL string SQLAlchemy itself would send, their parameters
passed through the same bind processors (encryption happens before, in the caller; time types
through our ``UTCDateTime``), and run in the connection's open transaction, under the adaptor's
own mutex, with the driver's errors raised as SQLAlchemy's (an ``IntegrityError`` stays one).
The engine's ``before_cursor_execute`` listeners are told of each statement, so what watches
the engine still sees everything. MySQL/MariaDB (and anything else) go through SQLAlchemy.

Only statements without expanding (``IN``) parameters, and whose results, if any, are plain
values (no result processing) belong here.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import exc

from pocketping.store.db import Tx

DIRECT_DIALECTS = frozenset({"sqlite", "postgresql"})

# (statement, dialect, columns) -> (sql, parameter names in order, their bind processors)
_COMPILED: dict[tuple[Any, str, tuple[str, ...]], tuple[str, tuple[str, ...], tuple[Any, ...]]] = {}


def compiled(statement: Any, dialect: Any,
             columns: tuple[str, ...] = ()) -> tuple[str, tuple[str, ...], tuple[Any, ...]]:
    """The SQL SQLAlchemy would send for ``statement`` (an INSERT of ``columns`` when given),
    its positional parameter names and their bind processors (None: passed as they are)."""
    key = (statement, dialect.name, columns)
    found = _COMPILED.get(key)
    if found is None:
        c = statement.compile(dialect=dialect, column_keys=list(columns) if columns else None,
                              for_executemany=True)  # (no implicit RETURNING of a generated key)
        names = tuple(c.positiontup or ())
        processors = c._bind_processors
        found = _COMPILED[key] = (c.string, names, tuple(processors.get(n) for n in names))
    return found


# statement, dialect -> (sql, parameter names, their bind processors, result keys, their
# processors, the values of the statement's own literals)
_READS: dict[tuple[Any, str], tuple[str, tuple[str, ...], tuple[Any, ...], tuple[str, ...], tuple[Any, ...],
                                    dict[str, Any]]] = {}


def compiled_read(statement: Any, dialect: Any) -> tuple[str, tuple[str, ...], tuple[Any, ...], tuple[str, ...],
                                                          tuple[Any, ...], dict[str, Any]]:
    key = (statement, dialect.name)
    found = _READS.get(key)
    if found is None:
        c = statement.compile(dialect=dialect)
        names = tuple(c.positiontup or ())
        columns = c._result_columns
        given = c.construct_params(_check=False)  # the values written into the statement (literals)
        found = _READS[key] = (c.string, names, tuple(c._bind_processors.get(n) for n in names),
                               tuple(col[0] for col in columns),
                               tuple(col[3]._cached_result_processor(dialect, None) for col in columns),
                               {n: v for n, v in given.items() if v is not None})
    return found


async def fetch(tx: Tx, statement: Any, params: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of a SELECT (no expanding parameters) as dicts by column key, their values
    through the same result processors SQLAlchemy applies."""
    conn = tx.conn.sync_connection
    assert conn is not None
    if tx.dialect not in DIRECT_DIALECTS:
        return [dict(r) for r in (await tx.conn.execute(statement, params)).mappings()]
    sql, names, processors, keys, results, literals = compiled_read(statement, conn.dialect)
    if literals:
        params = literals | params
    args = tuple(p(params[n]) if p is not None else params[n] for n, p in zip(names, processors, strict=True))
    out = []
    for row in await _run(tx, sql, [args], True):
        out.append({k: (f(v) if f is not None else v) for k, f, v in zip(keys, results, row, strict=True)})
    return out


async def execute(tx: Tx, statement: Any, rows: list[dict[str, Any]], *, columns: tuple[str, ...] = (),
                  returning: bool = False) -> list[Any]:
    """Run ``statement`` once per row of ``rows`` (one executemany), in ``tx``; with
    ``returning``, the rows it returns (one parameter row only)."""
    if tx.dialect not in DIRECT_DIALECTS:
        result = await tx.conn.execute(statement, rows if len(rows) > 1 else rows[0])
        return list(result.all()) if returning else []
    sql, _, args = row_args(statement, tx.conn.dialect, columns, rows)
    return await _run(tx, sql, args, returning)


async def execute_all(tx: Tx, steps: list[tuple[Any, list[dict[str, Any]], tuple[str, ...]]]) -> None:
    """Run several writes (statement, rows, columns) in order; on SQLite as one job on its
    thread (one hand-over and one wake-up instead of one each)."""
    steps = [step for step in steps if step[1]]
    if tx.dialect != "sqlite":
        for statement, rows, columns in steps:
            await execute(tx, statement, rows, columns=columns)
        return
    from pocketping.store.sqlite_driver import run_all

    jobs: list[tuple[str, Any, bool]] = []
    for statement, rows, columns in steps:
        sql, _, args = row_args(statement, tx.conn.dialect, columns, rows)
        jobs.append((sql, args if len(args) > 1 else args[0], len(args) > 1))
    await on_sqlite_thread(tx, jobs, run_all, jobs)


def row_args(statement: Any, dialect: Any, columns: tuple[str, ...],
             rows: list[dict[str, Any]]) -> tuple[str, tuple[str, ...], list[tuple[Any, ...]]]:
    """``statement``'s SQL, parameter names and each row's parameters, ready for the driver."""
    sql, names, processors = compiled(statement, dialect, columns)
    return sql, names, [tuple(p(row[n]) if p is not None else row[n] for n, p in zip(names, processors, strict=True))
                        for row in rows]


async def on_sqlite_thread(tx: Tx, told: list[tuple[str, Any, bool]], fn: Any, *args: Any) -> Any:
    """Run ``fn(aiosqlite connection, *args)`` as one job on SQLite's thread, in ``tx``, under
    the adaptor's mutex; ``told``: the statements (sql, parameters, many) it runs, for the
    engine's listeners. Its sqlite3 errors are raised as SQLAlchemy's."""
    conn = tx.conn.sync_connection
    assert conn is not None and tx.dialect == "sqlite"
    dialect = conn.dialect
    dispatch = conn.dispatch.before_cursor_execute
    if dispatch:
        for sql, params, many in told:
            for listener in dispatch:
                listener(conn, None, sql, params, None, many)
    adapt: Any = conn.connection.dbapi_connection
    try:
        async with adapt._execute_mutex:
            driver = adapt._connection
            return await driver._execute(fn, driver, *args)
    except dialect.loaded_dbapi.Error as error:
        raise exc.DBAPIError.instance(" ; ".join(t[0] for t in told), None, error, dialect.loaded_dbapi.Error,
                                      dialect=dialect) from error


async def execute_sql(tx: Tx, sql: str, args: tuple[Any, ...], *, returning: bool = False) -> list[Any]:
    """Run SQL written for the dialect in use (SQLite or PostgreSQL), its parameters ready for the driver."""
    assert tx.dialect in DIRECT_DIALECTS
    return await _run(tx, sql, [args], returning)


async def _run(tx: Tx, sql: str, args: list[tuple[Any, ...]], returning: bool) -> list[Any]:
    conn = tx.conn.sync_connection
    assert conn is not None
    dialect = conn.dialect
    many = len(args) > 1
    dispatch = conn.dispatch.before_cursor_execute
    if dispatch:
        for listener in dispatch:
            listener(conn, None, sql, args if many else args[0], None, many)
    adapt: Any = conn.connection.dbapi_connection
    try:
        if tx.dialect == "sqlite":
            from pocketping.store.sqlite_driver import _run as on_thread  # (a SQLite engine imported it)

            async with adapt._execute_mutex:
                driver = adapt._connection
                done = await driver._execute(on_thread, driver, sql, args if many else args[0], many)
            return list(done[1])
        async with adapt._execute_mutex:
            if adapt._transaction is None:
                await adapt._start_transaction()
            driver = adapt._connection
            try:
                if returning:
                    return [tuple(r) for r in await driver.fetch(sql, *args[0])]
                if many:
                    await driver.executemany(sql, args)
                else:
                    await driver.execute(sql, *args[0])
                return []
            except Exception as error:
                adapt._handle_exception(error)  # raises the adaptor's DB-API error for it
                raise
    except dialect.loaded_dbapi.Error as error:
        raise exc.DBAPIError.instance(sql, args, error, dialect.loaded_dbapi.Error,
                                      dialect=dialect) from error
