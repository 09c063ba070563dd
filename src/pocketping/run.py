"""The server process itself: ``pocketping serve`` migrates, then replaces itself with this
(``python -m pocketping.run``).

Starting in a fresh interpreter keeps the migration tooling (Alembic) and the CLI out of the
long-running process: about 12 MB less resident memory for the server's whole life.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import ssl
import sys
from typing import Any

# httpx imports its command-line tool (rich, pygments: ~4 MB) when they are installed, as they
# are here for Typer; the server never runs it. A None entry makes that optional import fail.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

import uvicorn  # noqa: E402

from pocketping.config import Settings  # noqa: E402
from pocketping.wiring import create_app  # noqa: E402


def _trim_heap() -> None:
    """Hand memory freed during start-up back to the OS (glibc keeps it otherwise)."""
    libc_name = ctypes.util.find_library("c")
    if libc_name:
        try:
            ctypes.CDLL(libc_name).malloc_trim(0)
        except (OSError, AttributeError):
            pass


def main() -> None:
    settings = Settings()
    logs: dict[str, Any] = {}
    if settings.log_format == "json":
        from pocketping.logs import logging_config

        # Levels are in the config: uvicorn's log_level would lower uvicorn.error's again (frames, headers).
        logs.update(log_config=logging_config(settings.log_level), log_level=None)
    app = create_app(settings, migrate=False)
    config = uvicorn.Config(
        app, **{"log_level": settings.log_level, **logs}, host=settings.host, port=settings.port, lifespan="on",
        ws_per_message_deflate=False, ws_max_size=max(1 << 20, settings.max_frame_bytes * 4),
        proxy_headers=True, forwarded_allow_ips=settings.forwarded_allow_ips, server_header=False,
        ssl_certfile=str(settings.ssl_certfile) if settings.ssl_certfile else None,
        ssl_keyfile=str(settings.ssl_keyfile) if settings.ssl_keyfile else None,
        timeout_graceful_shutdown=5,
    )
    if settings.log_format != "json":
        from pocketping.logs import quiet_libraries

        quiet_libraries(settings.log_level)  # after uvicorn.Config, which sets uvicorn.error's level
    config.load()
    if config.ssl is not None:
        config.ssl.minimum_version = ssl.TLSVersion.TLSv1_3
    _trim_heap()
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
