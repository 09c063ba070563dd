"""Operator commands typed in a topic, deleted topics, edits, typing and presence."""

from __future__ import annotations

import httpx

from pocketping_testkit.bridges import TelegramSetup
from pocketping_testkit.widget_client import WidgetClient


async def started(server, project, telegram: TelegramSetup, text: str = "hello") -> tuple[WidgetClient, int]:
    w = await WidgetClient.connect(server.ws_url, project.public_key, metadata={"url": "https://example.com/"})
    await w.synced()
    await w.say(text)
    await telegram.wait_post(text)
    return w, telegram.topic().id


async def test_close_and_reopen_from_the_topic(server, project, telegram: TelegramSetup):
    w, topic = await started(server, project, telegram)
    telegram.fake.operator_says(telegram.chat_id, topic, "/close")
    frame = await w.expect("session")
    assert frame["status"] == "closed"
    await telegram.fake.wait_for(lambda: telegram.topic().closed)
    assert any("Conversation closed (from Telegram)" in t for t in telegram.texts(topic))
    # The visitor writes again: the conversation and the topic reopen, in that order, before the message.
    await w.say("one more thing")
    await telegram.wait_post("one more thing")
    assert not telegram.topic().closed
    texts = telegram.texts(topic)
    assert texts.index(next(t for t in texts if "reopened" in t)) < texts.index(
        next(t for t in texts if "one more thing" in t))
    telegram.fake.operator_says(telegram.chat_id, topic, "/reopen")
    await telegram.wait_post("This conversation is open.")
    # Closing the topic in Telegram itself closes the conversation too.
    telegram.fake.operator_sets_topic(telegram.chat_id, topic, closed=True)
    assert (await w.expect("session", status="closed"))["status"] == "closed"
    await w.close()


async def test_info_help_and_ai_commands(server, project, telegram: TelegramSetup, api: httpx.AsyncClient):
    w, topic = await started(server, project, telegram)
    telegram.fake.operator_says(telegram.chat_id, topic, "/help@SomeBot")
    await telegram.wait_post("/ai on, /ai off")
    telegram.fake.operator_says(telegram.chat_id, topic, "/info")
    info = await telegram.wait_post("Session: ")
    assert w.session_id in info.text and "Page: https://example.com/" in info.text
    telegram.fake.operator_says(telegram.chat_id, topic, "/ai off")
    await telegram.wait_post("AI replies turned off for this conversation (from Telegram)")
    r = await api.get(f"/api/v1/sessions/{w.session_id}", headers=project.auth)
    assert r.json()["aiEnabled"] is False
    telegram.fake.operator_says(telegram.chat_id, topic, "/ai on")
    await telegram.wait_post("AI replies turned on")
    # Commands never reach the visitor; a text that merely starts with a slash does.
    telegram.fake.operator_says(telegram.chat_id, topic, "/path/to/file is fixed")
    frame = await w.expect("message", sender="operator")
    assert frame["message"]["text"] == "/path/to/file is fixed"
    await w.close()


async def test_away_and_back_change_presence_for_every_widget(server, project, telegram: TelegramSetup):
    w, topic = await started(server, project, telegram)
    other = await WidgetClient.connect(server.ws_url, project.public_key)
    await other.synced()
    telegram.fake.operator_says(telegram.chat_id, topic, "/back")
    assert (await other.expect("presence"))["online"] is True
    await telegram.wait_post("Visitors now see the team online")
    telegram.fake.operator_says(telegram.chat_id, topic, "/away")
    assert (await other.expect("presence"))["online"] is False
    assert (await w.expect("presence", online=False))["online"] is False
    again = await WidgetClient.connect(server.ws_url, project.public_key)
    assert again.welcome["online"] is False
    for client in (w, other, again):
        await client.close()


async def test_a_deleted_topic_is_recreated_and_remapped(server, project, telegram: TelegramSetup):
    w, first = await started(server, project, telegram)
    telegram.fake.delete_topic(telegram.chat_id, first)
    await w.say("are you still there?")
    post = await telegram.wait_post("are you still there?")
    new = telegram.topic()
    assert new.id != first and post.thread_id == new.id
    assert any("previous topic/thread was deleted" in t for t in telegram.texts(new.id))
    telegram.fake.operator_says(telegram.chat_id, new.id, "still here")
    frame = await w.expect("message", sender="operator")
    assert frame["message"]["text"] == "still here"
    await w.close()


async def test_operator_edits_reach_the_widget(server, project, telegram: TelegramSetup):
    w, topic = await started(server, project, telegram)
    message_id = telegram.fake.operator_says(telegram.chat_id, topic, "Teh answer")
    original = (await w.expect("message", sender="operator"))["message"]
    telegram.fake.operator_edits(telegram.chat_id, message_id, "The answer")
    updated = await w.expect("message_updated")
    assert updated["message"]["id"] == original["id"]
    assert updated["message"]["text"] == "The answer" and updated["message"]["editedAt"]
    await w.close()
    # A reconnecting tab gets the edited text from history.
    again = await WidgetClient.connect(server.ws_url, project.public_key, token=w.token)
    history = await again.synced()
    assert [f["message"]["text"] for f in history if f["message"]["sender"] == "operator"] == ["The answer"]
    await again.close()


async def test_visitor_typing_shows_in_the_topic(server, project, telegram: TelegramSetup):
    w, topic = await started(server, project, telegram)
    await w.send({"type": "typing", "active": True})
    await telegram.fake.wait_for(lambda: any(c.get("message_thread_id") == topic and c.get("action") == "typing"
                                             for c in telegram.fake.calls(telegram.token, "sendChatAction")))
    await w.close()
