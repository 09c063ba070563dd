"""Telegram end to end: a real server, the real widget protocol, the fake Bot API."""

from __future__ import annotations

import httpx

from pocketping_testkit.bridges import TelegramSetup
from pocketping_testkit.widget_client import WidgetClient

PAGE = {"url": "https://shop.example.com/pricing?plan=pro", "language": "fr-FR", "timezone": "Europe/Paris"}
CHROME = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/131.0 Safari/537.36")


async def visitor(server, project, **kw) -> WidgetClient:
    w = await WidgetClient.connect(server.ws_url, project.public_key, metadata=kw.pop("metadata", PAGE),
                                   user_agent=CHROME, **kw)
    await w.synced()
    return w


async def test_visitor_message_opens_a_topic_with_a_card(server, project, telegram: TelegramSetup):
    w = await visitor(server, project)
    ack = await w.say("Hello <b>team</b> & friends > all")
    post = await telegram.wait_post("Hello")
    topic = telegram.topic()
    assert "/pricing" in topic.name and "Visitor" in topic.name
    texts = telegram.texts(topic.id)
    assert len(texts) == 2  # the card first, then the message
    card = texts[0]
    assert "Page: https://shop.example.com/pricing?plan=pro" in card
    assert "Chrome" in card and "fr-FR" in card and "Europe/Paris" in card
    assert post.thread_id == topic.id
    assert post.text.endswith(": Hello <b>team</b> & friends > all")  # shown literally
    assert "&lt;b&gt;team&lt;/b&gt; &amp; friends &gt; all" in post.source  # escaped for parse_mode=HTML
    delivered = await w.expect("delivered")
    assert delivered["seq"] == ack["seq"]
    await w.close()


async def test_reply_in_the_topic_reaches_the_visitor(server, project, telegram: TelegramSetup):
    w = await visitor(server, project)
    assert w.welcome["online"] is False
    await w.say("Is anyone there?")
    await telegram.wait_post("anyone there")
    telegram.fake.operator_says(telegram.chat_id, telegram.topic().id, "Yes! How can I help?")
    frame = await w.expect("message", sender="operator")
    message = frame["message"]
    assert message["text"] == "Yes! How can I help?"
    assert message["operatorName"] == "Sarah Lee"
    assert message["source"] == "telegram"
    presence = await w.expect("presence")
    assert presence["online"] is True
    await w.close()


async def test_returning_visitor_lands_in_the_same_topic(server, project, telegram: TelegramSetup):
    w = await visitor(server, project)
    await w.say("first visit")
    await telegram.wait_post("first visit")
    token = w.token
    await w.close()
    again = await visitor(server, project, token=token, metadata={"url": "https://shop.example.com/checkout"})
    await again.say("back again")
    post = await telegram.wait_post("back again")
    assert len(telegram.topics()) == 1
    assert post.thread_id == telegram.topic().id
    await again.close()


async def test_page_views_and_early_replies_open_no_topic(server, project, telegram: TelegramSetup,
                                                         api: httpx.AsyncClient):
    w = await visitor(server, project)
    r = await api.post(f"/api/v1/sessions/{w.session_id}/messages", headers=project.auth,
                       json={"text": "Welcome! (proactive)", "operatorName": "Bot"})
    assert r.status_code == 201
    await w.say("now I write")
    await telegram.wait_post("now I write")
    assert not any("proactive" in t for t in telegram.texts())
    assert len(telegram.topics()) == 1
    await w.close()


async def test_operator_messages_from_elsewhere_are_mirrored_never_echoed(server, project, telegram: TelegramSetup,
                                                                          api: httpx.AsyncClient):
    w = await visitor(server, project)
    await w.say("question")
    await telegram.wait_post("question")
    topic = telegram.topic()
    r = await api.post(f"/api/v1/sessions/{w.session_id}/messages", headers=project.auth,
                       json={"text": "from the API", "operatorName": "Max"})
    assert r.status_code == 201
    await telegram.wait_post("Max (via API): from the API")
    telegram.fake.operator_says(telegram.chat_id, topic.id, "typed in Telegram")
    await w.expect("message", text="typed in Telegram")
    await w.say("thanks")
    await telegram.wait_post("thanks")
    assert not any("typed in Telegram" in t for t in telegram.texts()), "a Telegram reply was echoed back"
    await w.close()


