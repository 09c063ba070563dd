"""The team sees the AI in its threads: its answers as "AI: ...", its failures as notes, and
when it steps aside. Telegram stands for every bridge (one planner serves them all)."""

from __future__ import annotations

from pocketping.core.ai import DEFAULT_FALLBACK
from pocketping_testkit.bridges import telegram_bridge
from pocketping_testkit.widget_client import WidgetClient

from .ai_helpers import configure


async def test_answers_failures_and_handovers_show_in_the_thread(server, project, fake_telegram, llm):
    with telegram_bridge(server, project, fake_telegram) as telegram:
        configure(server, project.id, enabled=True, provider="openai", model="gpt-test", base_url=llm.openai_url,
                  api_key=llm.openai_key, delay_seconds=0)  # the shared server runs on real time
        llm.fail(500, "upstream exploded")
        w = await WidgetClient.connect(server.ws_url, project.public_key)
        await w.synced()
        await w.say("Hello, anyone?")
        await telegram.wait_post("Hello, anyone?")
        apology = await telegram.wait_post(DEFAULT_FALLBACK)
        assert "AI: " + DEFAULT_FALLBACK in apology.text
        note = await telegram.wait_post("The AI could not answer")
        assert "HTTP 500" in note.text and "upstream exploded" in note.text
        assert (await w.expect("message", sender="ai"))["message"]["text"] == DEFAULT_FALLBACK

        await w.say("Hello again")
        answer = await telegram.wait_post("Hello! This is the AI answering.")
        assert "AI: Hello! This is the AI answering." in answer.text

        # An operator answers from the thread: the AI steps aside, and the thread says so.
        topic = telegram.topic().id
        telegram.fake.operator_says(telegram.chat_id, topic, "I'm here, how can I help?")
        await w.expect("message", sender="operator")
        await telegram.wait_post("AI replies turned off for this conversation")
        await w.say("Great, thanks")
        await telegram.wait_post("Great, thanks")
        assert len(llm.requests) == 2
        await w.close()
