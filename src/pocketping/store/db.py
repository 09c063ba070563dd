"""The database handle and its transactions."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import text

from pocketping.clock import Clock
from pocketping.crypto import Keyring
from pocketping.groupcommit import GroupCommit
from pocketping.hub import Event
from pocketping.store.async_engine import AsyncConnection, AsyncEngine
from pocketping.store.engine import backend_name, create_engine

T = TypeVar("T")

# Background work (deliveries to chat apps and webhooks) marks its tasks with ``background()``;
# their database use then goes through a narrow gate, so a burst of deliveries never takes
# every pooled connection (or SQLite's one) ahead of a visitor waiting for an ack.
_background: ContextVar[bool] = ContextVar("pocketping_background", default=False)
_gate_held: ContextVar[bool] = ContextVar("pocketping_gate_held", default=False)


@contextlib.contextmanager
def background() -> Iterator[None]:
    token = _background.set(True)
    try:
        yield
    finally:
        _background.reset(token)


@dataclass
class Tx:
    """One open transaction (or a read-only connection) plus what happened in it."""

    conn: AsyncConnection
    keyring: Keyring
    now: datetime
    dialect: str
    events: list[Event] = field(default_factory=list)
    outbox_rows: int = 0
    after_commit: list[Callable[[], Any]] = field(default_factory=list)
    # Writes gathered during the transaction and flushed once, just before commit (one
    # multi-row statement instead of one per row); keyed by what they are.
    buffers: dict[str, list[Any]] = field(default_factory=dict)
    _flushers: dict[str, Callable[[Tx, list[Any]], Awaitable[None]]] = field(default_factory=dict)
    # Reads that cannot change within this transaction, done once (planners ask per event).
    cache: dict[Any, Any] = field(default_factory=dict)

    def emit(self, event: Event) -> None:
        self.events.append(event)

    def buffer(self, key: str, row: Any, flush: Callable[[Tx, list[Any]], Awaitable[None]]) -> None:
        """Add ``row`` to the ``key`` buffer, written by ``flush(tx, rows)`` before commit."""
        self.buffers.setdefault(key, []).append(row)
        self._flushers.setdefault(key, flush)

    async def flush(self) -> None:
        while self.buffers:
            key = next(iter(self.buffers))
            rows = self.buffers.pop(key)
            await self._flushers[key](self, rows)

    async def memo(self, key: Any, load: Callable[[], Awaitable[T]]) -> T:
        if key not in self.cache:
            self.cache[key] = await load()
        return self.cache[key]  # type: ignore[no-any-return]

    def encrypt(self, value: str) -> str:
        return self.keyring.encrypt(value)

    def decrypt(self, value: str) -> str:
        return self.keyring.decrypt(value)


# A planner turns a committed-to-be event into outbox rows, inside the same transaction.
Planner = Callable[["Tx", Event], Awaitable[None]]


class Database:
    def __init__(self, url: str, keyring: Keyring, clock: Clock, engine: AsyncEngine | None = None) -> None:
        self.url = url
        self.backend = backend_name(url)
        self.engine = engine or create_engine(url)
        # Reads on PostgreSQL run without a transaction of their own (autocommit): no BEGIN and
        # ROLLBACK round trip around them. A read there sees what is committed as each statement
        # starts, as it does in a READ COMMITTED transaction (the default), so nothing changes
        # for its callers. SQLite and MySQL keep the default (asyncpg's autocommit is a flag on
        # the connection; elsewhere switching it costs a statement of its own).
        self._read_engine = (self.engine.execution_options(isolation_level="AUTOCOMMIT")
                             if self.backend == "postgresql" else self.engine)
        self.keyring = keyring
        self.clock = clock
        self._small: GroupCommit[Callable[[Tx], Awaitable[Any]], Any] | None = None
        self._gate = asyncio.Semaphore(1 if self.backend == "sqlite" else 4)
        # Run by ``migrate`` after the schema migrations (the wiring adds store.sealing's step).
        self.after_migrate: list[Callable[[Database], Awaitable[object]]] = []

    @contextlib.asynccontextmanager
    async def _turn(self) -> AsyncIterator[None]:
        """Background work waits for one of a few turns (once per task: nesting is free)."""
        if not _background.get() or _gate_held.get():
            yield
            return
        async with self._gate:
            token = _gate_held.set(True)
            try:
                yield
            finally:
                _gate_held.reset(token)

    async def write_soon(self, work: Callable[[Tx], Awaitable[T]]) -> T:
        """Run a small independent write in a transaction shared with other such writes
        (group commit); returns once it is committed. A failing write is retried alone."""
        if self._small is None:
            async def run(works: list[Callable[[Tx], Awaitable[Any]]]) -> list[Any]:
                async with self.transaction() as tx:
                    return [await w(tx) for w in works]

            self._small = GroupCommit(run, writers=1 if self.backend == "sqlite" else 4)
        return await self._small.run(work)  # type: ignore[no-any-return]
    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        async with self._turn(), self.engine.begin() as conn:
            tx = Tx(conn, self.keyring, self.clock.now(), self.backend)
            yield tx
            await tx.flush()

    @contextlib.asynccontextmanager
    async def one_statement(self) -> AsyncIterator[Tx]:
        """For a write that is one statement: on PostgreSQL it commits by itself (autocommit, no
        BEGIN and COMMIT round trips); elsewhere in a transaction. Run one statement in it, no more."""
        if self.backend != "postgresql":
            async with self.transaction() as tx:
                yield tx
            return
        async with self._turn(), self._read_engine.connect() as conn:
            yield Tx(conn, self.keyring, self.clock.now(), self.backend)

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[Tx]:
        async with self._turn(), self._read_engine.connect() as conn:
            yield Tx(conn, self.keyring, self.clock.now(), self.backend)
            await conn.rollback()

    async def migrate(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        from pocketping.store import migrate  # Alembic only in processes that migrate

        async def steps() -> None:  # data steps that need the keyring (a migration has none)
            for step in self.after_migrate:
                await step(self)

        return await migrate.upgrade(self.engine, steps)

    async def ping(self) -> bool:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True

    async def dispose(self) -> None:
        await self.engine.dispose()
