"""`pocketping serve` starts in one interpreter and, on a migrated database, without Alembic:
the migration state is one query; a database of a newer version is refused with a clear code;
a pending migration still runs before the server answers. Routes other than the health checks
and the widget's files are imported on the first request for one, which is answered as usual."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import orjson
import pytest
import websockets
from sqlalchemy import text
from websockets.exceptions import ConnectionClosed

from pocketping.crypto import generate_key
from pocketping.store.engine import create_engine
from pocketping.store.migrate import alembic_config, current_revisions, head_revisions
from pocketping_testkit.process import ServerProcess
from pocketping_testkit.server import free_port

# `pocketping serve` run by this probe in its own process; once /readyz answers, a thread of that
# same process reports what is imported, then stops the server as a signal would.
# With a third argument, it says READY and reports once the test writes a line to its stdin.
PROBE = """
import json, os, signal, sys, threading, time, urllib.request
port, watched = sys.argv[1], json.loads(sys.argv[2])

def report():
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1)
            break
        except OSError:
            time.sleep(0.05)  # polling the server this process is starting: there is no event to await
    if len(sys.argv) > 3:
        sys.stdout.write("READY\\n")
        sys.stdout.flush()
        sys.stdin.readline()
    loaded = [m for m in watched if m in sys.modules]
    import gc
    sys.stdout.write("LOADED " + json.dumps({"pid": os.getpid(), "loaded": loaded,
                                             "frozen": gc.get_freeze_count()}) + "\\n")
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGTERM)