async def test_bots_service_messages_and_the_general_topic_are_ignored(server, project, telegram: TelegramSetup):
    w = await visitor(server, project)
    # A fragment no card can contain: the card is posted before the topic's mapping is stored,
    # and a reply injected before that would not find its conversation (yet).
    await w.say("my order is late")
    await telegram.wait_post("my order is late")
    topic = telegram.topic()
    bot_user = {"id": 42, "is_bot": True, "first_name": "OtherBot"}
    chat = {"id": telegram.chat_id, "type": "supergroup", "title": "Support", "is_forum": True}
    telegram.fake.inject_update(telegram.token, {"message": {
        "message_id": 9001, "from": bot_user, "chat": chat, "date": 1, "message_thread_id": topic.id,
        "is_topic_message": True, "text": "a bot talking"}})
    telegram.fake.operator_says(telegram.chat_id, None, "in the General topic")
    photo = {"message_id": 9002, "from": {"id": 8, "is_bot": False, "first_name": "Sarah"}, "chat": chat,
             "date": 1, "message_thread_id": topic.id, "is_topic_message": True,
             "photo": [{"file_id": "x", "file_unique_id": "y", "width": 1, "height": 1}], "caption": "see photo"}
    telegram.fake.inject_update(telegram.token, {"message": photo})  # the caption reaches the visitor
    assert (await w.expect("message", sender="operator"))["message"]["text"] == "see photo"
    telegram.fake.operator_says(telegram.chat_id, topic.id, "the real answer")
    frame = await w.expect("message", sender="operator")
    assert frame["message"]["text"] == "the real answer"
    await w.close()


async def test_repeated_updates_store_one_reply_and_a_second_poller_is_survived(server, project,
                                                                                telegram: TelegramSetup):
    from pocketping.actions.bridges import get_bridge
    from pocketping_testkit.waiting import eventually

    w = await visitor(server, project)
    await w.say("hello")
    await telegram.wait_post("hello")
    topic = telegram.topic().id
    chat = {"id": telegram.chat_id, "type": "supergroup", "title": "Support", "is_forum": True}
    message = {"message_id": 424242, "from": {"id": 5, "is_bot": False, "first_name": "Ana"}, "chat": chat,
               "date": 1, "message_thread_id": topic, "is_topic_message": True, "text": "only once"}
    telegram.fake.inject_update(telegram.token, {"message": message})
    telegram.fake.inject_update(telegram.token, {"message": message})  # Telegram sent it again
    first = await w.expect("message", sender="operator")
    assert first["message"]["text"] == "only once"
    # Another program polls the same bot: Telegram answers our poll with 409. We say so, and go on.
    await telegram.fake.wait_for(lambda: telegram.fake.bots[telegram.token].poller is not None)
    async with httpx.AsyncClient(timeout=10) as http:
        await http.post(f"{telegram.fake.url}/bot{telegram.token}/getUpdates", json={"timeout": 1})
    record = await eventually(lambda: (b := server.call(get_bridge(server.services, project.id, telegram.bridge_id)))
                              .status_detail and "another program" in b.status_detail and b)
    assert record.status == "error"
    telegram.fake.operator_says(telegram.chat_id, topic, "still flowing")
    second = await w.expect("message", sender="operator")
    assert second["message"]["text"] == "still flowing"  # and not "only once" a second time
    await eventually(lambda: server.call(get_bridge(server.services, project.id, telegram.bridge_id)).status
                     == "active")
    await w.close()
