"""What the AI is sent and what it says: knowledge in the prompt, both providers' request
shapes, failures, caps and budgets. On SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import asyncio

import httpx
import orjson
from typer.testing import CliRunner

from pocketping.ai.providers import ANTHROPIC_TOOLS
from pocketping.core.ai import DEFAULT_FALLBACK
from pocketping.wiring import cli_app
from pocketping_testkit.widget_client import WidgetClient

from .ai_helpers import ai_texts, asettle, configure, create_project_on, messages, openai_project

cli_app = cli_app()


def listen(srv, project_id: str) -> list:
    """Hub events of one project, as the bridges and the inbox hear them."""
    heard: list = []

    async def subscribe() -> None:
        srv.services.hub.subscribe_project(project_id, heard.append)

    srv.call(subscribe())
    return heard


async def visitor(srv, project) -> WidgetClient:
    w = await WidgetClient.connect(srv.ws_url, project.public_key)
    await w.synced()
    return w


async def test_knowledge_from_a_file_and_a_page_reaches_the_prompt(ai_env, llm, site, tmp_path):
    srv = ai_env.server()
    project = openai_project(srv, llm, delay_seconds=60, system_prompt="You are Robin, Acme's shop assistant.")
    faq = tmp_path / "faq.md"
    faq.write_text("# FAQ\n\n## Shipping\n\nWe ship to Spain in 3 to 5 business days with Correos.\n\n"
                   "## Payment\n\nWe take cards and PayPal.\n")
    env = {"POCKETPING_DATABASE_URL": ai_env.url, "POCKETPING_ENCRYPTION_KEY": ai_env.key}
    result = await asyncio.to_thread(CliRunner().invoke, cli_app, ["kb", "add", project.id, str(faq), "--json"],
                                     env=env)
    assert result.exit_code == 0, result.stdout
    page = site.page("/returns", "<title>Returns</title><h1>Returns</h1><p>Returns are free within 30 days; "
                                 "print the prepaid label from your account.</p>")
    async with httpx.AsyncClient(base_url=srv.base_url) as api:
        res = await api.post("/api/v1/kb", headers=project.auth, json={"url": page})
        assert res.status_code == 201

    w = await visitor(srv, project)
    await w.say("How long does shipping to Spain take?")
    ai_env.clock.advance(60)
    await w.expect("message", sender="ai")
    system = llm.requests[0].system
    assert system.startswith("You are Robin, Acme's shop assistant.")
    assert "[1] Source: FAQ (" + str(faq) + "), section: FAQ > Shipping\nWe ship to Spain in 3 to 5 business days " \
           "with Correos." in system
    assert "prepaid label" not in system  # only what is relevant

    await w.say("And can I send things back?")
    await w.say("a return, I mean")
    ai_env.clock.advance(60)
    await llm.await_for(2)
    system = llm.requests[1].system
    assert f"Source: Returns ({page})" in system
    assert "Returns are free within 30 days" in system
    await w.close()


async def test_anthropic_request_shape(ai_env_sqlite, llm, monkeypatch):
    monkeypatch.setenv("PP_TEST_ANTHROPIC_KEY", llm.anthropic_key)
    srv = ai_env_sqlite.server()
    project = create_project_on(srv)
    configure(srv, project.id, enabled=True, provider="anthropic", model="claude-test", base_url=llm.anthropic_url,
              api_key_env="PP_TEST_ANTHROPIC_KEY", delay_seconds=10, max_answer_tokens=300, temperature=0.2)
    w = await visitor(srv, project)
    await w.say("hi")
    await w.say("Where are you based?")
    ai_env_sqlite.clock.advance(10)
    frame = await w.expect("message", sender="ai")
    assert frame["message"]["text"] == "Hello! This is the AI answering."
    (request,) = llm.requests
    assert llm.invalid == []
    assert request.path == "/v1/messages"
    assert request.headers["x-api-key"] == llm.anthropic_key
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert request.headers["content-type"] == "application/json"
    assert "authorization" not in request.headers
    assert request.body == {
        "model": "claude-test",
        "max_tokens": 300,
        "system": request.body["system"],
        "messages": [{"role": "user", "content": "hi\n\nWhere are you based?"}],
        "temperature": 0.2,
        "tools": ANTHROPIC_TOOLS,  # the model may hand over to a person
    }
    assert "say plainly that you don't know" in request.body["system"]
    await w.close()


async def test_an_error_from_a_base_url_on_the_servers_network_never_carries_its_body(ai_env, site):
    """F4: AI base URLs may point inside (a local model), so what answers there must not be read
    back: the team's note says the status, not the page."""
    srv = ai_env.server()
    project = create_project_on(srv, "Acme Shop")
    configure(srv, project.id, enabled=True, provider="openai", model="m", base_url=site.url("/internal"),
              delay_seconds=5)
    heard = listen(srv, project.id)
    w = await visitor(srv, project)
    await w.say("Hello?")
    ai_env.clock.advance(5)
    await w.expect("message", sender="ai")
    [note] = [e for e in heard if e.type == "ai.note"]
    assert "/internal/chat/completions answered HTTP 405" in note.data["text"], note.data
    assert "Method Not Allowed" not in note.data["text"]  # the body the internal page answered
    await w.close()


