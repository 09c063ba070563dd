"""Bytecode for what the server and the CLI load, and for nothing else (run by the Containerfile).

Bytecode of every installed module is a third of the image; bytecode of none makes each start
compile about 1,100 modules again (several seconds on every ``serve``). So the image keeps bytecode
for exactly the modules a ``pocketping serve`` and the CLI import, standard library included
(Alembic and the migration scripts too: the first start migrates), and the rest is compiled on
the rare import.
"""

from __future__ import annotations

import asyncio
import importlib.util
import py_compile
import sys
import tempfile
from pathlib import Path


def load_what_runs(scratch: Path) -> None:
    from pocketping.wiring import leave_out_unused_imports

    leave_out_unused_imports()  # as `pocketping` does

    import pocketping.run  # noqa: F401  # what serve runs once the CLI has checked the database
    from pocketping.config import Settings
    from pocketping.wiring import build_services, cli_app, create_app

    cli_app()  # every command group
    settings = Settings(database_url=f"sqlite:///{scratch / 'pocketping.db'}", data_dir=scratch,
                        metrics_token="x" * 16, log_format="json")
    asyncio.run(build_services(settings).db.migrate())  # alembic, and every migration script
    create_app(settings, migrate=False).routes  # noqa: B018  # listing them loads the routes served on first use
    from pocketping.logs import logging_config
    from pocketping.metrics import PrometheusMetrics

    logging_config("info")
    PrometheusMetrics()
    # The platforms' packages (each loaded once a bridge of it exists), the drivers, and what
    # uvicorn loads as it serves.
    for name in ("pocketping.bridges.telegram", "pocketping.bridges.discord", "pocketping.bridges.slack",
                 "asyncpg", "aiomysql", "pymysql", "aiosqlite", "uvloop", "httptools", "websockets",
                 "uvicorn.protocols.http.auto", "uvicorn.protocols.websockets.auto", "uvicorn.lifespan.on",
                 "uvicorn.loops.auto", "uvicorn.loops.uvloop", "sqlalchemy.dialects.postgresql.asyncpg",
                 "sqlalchemy.dialects.mysql.aiomysql", "sqlalchemy.dialects.sqlite.aiosqlite"):
        importlib.import_module(name)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="pp-bytecode-") as tmp:
        load_what_runs(Path(tmp))
    count = 0
    installed = (sys.prefix, sys.base_prefix)  # the environment and the standard library, not this script
    for module in list(sys.modules.values()):
        source = getattr(module, "__file__", None)
        if source and source.endswith(".py") and source.startswith(installed) and Path(source).is_file():
            py_compile.compile(source, doraise=True)
            count += 1
    print(f"bytecode for {count} modules")
    return 0


if __name__ == "__main__":
    sys.exit(main())
