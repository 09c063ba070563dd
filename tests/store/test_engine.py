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
