"""The AI fallback's timer, end to end: a real server on a FakeClock, a real widget socket,
the fake model APIs. Runs on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

from pocketping.ai.prompt import NOTHING_FOUND
from pocketping.ai.providers import OPENAI_TOOLS
from pocketping_testkit.widget_client import WidgetClient

from .ai_helpers import ai_texts, asettle, configure, create_project_on, messages, openai_project


async def test_no_answer_before_the_delay_and_one_after(ai_env, llm):
    srv = ai_env.server()
    project = openai_project(srv, llm, delay_seconds=120)
    w = await WidgetClient.connect(srv.ws_url, project.public_key)
    await w.synced()
    await w.say("Do you ship to Spain?")

    ai_env.clock.advance(119)
    await asettle(srv, ai_env.clock)
    assert llm.requests == []
    assert ai_texts(await messages(srv, project, w.session_id)) == []

    ai_env.clock.advance(1)
    frame = await w.expect("message", sender="ai")
    assert frame["message"]["text"] == "Hello! This is the AI answering."
    assert frame["message"]["source"] == "ai"

    # The exact Chat Completions request (a local OpenAI-compatible server gets max_tokens).
    (request,) = llm.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {llm.openai_key}"
    assert request.headers["content-type"] == "application/json"
    system = request.body["messages"][0]
    assert request.body == {
        "model": "gpt-test",
        "messages": [{"role": "system", "content": system["content"]},
                     {"role": "user", "content": "Do you ship to Spain?"}],
        "max_tokens": 400,
        "tools": OPENAI_TOOLS,  # the model may hand over to a person (docs/ai-fallback.md)
    }
    assert system["role"] == "system"
    assert "Acme Shop" in system["content"]
    assert "say plainly that you don't know" in system["content"]
    assert NOTHING_FOUND in system["content"]  # empty knowledge base: offer a human

    await asettle(srv, ai_env.clock)
    assert len(llm.requests) == 1
    assert ai_texts(await messages(srv, project, w.session_id)) == ["Hello! This is the AI answering."]
    await w.close()


async def test_operator_reply_cancels_and_silences_until_turned_back_on(ai_env, llm):
    srv = ai_env.server()
    project = openai_project(srv, llm, delay_seconds=120)
    w = await WidgetClient.connect(srv.ws_url, project.public_key)
    await w.synced()
    await w.say("Is anyone there?")
    ai_env.clock.advance(60)

    # An operator answers inside the delay (through the REST API; bridges and the inbox use
    # the same action).
    import httpx

    async with httpx.AsyncClient(base_url=srv.base_url) as api:
        res = await api.post(f"/api/v1/sessions/{w.session_id}/messages", headers=project.auth,
                             json={"text": "Yes, Sarah here!", "operatorName": "Sarah"})
        assert res.status_code == 201
        session = (await api.get(f"/api/v1/sessions/{w.session_id}", headers=project.auth)).json()
        assert session["aiEnabled"] is False

        ai_env.clock.advance(600)
        await asettle(srv, ai_env.clock)
        assert llm.requests == []

        # The visitor writes again: the AI stays out of a conversation a human took over.
        await w.say("Great, one more question")
        ai_env.clock.advance(600)
        await asettle(srv, ai_env.clock)
        assert llm.requests == []
        assert ai_texts(await messages(srv, project, w.session_id)) == []

        # "/ai on" (here through the REST equivalent): the visitor's waiting message is
        # answered, at once since the delay has long passed.
        res = await api.post(f"/api/v1/sessions/{w.session_id}/ai", headers=project.auth, json={"enabled": True})
        assert res.status_code == 200 and res.json()["aiEnabled"] is True
        frame = await w.expect("message", sender="ai")
        assert frame["message"]["text"] == "Hello! This is the AI answering."
        (request,) = llm.requests
        turns = request.body["messages"][1:]
        assert turns == [{"role": "user", "content": "Is anyone there?"},
                         {"role": "assistant", "content": "Yes, Sarah here!"},
                         {"role": "user", "content": "Great, one more question"}]

        # And it keeps answering new visitor messages after the delay.
        await w.say("Thanks! And the price?")
        ai_env.clock.advance(119)
        await asettle(srv, ai_env.clock)
        assert len(llm.requests) == 1
        ai_env.clock.advance(1)
        await llm.await_for(2)
    await w.close()


async def test_each_visitor_message_restarts_the_timer(ai_env, llm):
    srv = ai_env.server()
    project = openai_project(srv, llm, delay_seconds=120)
    w = await WidgetClient.connect(srv.ws_url, project.public_key)
    await w.synced()
    await w.say("Hello")
    ai_env.clock.advance(100)
    await w.say("I have a question about my order")
    ai_env.clock.advance(100)  # 200 s after the first, 100 s after the second
    await asettle(srv, ai_env.clock)
    assert llm.requests == []
    ai_env.clock.advance(20)
    await llm.await_for(1)
    await asettle(srv, ai_env.clock)
    # One answer, to both messages.
    assert llm.requests[0].body["messages"][1:] == [
        {"role": "user", "content": "Hello\n\nI have a question about my order"}]
    assert len(ai_texts(await messages(srv, project, w.session_id))) == 1
    await w.close()


async def test_ai_off_for_the_project_or_the_session(ai_env, llm):
    srv = ai_env.server()
    project = openai_project(srv, llm, delay_seconds=30)
    other = create_project_on(srv)  # never configured: AI off by default
    w = await WidgetClient.connect(srv.ws_url, project.public_key)
    v = await WidgetClient.connect(srv.ws_url, other.public_key)
    await w.synced()
    await v.synced()
    await w.say("first")
    configure(srv, project.id, enabled=False)  # pending timers go with it
    await v.say("hello?")
    ai_env.clock.advance(3600)
    await asettle(srv, ai_env.clock)
    assert llm.requests == []
    await w.close()
    await v.close()


async def test_a_slow_model_never_blocks_the_visitor(ai_env_sqlite, llm):
    srv = ai_env_sqlite.server()
    project = openai_project(srv, llm, delay_seconds=0, timeout_seconds=60)
    llm.hang()
    w = await WidgetClient.connect(srv.ws_url, project.public_key)
    await w.synced()
    await w.say("first")
    await llm.await_for(1)  # the model is now thinking (and will never answer) ...
    ack = await w.say("second", client_id="c-second")  # ... and the visitor is acknowledged at once
    assert ack["seq"] == 2
    typing = await w.expect("typing", sender="ai")
    assert typing["active"] is True and typing["operatorName"] == "AI"
    await w.close()


async def test_outside_office_hours_the_ai_answers_at_once(ai_env, llm):
    from pocketping.actions.projects import update_project

    srv = ai_env.server()
    project = openai_project(srv, llm, delay_seconds=120, outside_hours_delay=0)
    today = ai_env.clock.now().date().isoformat()
    srv.call(update_project(srv.services, project.id, settings={
        "hours": "mon-sun 00:00-24:00", "timezone": "UTC", "closed_on": [today]}))  # closed all of today
    w = await WidgetClient.connect(srv.ws_url, project.public_key)
    await w.synced()
    await w.say("Are you open?")
    frame = await w.expect("message", sender="ai")  # no time passes: outside the hours it is at once
    assert frame["message"]["text"] == "Hello! This is the AI answering."
    await w.close()

    # Inside the hours, the usual delay.
    srv.call(update_project(srv.services, project.id, settings={"closed_on": []}))
    w = await WidgetClient.connect(srv.ws_url, project.public_key)
    await w.synced()
    await w.say("And tomorrow?")
    await asettle(srv, ai_env.clock)
    assert len(llm.requests) == 1
    ai_env.clock.advance(120)
    await w.expect("message", sender="ai")
    await w.close()
