import pytest

from pocketping.store.engine import async_database_url, backend_name, redact


@pytest.mark.parametrize("given, expected", [
    ("sqlite:///data/pocketping.db", "sqlite+aiosqlite:///data/pocketping.db"),
    ("sqlite:////var/lib/pp.db", "sqlite+aiosqlite:////var/lib/pp.db"),
    ("postgresql://u:p@db:5432/pp", "postgresql+asyncpg://u:p@db:5432/pp"),
    ("postgres://u@db/pp", "postgresql+asyncpg://u@db/pp"),
    ("postgresql://u@db/pp?sslmode=require", "postgresql+asyncpg://u@db/pp?ssl=require"),
    ("mysql://root@127.0.0.1:3306/pp", "mysql+aiomysql://root@127.0.0.1:3306/pp?charset=utf8mb4"),
    ("mariadb://root@db/pp", "mysql+aiomysql://root@db/pp?charset=utf8mb4"),
    ("postgresql+asyncpg://u@db/pp", "postgresql+asyncpg://u@db/pp"),
])
def test_user_urls_map_to_async_drivers(given, expected):
    assert async_database_url(given) == expected


@pytest.mark.parametrize("bad", ["oracle://x/y", "sqlite://", "sqlite:///", "just-a-path.db", "mongodb://h/db"])
def test_unknown_urls_are_refused_clearly(bad):
    with pytest.raises(ValueError, match=r"sqlite|unsupported"):
        async_database_url(bad)


def test_backend_names_and_redaction():
    assert backend_name("postgres://x/y") == "postgresql" and backend_name("mariadb://x/y") == "mysql"
    assert redact("postgresql://u:hunter2@db/pp") == "postgresql://u:***@db/pp"


def test_settings_refuse_a_bad_url():
    from pydantic import ValidationError

    from pocketping.config import Settings

    with pytest.raises(ValidationError, match="unsupported database URL"):
        Settings(database_url="oracle://x/y")


# In a fresh interpreter: the engine runs a transaction without SQLAlchemy's ORM, and the
# package it comes from still answers everything it has, as if imported the usual way.
WITHOUT_THE_ORM = """
import asyncio, sys
from sqlalchemy import text
from pocketping.store.engine import create_engine

async def main():
    engine = create_engine(sys.argv[1])
    try:
        async with engine.begin() as conn:
            assert (await conn.execute(text("SELECT 1"))).scalar() == 1
    finally:
        await engine.dispose()

asyncio.run(main())
print("orm after a transaction:", "sqlalchemy.orm" in sys.modules)
import sqlalchemy.ext.asyncio as package
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from pocketping.store import async_engine
assert AsyncEngine is async_engine.AsyncEngine and package.AsyncConnection is async_engine.AsyncConnection
assert AsyncSession.__module__ == "sqlalchemy.ext.asyncio.session" and callable(async_sessionmaker)
print("orm once asked for:", "sqlalchemy.orm" in sys.modules)
"""


def test_the_engine_runs_without_the_orm_which_is_still_there_when_asked_for(tmp_path):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", WITHOUT_THE_ORM, f"sqlite:///{tmp_path / 'orm.db'}"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["orm after a transaction: False", "orm once asked for: True"]
