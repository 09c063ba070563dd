"""`pocketping erase` and retention (docs/erasure.md): ``project update --retention-days N`` erases closed conversations
older than N days (the hourly worker, on the injected clock, or ``pocketping retention``); open
ones and younger ones stay; ``--dry-run`` lists what would go and erases nothing."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from typer.testing import CliRunner

from pocketping.actions.projects import create_project
from pocketping.actions.sessions import close_session
from pocketping.clock import FakeClock
from pocketping.store import sessions as session_repo
from pocketping.wiring import cli_app
from pocketping_testkit.bridges import advance_until
from pocketping_testkit.server import ServerThread
from pocketping_testkit.widget_client import WidgetClient

DAY = 86_400.0


async def cli(srv: ServerThread, *args: str, ok: bool = True) -> Any:
    """``pocketping ARGS --json`` against the server's database; it runs on the real clock."""
    settings = srv.services.settings
    assert settings.encryption_key is not None
    env = {"POCKETPING_DATABASE_URL": settings.database_url, "POCKETPING_DATA_DIR": str(settings.data_dir),
           "POCKETPING_ENCRYPTION_KEY": settings.encryption_key.get_secret_value()}
    result = await asyncio.to_thread(CliRunner().invoke, cli_app(), [*args, "--json"], env=env)
    assert (result.exit_code == 0) == ok, result.output
    return json.loads(result.stdout)


async def conversation(srv: ServerThread, public_key: str, text: str) -> str:
    w = await WidgetClient.connect(srv.ws_url, public_key)
    await w.synced()
    await w.say(text)
    await w.close()
    return w.session_id


def exists(srv: ServerThread, session_id: str) -> bool:
    async def find() -> bool:
        async with srv.services.db.read() as tx:
            return await session_repo.find_session_any_project(tx, session_id) is not None

    return srv.call(find())


async def test_retention_erases_only_closed_conversations_older_than_n_days(make_server, fresh_db):
    # The server's clock runs 45 days behind the real one, where `pocketping retention` runs.
    clock = FakeClock(datetime.now(UTC) - timedelta(days=45))
    srv = make_server(database_url=fresh_db.url, clock=clock)
    project, _ = srv.call(create_project(srv.services, "Retention", []))
    refused = await cli(srv, "project", "update", project.id, "--retention-days", "-1", ok=False)
    assert refused["error"]["code"] == "invalid_retention"
    assert (await cli(srv, "retention", project.id))["retentionDays"] == 0  # unset: kept forever
    await cli(srv, "project", "update", project.id, "--retention-days", "30")

    old_closed = await conversation(srv, project.public_key, "an old question")
    srv.call(close_session(srv.services, project.id, old_closed))
    still_open = await conversation(srv, project.public_key, "an old but open one")

    listed = await cli(srv, "retention", project.id, "--dry-run")
    assert [s["sessionId"] for s in listed["sessions"]] == [old_closed] and listed["eraseIds"] == []
    assert exists(srv, old_closed)  # a dry run erases nothing
    ran = await cli(srv, "retention", project.id)
    assert [s["sessionId"] for s in ran["sessions"]] == [old_closed] and len(ran["eraseIds"]) == 1
    assert not exists(srv, old_closed) and exists(srv, still_open)
    status = await cli(srv, "erase", "--status", ran["eraseIds"][0])
    assert status["reason"] == "retention" and status["deleted"] == {"sessions": 1, "messages": 2}  # and the notice

    # The workers do it on their own, hourly on the server's clock.
    due_later = await conversation(srv, project.public_key, "closed 45 days ago")
    srv.call(close_session(srv.services, project.id, due_later))
    clock.advance(20 * DAY)
    recent = await conversation(srv, project.public_key, "closed 25 days ago")
    srv.call(close_session(srv.services, project.id, recent))
    assert [s["sessionId"] for s in (await cli(srv, "retention", project.id, "--dry-run"))["sessions"]] == [due_later]
    clock.advance(10 * DAY - 3600)  # the server's now: 15 days ago; due_later was closed 30 days before that
    await advance_until(clock, lambda: not exists(srv, due_later), step=1800, settle=0.2, limit_seconds=3 * 3600)
    assert exists(srv, recent) and exists(srv, still_open)


async def test_pocketping_erase_prints_the_erase_id_and_its_status(make_server):
    srv = make_server()
    project, _ = srv.call(create_project(srv.services, "Erase CLI", []))
    w = await WidgetClient.connect(srv.ws_url, project.public_key)
    await w.synced()
    await w.say("forget me")
    await w.close()
    visitor = w.welcome["visitorId"]
    assert (await cli(srv, "erase", project.id, ok=False))["error"]["code"] == "invalid_input"
    assert (await cli(srv, "erase", project.id, "vis_nobody", ok=False))["error"]["code"] == "visitor_not_found"
    erased = await cli(srv, "erase", project.id, visitor)
    assert erased["visitorId"] == visitor and erased["deleted"] == {"sessions": 1, "messages": 1}
    assert not exists(srv, w.session_id)
    status = await cli(srv, "erase", "--status", erased["eraseId"])
    assert status["eraseId"] == erased["eraseId"] and status["reason"] == "request"
    assert [(p["target"], p["status"]) for p in status["platforms"]] == [("files", "done")]
    assert (await cli(srv, "erase", "--status", "era_nothing", ok=False))["error"]["code"] == "erasure_not_found"
    settings = srv.services.settings
    assert settings.encryption_key is not None
    env = {"POCKETPING_DATABASE_URL": settings.database_url, "POCKETPING_DATA_DIR": str(settings.data_dir),
           "POCKETPING_ENCRYPTION_KEY": settings.encryption_key.get_secret_value()}
    shown = await asyncio.to_thread(CliRunner().invoke, cli_app(), ["erase", "--status", erased["eraseId"]], env=env)
    assert shown.exit_code == 0 and erased["eraseId"] in shown.stdout and "files" in shown.stdout
