"""`pocketping stats`: the figures on a seeded database, computed in SQL on every backend."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

from typer.testing import CliRunner

from pocketping.actions.messages import send_ai_message, send_operator_message, send_visitor_message
from pocketping.actions.projects import create_project
from pocketping.actions.ratings import rate_session
from pocketping.actions.sessions import close_session, connect_visitor
from pocketping.actions.stats import project_stats
from pocketping.clock import FakeClock
from pocketping.wiring import build_services, cli_app
from pocketping_testkit.server import make_settings


async def test_stats_on_a_seeded_database(fresh_db, tmp_path):
    from pocketping.crypto import generate_key

    key = generate_key()
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
    clock = FakeClock(start)
    svc = build_services(make_settings(fresh_db.url, str(tmp_path), encryption_key=key), clock=clock)
    await svc.db.migrate()
    project, _ = await create_project(svc, "Numbers")

    async def conversation(first_response: float | None, *, ai: bool = False, close_after: float | None = None,
                           stars: int | None = None) -> None:
        connected = await connect_visitor(svc, project, None, {}, user_agent=None, ip=None, country=None)
        sid = connected.session.id
        await send_visitor_message(svc, project.id, sid, "hello")
        if first_response is not None:
            clock.advance(first_response)
            if ai:
                await send_ai_message(svc, project.id, sid, "an AI answer")
            else:
                await send_operator_message(svc, project.id, sid, "an answer", operator_name="Sam")
        if close_after is not None:
            clock.advance(close_after)
            await close_session(svc, project.id, sid)
        if stars is not None:
            await rate_session(svc, project, sid, stars)
        clock.advance(1)

    # Day 1: four conversations answered after 10, 20, 30 and 40 s; two closed and rated.
    await conversation(10, close_after=50, stars=5)
    await conversation(20, close_after=100, stars=3)
    await conversation(30, ai=True)
    await conversation(40)
    clock.advance(86400)
    # Day 2: one answered after 100 s by the AI, one never answered.
    await conversation(100, ai=True, close_after=20, stars=4)
    await conversation(None)

    found = await project_stats(svc, project.id, "30d")
    assert found["conversations"] == 6 and found["answered"] == 5
    # first responses 10, 20, 30, 40, 100 (nearest rank): p50 the 3rd = 30, p90 the 5th (ceil(4.5)) = 100
    assert found["firstResponseSeconds"] == {"p50": 30.0, "p90": 100.0}
    # resolutions (first message to close): 60, 120, 120
    assert found["resolutionSeconds"] == {"p50": 120.0, "p90": 120.0}
    assert found["aiShare"] == round(2 / 6, 3)
    assert found["ratings"]["stars"] == {"count": 3, "mean": 4.0}
    assert found["ratings"]["thumbs"] == {"count": 0, "upShare": None}
    days = found["days"]
    assert [(d["day"], d["conversations"], d["answeredByAi"], d["ratings"]) for d in days] == [
        (start.date().isoformat(), 4, 1, 2), ((start + timedelta(days=1)).date().isoformat(), 2, 1, 1)]
    assert days[0]["firstResponseMeanSeconds"] == 25.0 and days[1]["ratingMean"] == 4.0
    clock.advance(7200)
    narrow = await project_stats(svc, project.id, "1h")  # nothing started in the last hour
    assert narrow["conversations"] == 0 and narrow["firstResponseSeconds"] == {"p50": None, "p90": None}
    await svc.db.dispose()

    runner = CliRunner()
    env = {"POCKETPING_DATABASE_URL": fresh_db.url, "POCKETPING_DATA_DIR": str(tmp_path),
           "POCKETPING_ENCRYPTION_KEY": key}
    out = await asyncio.to_thread(runner.invoke, cli_app(), ["stats", project.id, "--since", "30d", "--json"], env=env)
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["firstResponseSeconds"] == {"p50": 30.0, "p90": 100.0}
    human = await asyncio.to_thread(runner.invoke, cli_app(), ["stats", project.id], env=env)
    assert "first response: p50 30 s, p90 1.7 min" in human.stdout and "ratings: 3 stars (mean 4.0)" in human.stdout
    bad = await asyncio.to_thread(runner.invoke, cli_app(), ["stats", project.id, "--since", "soon", "--json"],
                                env=env)
    assert bad.exit_code == 1 and json.loads(bad.stdout)["error"]["code"] == "invalid_since"
