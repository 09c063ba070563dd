"""The AI's budget: answers per conversation (``--max-answers``), tokens per day
(``--daily-tokens``, counted from the providers' usage fields, which the LLM fake reports),
the team told once, and ``ai usage`` / ``GET /api/v1/ai/usage``. On SQLite, PostgreSQL and
MariaDB (but for the provider shapes, which do not depend on the backend)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from typer.testing import CliRunner

from pocketping.clock import FakeClock
from pocketping.wiring import cli_app
from pocketping_testkit.bridges import TelegramSetup, advance_until, connect_telegram
from pocketping_testkit.widget_client import WidgetClient

from .ai_helpers import ai_texts, asettle, configure, create_project_on, messages, openai_project

cli_app = cli_app()


def listen(srv: Any, project_id: str) -> list[Any]:
    heard: list[Any] = []

    async def subscribe() -> None:
        srv.services.hub.subscribe_project(project_id, heard.append)

    srv.call(subscribe())
    return heard


def notes(heard: list[Any], code: str) -> list[Any]:
    return [e for e in heard if e.type == "ai.note" and e.data["code"] == code]


def posted(telegram: TelegramSetup, fragment: str) -> bool:
    return any(fragment in t for t in telegram.texts())


async def visitor(srv: Any, project: Any) -> WidgetClient:
    w = await WidgetClient.connect(srv.ws_url, project.public_key)
    await w.synced()
    return w


async def cli(env: dict[str, str], *args: str) -> Any:
    result = await asyncio.to_thread(CliRunner().invoke, cli_app, list(args), env=env)
    return result


def cli_env(ai_env: Any) -> dict[str, str]:
    return {"POCKETPING_DATABASE_URL": ai_env.url, "POCKETPING_ENCRYPTION_KEY": ai_env.key}


async def usage(srv: Any, project: Any, days: int = 7) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=srv.base_url) as api:
        res = await api.get("/api/v1/ai/usage", params={"days": days}, headers=project.auth)
    assert res.status_code == 200, res.text
    return dict(res.json())


async def test_the_answer_cap_holds_per_conversation(ai_env, llm):
    srv = ai_env.server()
    project = openai_project(srv, llm, delay_seconds=0)
    result = await cli(cli_env(ai_env), "ai", "set", project.id, "--max-answers", "2", "--json")
    assert result.exit_code == 0, result.stdout
    assert orjson.loads(result.stdout)["maxAnswers"] == 2
    heard = listen(srv, project.id)

    w = await visitor(srv, project)
    for i in range(2):
        await w.say(f"question {i}")
        await w.expect("message", sender="ai")
    for i in range(2, 4):
        await w.say(f"question {i}")
        await asettle(srv)
    assert len(ai_texts(await messages(srv, project, w.session_id))) == 2
    assert len(llm.requests) == 2
    [told] = notes(heard, "session_limit")  # once, though the visitor wrote twice more
    assert "limit of 2 answers in this conversation" in told.data["text"]

    # Another conversation has its own count.
    v = await visitor(srv, project)
    await v.say("hello")
    await v.expect("message", sender="ai")
    await w.close()
    await v.close()


async def test_the_token_budget_holds_for_the_day_and_the_team_is_told_once(ai_env, llm, fake_telegram):
    srv = ai_env.server(telegram_api_url=fake_telegram.url)
    project = openai_project(srv, llm, delay_seconds=0, daily_tokens=2500)
    telegram = connect_telegram(fake_telegram, srv, project.id)
    heard = listen(srv, project.id)
    llm.set_usage(600, 400)  # every answer costs 1,000 tokens

    w = await visitor(srv, project)
    for i in range(3):  # 1,000, 2,000 (under 2,500), 3,000: the third crosses it and is the last
        await w.say(f"question {i}")
        await w.expect("message", sender="ai")
    await w.say("question 3")
    await asettle(srv)
    assert len(ai_texts(await messages(srv, project, w.session_id))) == 3
    assert len(llm.requests) == 3
    # Into the conversation's thread, through the outbox (paced on the server's clock).
    await advance_until(ai_env.clock, lambda: posted(telegram, "budget of 2500 tokens"), fake=fake_telegram)
    assert "3000 tokens" in next(t for t in telegram.texts() if "budget of 2500 tokens" in t)

    # Another conversation the same day: silent too, and the team is not told again.
    v = await visitor(srv, project)
    await v.say("hello?")
    await asettle(srv)
    await advance_until(ai_env.clock, lambda: posted(telegram, "hello?"), fake=fake_telegram)
    assert ai_texts(await messages(srv, project, v.session_id)) == []
    assert len(llm.requests) == 3
    assert len(notes(heard, "token_budget")) == 1
    assert len([t for t in telegram.texts() if "budget of 2500 tokens" in t]) == 1

    # The next day (UTC) the AI answers again.
    ai_env.clock.advance(86400)
    await v.say("hello again")
    await v.expect("message", sender="ai")
    found = await usage(srv, project, days=2)
    yesterday, today = found["days"]
    assert (yesterday["answers"], yesterday["tokens"], yesterday["inputTokens"], yesterday["outputTokens"]) \
        == (3, 3000, 1800, 1200)
    assert yesterday["limitToldAt"] is not None
    assert (today["answers"], today["tokens"], today["limitToldAt"]) == (1, 1000, None)
    assert found["dailyTokens"] == 2500 and found["totals"] == {"answers": 4, "tokens": 4000}
    async with httpx.AsyncClient(base_url=srv.base_url) as api:
        settings = (await api.get("/api/v1/ai", headers=project.auth)).json()
    assert settings["dailyTokens"] == 2500 and settings["usageToday"]["tokens"] == 1000
    await w.close()
    await v.close()


async def test_the_daily_reply_cap_tells_the_team_once(ai_env, llm):
    srv = ai_env.server()
    project = openai_project(srv, llm, delay_seconds=0, max_replies_per_day=1)
    heard = listen(srv, project.id)
    w = await visitor(srv, project)
    await w.say("first")
    await w.expect("message", sender="ai")
    for text in ("second", "third"):
        await w.say(text)
        await asettle(srv)
    assert len(llm.requests) == 1
    assert len(notes(heard, "daily_limit")) == 1
    await w.close()


async def test_embeddings_tokens_count_and_indexing_does_not(ai_env_sqlite, llm):
    srv = ai_env_sqlite.server()
    project = openai_project(srv, llm, delay_seconds=0, embeddings_model="embed-test")
    llm.set_usage(100, 50, embedding_tokens=7)
    async with httpx.AsyncClient(base_url=srv.base_url) as api:
        res = await api.post("/api/v1/kb", headers=project.auth,
                             json={"name": "faq.md", "content": "# Shipping\n\nWe ship to Spain in 3 days."})
        assert res.status_code == 201, res.text
    indexed = len(llm.embedding_requests)
    assert indexed >= 1
    w = await visitor(srv, project)
    await w.say("How long does shipping to Spain take?")
    await w.expect("message", sender="ai")
    assert len(llm.embedding_requests) == indexed + 1  # the question
    [today] = (await usage(srv, project, days=1))["days"]
    assert (today["tokens"], today["inputTokens"], today["outputTokens"], today["embeddingTokens"]) \
        == (157, 100, 50, 7)
    await w.close()


async def test_anthropic_usage_and_a_server_that_reports_none(ai_env_sqlite, llm, monkeypatch):
    monkeypatch.setenv("PP_TEST_ANTHROPIC_KEY", llm.anthropic_key)
    srv = ai_env_sqlite.server()
    project = create_project_on(srv)
    configure(srv, project.id, enabled=True, provider="anthropic", model="claude-test", base_url=llm.anthropic_url,
              api_key_env="PP_TEST_ANTHROPIC_KEY", delay_seconds=0)
    llm.set_usage(300, 25)
    w = await visitor(srv, project)
    await w.say("Where are you based?")
    await w.expect("message", sender="ai")
    [today] = (await usage(srv, project, days=1))["days"]
    assert (today["tokens"], today["inputTokens"], today["outputTokens"]) == (325, 300, 25)

    # No usage fields at all (some local servers): estimated, so a budget still holds.
    llm.report_usage = False
    await w.say("And when are you open?")
    await w.expect("message", sender="ai")
    [today] = (await usage(srv, project, days=1))["days"]
    assert today["answers"] == 2 and today["inputTokens"] > 300 and today["outputTokens"] > 25
    await w.close()


async def test_tokens_of_an_answer_dropped_midway_count_too(ai_env, llm):
    srv = ai_env.server()
    project = openai_project(srv, llm, delay_seconds=0)
    llm.set_usage(500, 100)
    llm.hold()
    w = await visitor(srv, project)
    await w.say("first")
    await llm.await_for(1)  # the model is thinking about "first" ...
    await w.say("second")  # ... when the visitor writes again: that answer is dropped
    await w.expect("message", sender="ai")
    llm.let_go()
    await asettle(srv)
    assert srv.node.ai.outcomes["superseded"] == 1
    assert len(ai_texts(await messages(srv, project, w.session_id))) == 1
    [today] = (await usage(srv, project, days=1))["days"]
    assert (today["answers"], today["tokens"]) == (1, 1200)
    await w.close()


async def test_budget_settings_over_rest(ai_env_sqlite, llm):
    srv = ai_env_sqlite.server()
    project = openai_project(srv, llm)
    async with httpx.AsyncClient(base_url=srv.base_url) as api:
        res = await api.patch("/api/v1/ai", headers=project.auth, json={"maxAnswers": 5, "dailyTokens": 200000})
        assert res.status_code == 200, res.text
        body = res.json()
        assert (body["maxAnswers"], body["maxRepliesPerSession"], body["dailyTokens"]) == (5, 5, 200000)
        assert body["usageToday"]["tokens"] == 0
        res = await api.patch("/api/v1/ai", headers=project.auth, json={"dailyTokens": -1})
        assert res.status_code == 422 and res.json()["error"]["code"] == "invalid_setting"
        res = await api.patch("/api/v1/ai", headers=project.auth, json={"maxAnswers": 3, "maxRepliesPerSession": 4})
        assert res.status_code == 422 and res.json()["error"]["code"] == "invalid_setting"
        res = await api.get("/api/v1/ai/usage", params={"days": 0}, headers=project.auth)
        assert res.status_code == 422 and res.json()["error"]["code"] == "invalid_days"
        res = await api.get("/api/v1/ai/usage")
        assert res.status_code == 401
        res = await api.get("/api/v1/ai/usage", headers={"Authorization": f"Bearer {project.public_key}"})
        assert res.status_code == 401


async def test_ai_usage_on_the_cli_and_over_rest(ai_env, llm):
    # The command runs on the real clock: so does this server's fake one, from now.
    clock = FakeClock(datetime.now(UTC))
    srv = ai_env.server(clock=clock)
    project = openai_project(srv, llm, delay_seconds=0, daily_tokens=100000)
    llm.set_usage(1200, 34)
    w = await visitor(srv, project)
    await w.say("hi")
    await w.expect("message", sender="ai")
    env = cli_env(ai_env)

    result = await cli(env, "ai", "usage", project.id, "--days", "3", "--json")
    assert result.exit_code == 0, result.stdout
    data = orjson.loads(result.stdout)
    rest = await usage(srv, project, days=3)
    assert data == rest
    assert [d["day"] for d in data["days"]] == sorted(d["day"] for d in data["days"]) and len(data["days"]) == 3
    [used] = [d for d in data["days"] if d["answers"]]  # today (or yesterday, should midnight have passed)
    assert (used["answers"], used["tokens"], used["inputTokens"], used["outputTokens"]) == (1, 1234, 1200, 34)

    result = await cli(env, "ai", "usage", project.id)
    assert result.exit_code == 0, result.stdout
    lines = result.stdout.splitlines()
    assert "100000 tokens a day" in lines[0]
    assert len([line for line in lines if line[:4].isdigit()]) == 7
    day_line = next(line for line in lines if line.startswith(used["day"]))
    assert day_line.split()[1:5] == ["1", "0", "1234", "1200"]

    result = await cli(env, "ai", "usage", project.id, "--days", "0", "--json")
    assert result.exit_code == 1
    assert orjson.loads(result.stdout)["error"]["code"] == "invalid_days"
    result = await cli(env, "ai", "show", project.id)
    assert "100000 tokens a day" in result.stdout and "1234 tokens" in result.stdout
    await w.close()
