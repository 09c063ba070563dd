"""The long-running server: ``pocketping serve`` and ``pocketping worker`` call ``serve`` in
their own process once the CLI has checked the database (one interpreter: no second start-up).

Alembic stays out of it unless a migration had to run (``store.migrate`` checks the state with
one query), and so does httpx's command-line tool (``wiring.leave_out_unused_imports``). What to
build comes from the wiring, passed in (``create_app``, ``build_node``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import signal
import ssl
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pocketping.config import Settings

# For ``serve --workers N``: each web process builds its own app with this (settings from the environment).
APP_FACTORY = "pocketping.wiring:make_app"


def _trim_heap() -> None:
    """Collect start-up's garbage, then move what is left (the modules, the app, the settings:
    most of the heap's objects, alive as long as the process) out of the collector's sight with
    ``gc.freeze``: a full collection otherwise walks all of them again each time the objects of
    new connections and messages grow the heap by a quarter, and finds nothing among them.
    Then hand memory freed during start-up back to the OS (glibc keeps it otherwise)."""
    gc.collect()
    gc.freeze()
    libc_name = ctypes.util.find_library("c")
    if libc_name:
        try:
            ctypes.CDLL(libc_name).malloc_trim(0)
        except (OSError, AttributeError):
            pass


def export(settings: Settings, role: str, processes: int) -> None:
    """Put what the command line chose into the environment, for the processes this one starts
    (``serve --workers N``'s web processes build their app from it, as do a worker's children)."""
    os.environ["POCKETPING_WORKERS"] = "true" if settings.workers else "false"
    for name, value in (("DATABASE_URL", settings.database_url), ("HOST", settings.host),
                        ("PORT", settings.port), ("SSL_CERTFILE", settings.ssl_certfile),
                        ("SSL_KEYFILE", settings.ssl_keyfile)):
        if value is not None:
            os.environ[f"POCKETPING_{name}"] = str(value)


def serve(settings: Settings, *, create_app: Callable[..., Any], build_node: Callable[..., Any], role: str = "web",
          processes: int = 1) -> None:
    """Serve until SIGTERM/SIGINT: the web side (with the workers unless turned off) or, for
    ``role="worker"``, the workers alone; ``processes`` > 1 supervises that many."""
    if processes > 1:
        export(settings, role, processes)
    try:
        if role == "worker":
            run_workers(settings, processes, build_node)
        else:
            _serve_web(settings, processes, create_app)
    except KeyboardInterrupt:
        # uvicorn shut down gracefully, then re-raised the SIGINT it caught: end as that signal
        # would (the shell sees an interrupted command), without a traceback.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)


def _serve_web(settings: Settings, processes: int, create_app: Callable[..., Any]) -> None:
    import uvicorn

    logs: dict[str, Any] = {}
    if settings.log_format == "json":
        from pocketping.logs import logging_config

        # Levels are in the config: uvicorn's log_level would lower uvicorn.error's again (frames, headers).
        logs.update(log_config=logging_config(settings.log_level), log_level=None)
    app: Any = create_app(settings, migrate=False) if processes == 1 else APP_FACTORY
    config = uvicorn.Config(
        app, **{"log_level": settings.log_level, **logs}, factory=processes > 1,
        workers=processes if processes > 1 else None, host=settings.host, port=settings.port, lifespan="on",
        ws_per_message_deflate=False, ws_max_size=settings.websocket_max_bytes(),
        proxy_headers=True, forwarded_allow_ips=settings.forwarded_allow_ips, server_header=False,
        ssl_certfile=str(settings.ssl_certfile) if settings.ssl_certfile else None,
        ssl_keyfile=str(settings.ssl_keyfile) if settings.ssl_keyfile else None,
        timeout_graceful_shutdown=5,
    )
    if settings.log_format != "json":
        from pocketping.logs import quiet_libraries, text_logs

        quiet_libraries(settings.log_level)  # after uvicorn.Config, which sets uvicorn.error's level
        text_logs(settings.log_level)
    _started(settings, "web", processes)
    if processes > 1:
        # N web processes on one socket (uvicorn's supervisor); each builds its own app.
        from uvicorn.supervisors import Multiprocess

        sock = config.bind_socket()
        Multiprocess(config, sockets=[sock]).run()
        return
    config.load()
    if config.ssl is not None:
        config.ssl.minimum_version = ssl.TLSVersion.TLSv1_3
    _trim_heap()
    uvicorn.Server(config).run()


def _started(settings: Settings, role: str, processes: int) -> None:
    """One line saying what starts (never the database URL: it may hold a password)."""
    import logging

    from pocketping import __version__
    from pocketping.dburl import backend_name

    logging.getLogger("pocketping.run").info(
        "PocketPing %s starting: %s on %s:%d, %s database, workers %s, Redis %s, %d process(es)", __version__, role,
        settings.host, settings.port, backend_name(settings.database_url), "on" if settings.workers else "off",
        "on" if settings.redis_url else "off", processes)


def run_workers(settings: Settings, processes: int, build_node: Callable[..., Any]) -> None:
    """``pocketping worker``: the workers without the web side, until SIGTERM/SIGINT. With
    ``--workers N`` this process supervises N such processes (each one node)."""
    from pocketping.logs import configure, quiet_libraries, text_logs

    if settings.log_format == "json":
        configure(settings.log_level)
    else:
        quiet_libraries(settings.log_level)
        text_logs(settings.log_level)
    _started(settings, "worker", processes)
    if processes > 1:
        _supervise(processes)
        return
    import asyncio

    async def serve() -> None:
        node = build_node(settings, worker=True)
        stop_event = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop_event.set)
        stop = await node.start()
        print(f"pocketping worker {node.heartbeat.row.id if node.heartbeat else ''} running", flush=True)
        try:
            await stop_event.wait()
        finally:
            await stop()
            await node.services.db.dispose()

    asyncio.run(serve())


def _supervise(processes: int) -> None:
    import subprocess

    # Each child is a `pocketping worker` of its own (settings from the environment, see export).
    children = [subprocess.Popen([sys.executable, "-m", "pocketping", "worker"]) for _ in range(processes)]

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    codes = [child.wait() for child in children]
    sys.exit(max(codes))
