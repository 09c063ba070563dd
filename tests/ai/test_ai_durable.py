"""The timer is in the database: it survives restarts and fires once with several servers.
Runs on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

from pocketping.actions.ai_answer import LEASE_SECONDS
from pocketping.clock import FakeClock
from pocketping_testkit.widget_client import WidgetClient

from .ai_helpers import ai_texts, asettle, messages, openai_project


async def test_a_restart_before_the_due_time_still_answers_exactly_once(ai_env, llm):
    first = ai_env.server()
    project = openai_project(first, llm, delay_seconds=120)
    w = await WidgetClient.connect(first.ws_url, project.public_key)
    await w.synced()
    await w.say("Are you open on Sunday?")
    session_id = w.session_id
    ai_env.clock.advance(60)
    await asettle(first, ai_env.clock)
    await w.close()
    first.stop()

    clock = FakeClock(ai_env.clock.now())
    second = ai_env.server(clock=clock)
    clock.advance(59)
    await asettle(second, clock)
    assert llm.requests == []
    clock.advance(1)
    await llm.await_for(1)
    await asettle(second, clock)
    clock.advance(3600)
    await asettle(second, clock)
    assert len(llm.requests) == 1
    assert ai_texts(await messages(second, project, session_id)) == ["Hello! This is the AI answering."]


async def test_a_server_dying_mid_answer_leaves_it_to_the_next_one(ai_env, llm):
    first = ai_env.server()
    project = openai_project(first, llm, delay_seconds=0, timeout_seconds=300)
    llm.hang()  # the first server's call never returns: it dies while waiting
    w = await WidgetClient.connect(first.ws_url, project.public_key)
    await w.synced()
    await w.say("Hello?")
    session_id = w.session_id
    await llm.await_for(1)
    await w.close()
    first.stop()

    clock = FakeClock(ai_env.clock.now())
    second = ai_env.server(clock=clock)
    clock.advance(LEASE_SECONDS - 1)  # the dead server's claim still holds
    await asettle(second, clock)
    assert len(llm.requests) == 1
    clock.advance(1)
    await llm.await_for(2)
    await asettle(second, clock)
    assert ai_texts(await messages(second, project, session_id)) == ["Hello! This is the AI answering."]


async def test_two_servers_on_one_database_answer_each_conversation_once(ai_env, llm):
    a = ai_env.server()
    b = ai_env.server()  # same database, same clock: both schedulers wake together
    project = openai_project(a, llm, delay_seconds=30)
    widgets = []
    for i in range(6):
        srv = a if i % 2 else b
        w = await WidgetClient.connect(srv.ws_url, project.public_key)
        await w.synced()
        await w.say(f"question {i}")
        widgets.append(w)
    ai_env.clock.advance(30)
    await llm.await_for(6)
    await asettle(a, ai_env.clock)
    await asettle(b, ai_env.clock)
    ai_env.clock.advance(3600)
    await asettle(a, ai_env.clock)
    await asettle(b, ai_env.clock)
    assert len(llm.requests) == 6
    asked = sorted(r.body["messages"][-1]["content"] for r in llm.requests)
    assert asked == [f"question {i}" for i in range(6)]
    for w in widgets:
        assert len(ai_texts(await messages(a, project, w.session_id))) == 1
        await w.close()
    done = a.node.ai.outcomes + b.node.ai.outcomes
    assert done["answered"] == 6