async def test_model_errors_give_one_polite_line_and_a_note_for_the_team(ai_env, llm):
    srv = ai_env.server()
    project = openai_project(srv, llm, delay_seconds=5)
    heard = listen(srv, project.id)
    llm.fail(500, "upstream exploded <b>stack trace</b>")
    llm.fail(503, "still down")
    w = await visitor(srv, project)
    await w.say("Hello?")
    ai_env.clock.advance(5)
    frame = await w.expect("message", sender="ai")
    assert frame["message"]["text"] == DEFAULT_FALLBACK
    notes = [e for e in heard if e.type == "ai.note"]
    assert len(notes) == 1 and notes[0].widget_frame is None
    assert notes[0].data["code"] == "model_error" and "HTTP 500" in notes[0].data["text"]

    # Still failing: no second apology, but the team hears of it again.
    await w.say("Anyone?")
    ai_env.clock.advance(5)
    await llm.await_for(2)
    await asettle(srv, ai_env.clock)
    assert ai_texts(await messages(srv, project, w.session_id)) == [DEFAULT_FALLBACK]
    assert len([e for e in heard if e.type == "ai.note"]) == 2
    async with httpx.AsyncClient(base_url=srv.base_url) as api:
        settings = (await api.get("/api/v1/ai", headers=project.auth)).json()
    assert "HTTP 503" in settings["lastError"]
    assert settings["usageToday"]["errors"] == 2 and settings["usageToday"]["replies"] == 1

    # Working again: a real answer.
    await w.say("Hello again")
    ai_env.clock.advance(5)
    await w.expect("message", sender="ai", text="Hello! This is the AI answering.")
    await w.close()


async def test_a_timeout_is_a_failure_and_the_fallback_can_be_silenced(ai_env_sqlite, llm):
    srv = ai_env_sqlite.server()
    project = openai_project(srv, llm, delay_seconds=0, timeout_seconds=1, fallback_message="")
    heard = listen(srv, project.id)
    llm.hang()
    w = await visitor(srv, project)
    await w.say("Hello?")
    await llm.await_for(1)
    await asettle(srv, ai_env_sqlite.clock)  # waits for the answer task: about a second of real time
    assert ai_texts(await messages(srv, project, w.session_id)) == []
    (note,) = [e for e in heard if e.type == "ai.note"]
    assert "model_timeout" in note.data["text"]
    await w.close()


async def test_reply_caps_per_conversation_and_per_day(ai_env, llm):
    srv = ai_env.server()
    project = openai_project(srv, llm, delay_seconds=0, max_replies_per_session=2, max_replies_per_day=3)
    heard = listen(srv, project.id)
    w = await visitor(srv, project)
    for i in range(3):
        await w.say(f"question {i}")
        await llm.await_for(min(i + 1, 2))
        await asettle(srv, ai_env.clock)
    assert len(ai_texts(await messages(srv, project, w.session_id))) == 2
    notes = [e for e in heard if e.type == "ai.note"]
    assert [n.data["code"] for n in notes] == ["session_limit"]
    off = [e for e in heard if e.type == "session.ai_changed"]
    assert off[-1].data["aiEnabled"] is False

    # The day's cap counts across conversations.
    v = await visitor(srv, project)
    await v.say("first")
    await llm.await_for(3)
    await asettle(srv, ai_env.clock)
    await v.say("second")
    await asettle(srv, ai_env.clock)
    assert len(llm.requests) == 3
    assert [n.data["code"] for n in heard if n.type == "ai.note"][-1] == "daily_limit"
    # A new day (UTC) starts a new count.
    ai_env.clock.advance(86400)
    await v.say("third")
    await llm.await_for(4)
    await w.close()
    await v.close()


