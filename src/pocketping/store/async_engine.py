"""SQLAlchemy's asyncio engine and connection, without its ORM.

``sqlalchemy.ext.asyncio``'s ``__init__`` imports its ``AsyncSession`` and with it all of
``sqlalchemy.orm`` (about 7 MB of a server's memory), which PocketPing never uses: it runs Core
statements on ``AsyncConnection``. These come from ``sqlalchemy.ext.asyncio.engine``, which needs
nothing of the ORM, imported without the package's ``__init__`` (``store.partial_import``); the
classes are SQLAlchemy's own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.util import concurrency as _concurrency

from pocketping.store.partial_import import submodule

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio.engine import AsyncConnection, AsyncEngine, AsyncTransaction, create_async_engine
else:
    _engine = submodule("sqlalchemy.ext.asyncio", "engine")
    AsyncConnection = _engine.AsyncConnection
    AsyncEngine = _engine.AsyncEngine
    AsyncTransaction = _engine.AsyncTransaction
    create_async_engine = _engine.create_async_engine

# What the package's __init__ does last: greenlet imported and checked now, not mid-query.
_concurrency._concurrency_shim._initialize()

__all__ = ["AsyncConnection", "AsyncEngine", "AsyncTransaction", "create_async_engine"]
