"""Answers that cite, "I don't know" instead of a guess, and the hand-off to a person: through
the widget protocol, the LLM fake (its tool calls too) and the Telegram, Discord and Slack
fakes. On SQLite, PostgreSQL and MariaDB (the shared server runs on real time: delay 0)."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from pocketping.ai.prompt import NOTHING_FOUND, SMALL_TALK
from pocketping.bridges.base import Outgoing
from pocketping.bridges.discord.format import render_item
from pocketping.bridges.slack.text import message_text
from pocketping.bridges.telegram.format import message_html
from pocketping.clock import FakeClock
from pocketping.core.ai_copy import DEFAULT_NO_ANSWER, HANDOFF, asks_for_person, is_small_talk
from pocketping_testkit.bridges import discord_bridge, telegram_bridge
from pocketping_testkit.retrieval_eval import serve
from pocketping_testkit.slack_bridge import slack_bridge
from pocketping_testkit.widget_client import WidgetClient

from .ai_helpers import ai_texts, asettle, configure, create_project_on, messages, openai_project
from .test_retrieval_eval import cli_for

HANDED_OVER = HANDOFF["en"][0]


def chat_requests(llm) -> list:
    return [r for r in llm.requests if r.path.endswith("/chat/completions")]


def ai_on(server, project, llm, **changes) -> None:
    configure(server, project.id, enabled=True, provider="openai", model="gpt-test", base_url=llm.openai_url,
              api_key=llm.openai_key, delay_seconds=0, **changes)


async def session_ai(server, project, session_id: str) -> bool:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=20) as client:
        res = await client.get(f"/api/v1/sessions/{session_id}", headers=project.auth)
        res.raise_for_status()
        return bool(res.json()["aiEnabled"])


async def test_an_answer_cites_the_page_two_links_deep_and_an_unrelated_question_gets_no_guess(
        server, project, site, llm, fake_telegram):
    cli = cli_for(server)
    code, added = await asyncio.to_thread(cli, "kb", "add", project.id, serve(site), "--crawl")
    assert code == 0 and added[0]["pages"] == 30, added
    code, shown = await asyncio.to_thread(cli, "ai", "show", project.id)
    assert shown["noAnswerText"] == DEFAULT_NO_ANSWER and shown["minRelevance"] == 0.15
    ai_on(server, project, llm)
    labels = site.url("/docs/shipping/labels")  # /docs/ -> /docs/shipping/ -> here
    with telegram_bridge(server, project, fake_telegram) as telegram:
        w = await WidgetClient.connect(server.ws_url, project.public_key)
        await w.synced()
        await w.say("which label sizes can I print")
        answer = (await w.expect("message", sender="ai"))["message"]["text"]
        [request] = chat_requests(llm)
        # The page reached the model, and the answer ends with a link to it (and only to what it was given).
        title = re.search(r"Source: (.+?) \(" + re.escape(labels) + r"\)", request.system).group(1)
        # The best page first; each page passed to the model once.
        assert answer.startswith(f"Hello! This is the AI answering.\n\nSources: [{title}]({labels})"), answer
        cited = re.findall(r"\]\((http[^)]+)\)", answer)
        assert len(cited) == len(set(cited)) and all(f"({url})" in request.system for url in cited)
        # The thread shows the citation as a link (Telegram HTML).
        posted = await telegram.wait_post("Sources:")
        assert f'<a href="{labels}">{title}</a>' in posted.source
        await w.close()

        # Nothing in the knowledge base speaks of it: the no-answer text, without asking the model.
        code, _ = await asyncio.to_thread(cli, "ai", "set", project.id, "--no-answer-text",
                                          "No idea, sorry! Someone from Parcelo will help you.")
        assert code == 0
        w = await WidgetClient.connect(server.ws_url, project.public_key)
        await w.synced()
        await w.say("Can you recommend a good pizza recipe?")
        said = (await w.expect("message", sender="ai"))["message"]
        assert said["text"] == "No idea, sorry! Someone from Parcelo will help you."
        assert len(chat_requests(llm)) == 1
        await telegram.wait_post("found nothing in the knowledge base")
        assert not await session_ai(server, project, w.session_id)  # a person takes over
        await w.close()


async def test_a_greeting_gets_a_friendly_answer_and_only_a_real_question_hands_off(server, project, api, llm):
    res = await api.post("/api/v1/kb", headers=project.auth, json={
        "name": "shipping.md", "content": "# Shipping\n\nWe ship parcels to Spain and France within three days.\n",
        "contentType": "text/markdown"})
    assert res.status_code == 201, res.text
    ai_on(server, project, llm)
    for greeting in ("good morning", "Bonjour !", "hello", "Hola, ¿qué tal?"):
        w = await WidgetClient.connect(server.ws_url, project.public_key)
        await w.synced()
        asked = len(chat_requests(llm))
        await w.say(greeting)
        said = (await w.expect("message", sender="ai"))["message"]
        # The model answers (briefly, told it is small talk), and the AI stays on.
        assert said["text"] == "Hello! This is the AI answering.", (greeting, said)
        [request] = chat_requests(llm)[asked:]
        assert SMALL_TALK in request.system and NOTHING_FOUND not in request.system, greeting
        assert await session_ai(server, project, w.session_id), greeting
        await w.close()

    # Then a real question the knowledge base knows nothing of: the no-answer text and a person.
    w = await WidgetClient.connect(server.ws_url, project.public_key)
    await w.synced()
    await w.say("hello")
    await w.expect("message", sender="ai")
    asked = len(chat_requests(llm))
    await w.say("Can you recommend a good pizza recipe?")
    said = (await w.expect("message", sender="ai"))["message"]
    assert said["text"] == DEFAULT_NO_ANSWER
    assert len(chat_requests(llm)) == asked
    assert not await session_ai(server, project, w.session_id)
    await w.close()


async def test_asking_for_a_human_stops_the_ai_and_pings_every_thread(server, project, llm, fake_telegram,
                                                                      fake_discord, fake_slack):
    ai_on(server, project, llm)
    with telegram_bridge(server, project, fake_telegram) as telegram, \
            discord_bridge(server, project, fake_discord) as discord, \
            slack_bridge(server, project, fake_slack, socket_mode=True) as slack:
        w = await WidgetClient.connect(server.ws_url, project.public_key)
        await w.synced()
        await w.say("Hello, do you ship to Spain?")
        await w.expect("message", sender="ai")  # no knowledge base: the model answers
        await w.say("I want to talk to a human")
        said = (await w.expect("message", sender="ai"))["message"]
        assert said["text"] == HANDED_OVER
        assert len(chat_requests(llm)) == 1  # the hand-off asked no model
        line = "The visitor asked to talk to a person"
        await telegram.wait_post(line)
        await discord.wait_post(line)
        await slack.wait_reply(line)
        assert not await session_ai(server, project, w.session_id)

        # Later messages get no AI answer.
        await w.say("hello? is anyone there?")
        await telegram.wait_post("is anyone there?")
        await server.acall(server.node.ai.settled())
        await asettle(server)
        assert len(chat_requests(llm)) == 1
        assert ai_texts(await messages(server, project, w.session_id))[-1] == HANDED_OVER
        await w.close()


async def test_the_models_handoff_tool_call_hands_over(server, project, llm, fake_telegram):
    ai_on(server, project, llm)
    with telegram_bridge(server, project, fake_telegram) as telegram:
        llm.call_tool("handoff_to_human", {"reason": "asks for a refund exception"})
        w = await WidgetClient.connect(server.ws_url, project.public_key)
        await w.synced()
        await w.say("My parcel was late, I want my money back and more")
        said = (await w.expect("message", sender="ai"))["message"]
        assert said["text"] == HANDED_OVER
        [request] = chat_requests(llm)
        assert [t["function"]["name"] for t in request.body["tools"]] == ["handoff_to_human"]
        await telegram.wait_post("The AI handed this conversation over to a person (asks for a refund exception)")
        assert not await session_ai(server, project, w.session_id)
        await w.say("so?")
        await telegram.wait_post("so?")
        await asettle(server)
        assert len(chat_requests(llm)) == 1
        await w.close()


async def test_anthropic_tool_use_hands_over_too(ai_env_sqlite, llm, monkeypatch):
    monkeypatch.setenv("PP_TEST_ANTHROPIC_KEY", llm.anthropic_key)
    srv = ai_env_sqlite.server()
    project = create_project_on(srv)
    configure(srv, project.id, enabled=True, provider="anthropic", model="claude-test", base_url=llm.anthropic_url,
              api_key_env="PP_TEST_ANTHROPIC_KEY", delay_seconds=0)
    llm.call_tool("handoff_to_human", {"reason": "angry"})
    w = await WidgetClient.connect(srv.ws_url, project.public_key)
    await w.synced()
    await w.say("This is the third time my order is wrong!")
    assert (await w.expect("message", sender="ai"))["message"]["text"] == HANDED_OVER
    [request] = llm.requests
    assert [t["name"] for t in request.body["tools"]] == ["handoff_to_human"] and llm.invalid == []
    assert not await session_ai(srv, project, w.session_id)
    await w.close()


async def test_a_hand_off_survives_a_restart(ai_env, llm):
    first = ai_env.server()
    project = openai_project(first, llm, delay_seconds=120)
    w = await WidgetClient.connect(first.ws_url, project.public_key, metadata={"language": "fr-FR"})
    await w.synced()
    await w.say("Je voudrais parler à un humain, s'il vous plaît")
    # At once, not after the delay, and in the visitor's language.
    assert (await w.expect("message", sender="ai"))["message"]["text"] == HANDOFF["fr"][0]
    token = w.token
    await w.close()
    first.stop()

    clock = FakeClock(ai_env.clock.now())
    second = ai_env.server(clock=clock)
    w = await WidgetClient.connect(second.ws_url, project.public_key, token=token)
    await w.synced()
    await w.say("Vous êtes là ?")
    clock.advance(3600)
    await asettle(second, clock)
    assert llm.requests == []
    assert ai_texts(await messages(second, project, w.session_id)) == [HANDOFF["fr"][0]]
    await w.close()


@pytest.mark.parametrize("text", [
    "I want to talk to a human", "agent", "Can I speak to a real person?",
    "Je voudrais parler à un conseiller", "Ich möchte mit einem Mitarbeiter sprechen",
    "Quiero hablar con una persona", "Quero falar com um atendente", "أريد التحدث مع موظف",
])
def test_asking_for_a_person_in_the_six_languages(text):
    assert asks_for_person(text)


@pytest.mark.parametrize("text", [
    "How do I print a label?", "My shipping agent lost the parcel, where is my refund for the label?",
    "Personne ne répond au téléphone depuis des jours, où est mon colis ?", "What does it cost per person per month?",
])
def test_questions_that_mention_people_are_questions(text):
    assert not asks_for_person(text)


@pytest.mark.parametrize("text", [
    "good morning", "Hello!", "hi there, how are you?", "thanks a lot 🙏", "ok", "Bonjour, ça va ?", "merci !",
    "Guten Morgen!", "¡Hola! ¿Qué tal?", "Olá, tudo bem?", "Obrigada", "مرحبًا", "السلام عليكم",
])
def test_greetings_and_thanks_in_the_six_languages_are_small_talk(text):
    assert is_small_talk(text)


@pytest.mark.parametrize("text", [
    "hello, do you ship to Spain?", "Good morning, where is my parcel?", "hi I need help", "morning delivery?",
    "Can you recommend a good pizza recipe?", "bonjour, combien coûte la livraison ?", "refund", "?!", "",
    "hello " * 13,
])
def test_a_greeting_with_a_question_is_a_question(text):
    assert not is_small_talk(text)


def test_ai_links_are_links_on_every_platform():
    item = Outgoing(author="AI", kind="ai", text="See <b>this</b>.\n\nSources: [Rates & fees](https://x.example/r?a=1&b=2)")
    assert '<a href="https://x.example/r?a=1&amp;b=2">Rates &amp; fees</a>' in message_html(item)
    assert "&lt;b&gt;" in message_html(item)
    assert "[Rates & fees](https://x.example/r?a=1&b=2)" in render_item(item)  # a Discord masked link
    assert "<https://x.example/r?a=1&amp;b=2|Rates &amp; fees>" in message_text("AI", item.text, links=True)
    # A visitor's Markdown stays text.
    visitor = Outgoing(author="Visitor", kind="visitor", text="[bank](https://evil.example)")
    assert "<a " not in message_html(visitor) and "\\[bank\\]" in render_item(visitor)