async def test_history_and_answers_are_bounded(ai_env_sqlite, llm):
    srv = ai_env_sqlite.server(max_text_chars=500)
    project = openai_project(srv, llm, delay_seconds=0, history_tokens=100)
    w = await visitor(srv, project)
    configure(srv, project.id, enabled=False)
    for i in range(20):
        await w.say(f"message number {i} " + "blah " * 10)
    configure(srv, project.id, enabled=True)
    llm.reply("word " * 1000)
    await w.say("the actual question")
    frame = await w.expect("message", sender="ai")
    text = frame["message"]["text"]
    assert len(text) <= 500 and text.endswith("…")
    (request,) = llm.requests
    (turn,) = request.body["messages"][1:]
    assert turn["content"].endswith("the actual question")
    assert "message number 0 " not in turn["content"]  # the oldest were trimmed
    assert len(turn["content"]) <= 100 * 4
    await w.close()


async def test_ai_settings_through_the_cli_and_rest(ai_env, llm, tmp_path):
    srv = ai_env.server()
    project = create_project_on(srv)
    env = {"POCKETPING_DATABASE_URL": ai_env.url, "POCKETPING_ENCRYPTION_KEY": ai_env.key}
    runner = CliRunner()

    def cli(*args: str, stdin: str | None = None):
        result = runner.invoke(cli_app, ["ai", *args, "--json"], env=env, input=stdin)
        return result.exit_code, orjson.loads(result.stdout)

    code, shown = await asyncio.to_thread(cli, "show", project.id)
    assert code == 0 and shown["enabled"] is False and shown["delaySeconds"] == 120 and shown["provider"] == "openai"
    code, error = await asyncio.to_thread(cli, "set", project.id, "--enabled")
    assert code == 1 and error["error"]["code"] == "model_required"
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("You are Robin from Acme. Be brief.\n")
    code, shown = await asyncio.to_thread(
        cli, "set", project.id, "--enabled", "--delay", "0", "--provider", "anthropic", "--model", "claude-test",
        "--base-url", llm.anthropic_url, "--api-key-stdin", "--max-replies-per-day", "50",
        "--system-prompt-file", str(prompt), stdin=llm.anthropic_key + "\n")
    assert code == 0, shown
    assert shown["enabled"] and shown["delaySeconds"] == 0 and shown["hasApiKey"] is True
    assert shown["systemPrompt"] == "You are Robin from Acme. Be brief." and shown["maxRepliesPerDay"] == 50
    assert "apiKey" not in shown and llm.anthropic_key not in orjson.dumps(shown).decode()
    code, error = await asyncio.to_thread(cli, "set", project.id, "--provider", "mistral")
    assert code == 1 and error["error"]["code"] == "invalid_provider"
    code, error = await asyncio.to_thread(cli, "set", project.id, "--base-url", "http://169.254.169.254/v1")
    assert code == 1 and error["error"]["code"] == "unsafe_url"

    # The key is stored encrypted and the running server uses the new settings.
    raw = srv.call(_raw_key(srv, project.id))
    assert raw.startswith("enc1:") and llm.anthropic_key not in raw
    w = await visitor(srv, project)
    await w.say("hello")
    await w.expect("message", sender="ai")
    assert llm.requests[0].headers["x-api-key"] == llm.anthropic_key
    assert llm.requests[0].body["system"].startswith("You are Robin from Acme. Be brief.")

    # `ai test` asks the model directly, with the same settings.
    llm.reply("We are based in Lyon.")
    code, tested = await asyncio.to_thread(cli, "test", project.id, "Where are you based?")
    assert code == 0 and tested == {"answer": "We are based in Lyon.", "sources": []}
    assert llm.requests[-1].body["messages"] == [{"role": "user", "content": "Where are you based?"}]

    async with httpx.AsyncClient(base_url=srv.base_url) as api:
        res = await api.patch("/api/v1/ai", headers=project.auth, json={"delaySeconds": 300, "apiKey": ""})
        assert res.status_code == 200
        assert res.json()["delaySeconds"] == 300 and res.json()["hasApiKey"] is False
        res = await api.patch("/api/v1/ai", headers=project.auth, json={"delaySeconds": -1})
        assert res.status_code == 422
        res = await api.patch("/api/v1/ai", headers=project.auth, json={"colour": "red"})
        assert res.status_code == 422
    await w.close()


async def _raw_key(srv, project_id: str) -> str:
    from sqlalchemy import select

    from pocketping.store.schema import ai_settings

    async with srv.services.db.read() as tx:
        return str((await tx.conn.execute(select(ai_settings.c.api_key)
                                          .where(ai_settings.c.project_id == project_id))).scalar())
