"""Database URLs as users write them, and the async driver URL each maps to (pure, no I/O).

A leaf module: settings validate ``POCKETPING_DATABASE_URL`` with it without importing SQLAlchemy.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_SCHEMES = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
    "mysql": "mysql+aiomysql",
    "mariadb": "mysql+aiomysql",
    "mysql+aiomysql": "mysql+aiomysql",
}


def async_database_url(url: str) -> str:
    """Map a user-facing URL (``postgres://``, ``mariadb://`` ...) to its async driver URL."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in _SCHEMES:
        raise ValueError(
            f"unsupported database URL {redact(url)!r}: use sqlite:///path.db, postgresql://... or mysql://..."
        )
    driver = _SCHEMES[scheme.lower()]
    if driver.startswith("sqlite"):
        if not rest.startswith("/") or rest == "/":
            raise ValueError("SQLite URLs look like sqlite:///relative/path.db or sqlite:////absolute/path.db")
        return f"{driver}://{rest}"
    parts = urlsplit(f"{driver}://{rest}")
    query = dict(parse_qsl(parts.query))
    if driver.startswith("postgresql") and "sslmode" in query:
        # libpq spelling -> asyncpg spelling
        query["ssl"] = query.pop("sslmode")
    if driver.startswith("mysql"):
        query.setdefault("charset", "utf8mb4")
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return url


def backend_name(url: str) -> str:
    driver = async_database_url(url)
    if driver.startswith("sqlite"):
        return "sqlite"
    if driver.startswith("postgresql"):
        return "postgresql"
    return "mysql"
