"""Telegram misbehaving: 429 with retry_after, a 60-second outage, a forged webhook, a
server killed in the middle of a delivery. Fake time (FakeClock) where timers matter."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from pocketping.actions.bridges import add_bridge
from pocketping.actions.projects import create_project
from pocketping.clock import FakeClock
from pocketping.crypto import generate_key
from pocketping.store import outbox as outbox_repo
from pocketping.wiring import build_services
from pocketping_testkit.bridges import TelegramSetup, advance_until, connect_telegram
from pocketping_testkit.fakes.telegram import FakeTelegram
from pocketping_testkit.process import ServerProcess
from pocketping_testkit.server import ServerThread, free_port, make_settings
from pocketping_testkit.waiting import eventually
from pocketping_testkit.widget_client import WidgetClient


async def open_chat(srv: ServerThread, fake: FakeTelegram,
                    first: str = "hello") -> tuple[WidgetClient, TelegramSetup]:
    project, _ = srv.call(create_project(srv.services, "Resilience", []))
    tg = connect_telegram(fake, srv, project.id)
    w = await WidgetClient.connect(srv.ws_url, project.public_key)
    await w.synced()
    await w.say(first)
    await tg.wait_post(first)
    return w, tg


async def test_429_retry_after_is_honoured(make_server, fake_telegram: FakeTelegram):
    clock = FakeClock()
    srv = make_server(clock=clock, telegram_api_url=fake_telegram.url)
    w, tg = await open_chat(srv, fake_telegram)
    sent = len(fake_telegram.calls(tg.token, "sendMessage"))
    fake_telegram.fail_next(tg.token, "sendMessage", 429, retry_after=30)
    await w.say("second")
    # (Pacing: after the burst that opened the topic, the next message waits its second.)
    await advance_until(clock, lambda: len(fake_telegram.calls(tg.token, "sendMessage")) == sent + 1,
                        fake=fake_telegram, step=0.5, limit_seconds=5)

    async def pending() -> list:
        async with srv.services.db.read() as tx:
            return await outbox_repo.list_items(tx, target_id=tg.bridge_id, status="pending")

    rows = await eventually(lambda: [r for r in srv.call(pending()) if r.last_error])
    assert len(rows) == 1 and "429" in (rows[0].last_error or "")
    # Exactly what Telegram asked for, plus at most a second of jitter.
    assert 29.4 <= (rows[0].next_attempt_at - clock.now()).total_seconds() <= 31.1
    # Nothing is tried again before the 30 seconds Telegram asked for ...
    calls = lambda: len(fake_telegram.calls(tg.token, "sendMessage"))  # noqa: E731
    with pytest.raises(TimeoutError):
        await advance_until(clock, lambda: calls() > sent + 1, fake=fake_telegram, settle=0.05, limit_seconds=29)
    assert not any("second" in t for t in tg.texts())
    # ... and right after them it goes through, once.
    await advance_until(clock, lambda: any("second" in t for t in tg.texts()), fake=fake_telegram, limit_seconds=5)
    assert calls() == sent + 2
    assert len([t for t in tg.texts() if t.endswith(": second")]) == 1
    await w.close()


async def test_200_messages_during_a_60_second_outage_arrive_in_order_once(make_server, fake_telegram):
    clock = FakeClock()
    srv = make_server(clock=clock, telegram_api_url=fake_telegram.url)
    w, tg = await open_chat(srv, fake_telegram, "before the outage")
    fake_telegram.set_outage(tg.token, True)
    texts = [f"message {i:03d}" for i in range(200)]
    for text in texts:
        ack = await w.say(text)
        assert ack["duplicate"] is False  # acknowledged: stored, its delivery queued with it
    for _ in range(12):  # a minute of fake time: every attempt meets the outage and backs off
        clock.advance(5)
        await advance_until(clock, lambda: True)
    assert not any("message 000" in t for t in tg.texts())
    fake_telegram.set_outage(tg.token, False)

    def arrived() -> list[str]:
        return [t.split(": ", 1)[1] for t in tg.texts() if ": message " in t]

    spent = await advance_until(clock, lambda: len(arrived()) >= 200, fake=fake_telegram, step=3.0,
                                limit_seconds=3 * 3600)
    assert arrived() == texts  # all of them, in order, once each
    assert len(tg.topics()) == 1
    # Telegram's limit (20 a minute in a group) was respected: 200 messages need 10 minutes.
    assert spent >= 9 * 60
    await w.close()


@pytest.fixture
def webhook_server(tmp_path: Path, fake_telegram: FakeTelegram):
    port = free_port()
    settings = make_settings(f"sqlite:///{tmp_path / 'hook.db'}", str(tmp_path / "data"),
                             telegram_api_url=fake_telegram.url, public_url=f"http://127.0.0.1:{port}")
    srv = ServerThread(settings, port=port).start()
    yield srv
    srv.stop()


async def test_webhook_mode_verifies_every_call(webhook_server: ServerThread, fake_telegram: FakeTelegram):
    srv = webhook_server
    project, _ = srv.call(create_project(srv.services, "Hooks", []))
    tg = connect_telegram(fake_telegram, srv, project.id)
    url = f"{srv.base_url}/bridges/telegram/{tg.bridge_id}"
    await fake_telegram.wait_for(lambda: (fake_telegram.bots[tg.token].webhook or {}).get("url") == url)
    secret = fake_telegram.bots[tg.token].webhook["secret_token"]
    assert secret and len(secret) >= 32
    w = await WidgetClient.connect(srv.ws_url, project.public_key)
    await w.synced()
    await w.say("hello over a webhook")
    await tg.wait_post("hello over a webhook")
    topic = tg.topic().id
    forged = {"update_id": 10**9, "message": {
        "message_id": 555, "from": {"id": 1, "is_bot": False, "first_name": "Mallory"},
        "chat": {"id": tg.chat_id, "type": "supergroup", "title": "Support", "is_forum": True}, "date": 1,
        "message_thread_id": topic, "is_topic_message": True, "text": "forged reply"}}
    async with httpx.AsyncClient() as http:
        for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"},
                        {"X-Telegram-Bot-Api-Secret-Token": secret[:-1]}):
            r = await http.post(url, json=forged, headers=headers)
            assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_secret_token"
        r = await http.post(f"{srv.base_url}/bridges/telegram/brg_doesnotexist", json=forged,
                            headers={"X-Telegram-Bot-Api-Secret-Token": secret})
        assert r.status_code == 404
    # A real reply, delivered by Telegram's webhook call, gets through; the forged one never did.
    fake_telegram.operator_says(tg.chat_id, topic, "genuine reply")
    frame = await w.expect("message", sender="operator")
    assert frame["message"]["text"] == "genuine reply"
    await fake_telegram.wait_for(lambda: not fake_telegram.bots[tg.token].updates)  # acknowledged with a 2xx
    assert not fake_telegram.calls(tg.token, "getUpdates")  # webhook mode never polls
    await w.close()


async def test_a_server_killed_mid_delivery_posts_nothing_twice_and_loses_nothing(tmp_path: Path,
                                                                                  fake_telegram: FakeTelegram):
    url = f"sqlite:///{tmp_path / 'kill.db'}"
    key = generate_key()
    env = {"POCKETPING_TELEGRAM_API_URL": fake_telegram.url, "POCKETPING_OUTBOX_LEASE_SECONDS": "1",
           "POCKETPING_MAX_TEXT_CHARS": "10000", "POCKETPING_CONFIG_POLL_SECONDS": "0.5"}
    token = fake_telegram.add_bot()
    chat = fake_telegram.add_forum(token)
    svc = build_services(make_settings(url, str(tmp_path / "data"), encryption_key=key))
    await svc.db.migrate()
    project, _ = await create_project(svc, "Kill", [])
    await add_bridge(svc, project.id, "telegram", {"bot_token": token, "chat_id": str(chat)})
    await svc.db.dispose()

    long_text = " ".join(f"word{i:04d}" for i in range(1000))  # 9,000 characters: three Telegram messages
    first = ServerProcess(url, tmp_path / "data", encryption_key=key, env=env).start()
    try:
        w = await WidgetClient.connect(first.ws_url, project.public_key)
        await w.synced()
        await w.say("before")
        await fake_telegram.wait_for(lambda: any("before" in m.text for m in fake_telegram.posts(chat)))
        # The first part of the long message goes through; the second is in flight when the server dies.
        fake_telegram.hold(token, "sendMessage", after=1)
        await w.say(long_text)
        await w.say("after")
        await fake_telegram.wait_for(lambda: fake_telegram.held_count(token) == 1)
        first.kill()
        await w.close()
    finally:
        first.kill()
    fake_telegram.release(token, commit=False)  # Telegram never got the held call
    posted_before_restart = [m.text for m in fake_telegram.posts(chat)]
    assert any("word0000" in t for t in posted_before_restart)

    second = ServerProcess(url, tmp_path / "data", encryption_key=key, env=env).start()
    try:
        await fake_telegram.wait_for(lambda: any(m.text.endswith(": after") for m in fake_telegram.posts(chat)),
                                     timeout=30)
    finally:
        second.stop()
    topics = fake_telegram.topics(chat)
    assert len(topics) == 1
    texts = [m.text for m in fake_telegram.posts(chat, topics[0].id)][1:]  # after the card
    assert texts[0].endswith(": before") and texts[-1].endswith(": after")
    parts = [t.split(": ", 1)[1] if i == 0 else t for i, t in enumerate(texts[1:-1])]
    parts = [t.split(": ", 1)[1] for t in texts[1:-1]]
    assert len(parts) == 3, texts  # each part once: the first was not posted again
    assert " ".join(parts).split() == long_text.split()
