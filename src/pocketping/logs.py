"""Logs a machine can read: ``POCKETPING_LOG_FORMAT=json`` (docs/deployment.md, "Monitoring").

One JSON object per line: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``, and
what is known of where it happened: ``request_id`` (an HTTP request), ``connection_id`` (a
widget or inbox WebSocket), ``project_id``, ``session_id``. The ids live in context variables,
set by the edges and workers with ``bind``; asyncio copies them into every task it starts.

What never reaches a log line: keys, tokens, passwords and message text. Our own lines carry
only ids and outcomes; the libraries that would print more stay at ``warning`` whatever the
level (httpx logs every request's URL, and a Telegram Bot API URL holds the bot's token),
``uvicorn.error`` at ``info`` at least (websockets logs every frame and header there at
``debug``: message text, cookies); the access log shows the path without its query string.
"""

from __future__ import annotations

import logging
import logging.config
import secrets
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson

FIELDS = ("request_id", "connection_id", "project_id", "session_id")
_ids: dict[str, ContextVar[str | None]] = {name: ContextVar(f"pocketping_log_{name}", default=None)
                                           for name in FIELDS}

# Loggers that would print URLs, headers or frames below this level.
QUIET = {"httpx": "WARNING", "httpcore": "WARNING", "websockets": "WARNING", "asyncio": "WARNING",
         "aiosqlite": "WARNING", "sqlalchemy": "WARNING", "hpack": "WARNING", "multipart": "WARNING"}


def new_id() -> str:
    return secrets.token_hex(8)


def bind(**ids: str | None) -> None:
    """Name where the current task (and the tasks it starts from now on) is working."""
    for name, value in ids.items():
        _ids[name].set(value)


def current() -> dict[str, str]:
    found = {}
    for name, var in _ids.items():
        value = var.get()
        if value:
            found[name] = value
    return found


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": _message(record),
        }
        entry.update(current())
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


def _message(record: logging.LogRecord) -> str:
    if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5:
        client, method, path, version, status = record.args
        return f"{method} {str(path).split('?', 1)[0]} HTTP/{version} {status} from {client}"
    return record.getMessage()


def _at_least_info(level: str) -> str:
    return "INFO" if logging.getLevelName(level.upper()) in (logging.DEBUG, logging.NOTSET) else level.upper()


def logging_config(level: str) -> dict[str, Any]:
    """The ``logging.config.dictConfig`` of ``POCKETPING_LOG_FORMAT=json`` (uvicorn's ``log_config``):
    every logger, ours, uvicorn's and the libraries', through one JSON handler on stderr."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"default": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
        "root": {"handlers": ["default"], "level": level.upper()},
        "loggers": {
            "uvicorn": {"handlers": [], "level": level.upper(), "propagate": True},
            "uvicorn.access": {"handlers": [], "level": level.upper(), "propagate": True},
            # websockets logs every frame and header there at debug (message text, cookies).
            "uvicorn.error": {"handlers": [], "level": _at_least_info(level), "propagate": True},
            **{name: {"level": quiet} for name, quiet in QUIET.items()},
        },
    }


def quiet_libraries(level: str) -> None:
    """For ``POCKETPING_LOG_FORMAT=text`` (uvicorn's own logging configuration): the same
    libraries kept quiet, so a ``debug`` log holds no frame, header or URL there either."""
    logging.getLogger("uvicorn.error").setLevel(_at_least_info(level))
    for name, quiet in QUIET.items():
        logging.getLogger(name).setLevel(quiet)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def text_logs(level: str) -> None:
    """``POCKETPING_LOG_FORMAT=text``: PocketPing's own lines (outbox retries, bridges starting,
    sockets closed ...) on stderr with a time, at the configured level. uvicorn's configuration
    handles only uvicorn's loggers; without this only warnings would show, without a time."""
    own = logging.getLogger("pocketping")
    if not own.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
        own.addHandler(handler)
    own.setLevel(level.upper())
    own.propagate = False


def configure(level: str) -> None:
    """JSON logs in a process that is not uvicorn's."""
    logging.config.dictConfig(logging_config(level))