threading.Thread(target=report, daemon=True).start()
sys.argv = ["pocketping", "serve", "--port", port]
from pocketping.wiring import main
main()
"""

MIGRATION_TOOLING = ("alembic", "mako", "pocketping.store.migrations", "pocketping.store.autogen")
# Imported on the first request for a route of theirs, or (platforms) once a bridge of theirs
# exists, not at start.
LATER = ("pocketping.server.rest", "pocketping.server.inbox.api", "pocketping.server.inbox.socket",
         "pocketping.server.platforms", "pocketping.server.metrics", "pocketping.bridges.telegram",
         "pocketping.bridges.discord")
# Never loaded by a server that only served widgets: SQLAlchemy's ORM (store.async_engine), the
# cryptography package (AES-GCM goes through the OpenSSL of TLS: crypto.AESGCM), an HTTP client
# (webhooks, bridges, the AI and the crawler bring it), Slack's bridge (its Events API router alone
# is built at start), the model's side of the AI and the knowledge base's crawler.
NOT_FOR_WIDGETS = ("sqlalchemy.orm", "cryptography", "httpx", "pocketping.bridges.slack.bridge",
                   "pocketping.bridges.slack.api", "pocketping.ai.providers", "pocketping.ai.answering",
                   "pocketping.actions.kb", "pocketping.ai.crawl")


def _env(url: str, data_dir: Path, key: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POCKETPING_")}
    env.update({"POCKETPING_DATABASE_URL": url, "POCKETPING_DATA_DIR": str(data_dir),
                "POCKETPING_ENCRYPTION_KEY": key, "POCKETPING_LOG_LEVEL": "warning"})
    return env


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pocketping", *args], env=env, capture_output=True, text=True,
                          timeout=120)


async def _migrate_to(url: str, revision: str = "head") -> None:
    """Alembic itself (here, in the test), to put a database at a given revision."""
    from alembic import command

    def up(sync_conn: object) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = sync_conn
        command.upgrade(cfg, revision)

    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(up)
    finally:
        await engine.dispose()


async def _revisions(url: str) -> tuple[str, ...]:
    engine = create_engine(url)
    try:
        return await current_revisions(engine)
    finally:
        await engine.dispose()


def test_serve_on_a_migrated_database_loads_no_migration_tooling_and_no_later_routes(fresh_db, tmp_path):
    key = generate_key()
    env = _env(fresh_db.url, tmp_path, key)
    migrated = _cli(env, "migrate")  # Alembic runs here, in a process of its own
    assert migrated.returncode == 0, migrated.stderr
    probe = subprocess.run([sys.executable, "-c", PROBE, str(free_port()), json.dumps(MIGRATION_TOOLING + LATER)],
                           env=env, capture_output=True, text=True, timeout=120)
    lines = [line for line in probe.stdout.splitlines() if line.startswith("LOADED ")]
    assert lines, f"the server never answered /readyz in the process that ran `serve`:\n{probe.stderr[-3000:]}"
    report = json.loads(lines[0].removeprefix("LOADED "))
    assert report["loaded"] == []
    # What start-up left (modules, the app) is frozen, out of the garbage collector's walks.
    assert report["frozen"] > 10_000


async def test_a_server_that_served_widgets_has_not_loaded_what_they_do_not_use(fresh_db, tmp_path):
    from pocketping.actions.projects import create_project
    from pocketping.wiring import build_services
    from pocketping_testkit.server import make_settings
    from pocketping_testkit.widget_client import WidgetClient

    key = generate_key()
    admin = build_services(make_settings(fresh_db.url, str(tmp_path), encryption_key=key))
    try:
        await admin.db.migrate()
        project, _secret = await create_project(admin, "At rest")
    finally:
        await admin.db.dispose()
    port = free_port()
    # (MySQL's driver, aiomysql over PyMySQL, imports cryptography itself, for its password exchanges.)
    watched = [m for m in NOT_FOR_WIDGETS + LATER if not (fresh_db.backend == "mysql" and m == "cryptography")]
    probe = subprocess.Popen([sys.executable, "-c", PROBE, str(port), json.dumps(watched), "wait"],
                             env=_env(fresh_db.url, tmp_path, key), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    assert probe.stdin is not None and probe.stdout is not None
    try:
        ready = await asyncio.to_thread(probe.stdout.readline)
        assert ready == "READY\n", probe.stderr.read() if probe.stderr else ""
        for name in ("first", "second"):
            widget = await WidgetClient.connect(f"ws://127.0.0.1:{port}/ws", project.public_key)
            await widget.synced()
            await widget.say(f"hello from the {name} visitor")
            await widget.close()
        probe.stdin.write("report\n")
        probe.stdin.flush()
        line = await asyncio.to_thread(probe.stdout.readline)
    finally:
        _out, err = await asyncio.to_thread(probe.communicate, timeout=60)
    assert line.startswith("LOADED "), err[-3000:]
    assert json.loads(line.removeprefix("LOADED "))["loaded"] == []


async def test_the_first_request_for_a_later_route_is_answered_as_usual(make_server):
    # Each is the first request its server sees beyond /readyz.
    srv = make_server()
    async with httpx.AsyncClient(base_url=srv.base_url) as client:
        r = await client.get("/api/v1/sessions")
        assert (r.status_code, r.json()["error"]["code"]) == (401, "missing_key")
    srv = make_server()
    async with httpx.AsyncClient(base_url=srv.base_url) as client:
        r = await client.get("/no/such/page")
        assert (r.status_code, r.json()["error"]["code"]) == (404, "not_found")
        r = await client.post("/readyz")
        assert (r.status_code, r.json()["error"]["code"]) == (405, "method_not_allowed")
    srv = make_server()
    anonymous = await websockets.connect(srv.base_url.replace("http", "ws", 1) + "/inbox/ws", origin=srv.base_url,
                                         open_timeout=10)  # type: ignore[arg-type]
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(anonymous.recv(), 10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4001  # the inbox: sign in first
    srv = make_server()
    async with httpx.AsyncClient(base_url=srv.base_url) as client:
        paths = (await client.get("/openapi.json")).json()["paths"]
        assert "/api/v1/sessions" in paths and "/readyz" in paths


async def test_serve_is_one_process_and_its_pid_is_the_servers(fresh_db, tmp_path):
    key = generate_key()
    server = ServerProcess(fresh_db.url, tmp_path, encryption_key=key).start()  # a new database: migrates
    try:
        assert server.proc is not None
        status = _cli(_env(fresh_db.url, tmp_path, key), "status", "--json")
        assert status.returncode == 0, status.stderr
        assert [n["pid"] for n in orjson.loads(status.stdout)["nodes"]] == [server.proc.pid]
        # Still the interpreter the command started, not a second one exec'd in its place.
        command = Path(f"/proc/{server.proc.pid}/cmdline").read_bytes().split(b"\0")
        assert b"serve" in command and b"pocketping.run" not in command, command
    finally:
        server.stop()
    assert await _revisions(fresh_db.url) == head_revisions()


async def test_a_pending_migration_still_runs_before_serving(fresh_db, tmp_path):
    await _migrate_to(fresh_db.url, "kb_crawl")
    assert await _revisions(fresh_db.url) == ("kb_crawl",)
    server = ServerProcess(fresh_db.url, tmp_path, encryption_key=generate_key()).start()
    server.stop()
    assert await _revisions(fresh_db.url) == head_revisions()


@pytest.mark.parametrize("command", [("serve",), ("migrate",)])
async def test_a_database_of_a_newer_version_is_refused(fresh_db, tmp_path, command):
    await _migrate_to(fresh_db.url)
    engine = create_engine(fresh_db.url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = 'from_a_newer_version'"))
    finally:
        await engine.dispose()
    env = _env(fresh_db.url, tmp_path, generate_key())
    done = _cli(env, *command, "--port", str(free_port())) if command == ("serve",) else _cli(env, *command)
    assert done.returncode == 1
    assert "Error: the database's schema is at revision from_a_newer_version, which this version of PocketPing " \
           "does not know" in done.stderr, done.stderr
    as_json = _cli(env, "migrate", "--json")
    assert as_json.returncode == 1
    assert orjson.loads(as_json.stdout)["error"]["code"] == "unknown_schema_revision"
    assert await _revisions(fresh_db.url) == ("from_a_newer_version",)  # nothing ran on it
