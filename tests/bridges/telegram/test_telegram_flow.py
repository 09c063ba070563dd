"""What else reaches a topic (AI answers, notable events, identification), failed deliveries
and their retry, and bridges changed from the CLI while the server runs."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

import orjson

from pocketping.actions.bridges import add_bridge, bridge_status
from pocketping.actions.messages import send_ai_message
from pocketping.actions.projects import create_project, update_project
from pocketping_testkit.bridges import TelegramSetup
from pocketping_testkit.fakes.telegram import FakeTelegram
from pocketping_testkit.server import ServerThread
from pocketping_testkit.waiting import eventually
from pocketping_testkit.widget_client import WidgetClient


async def test_ai_answers_notable_events_and_identification_reach_the_topic(server, project,
                                                                             telegram: TelegramSetup):
    server.call(update_project(server.services, project.id, settings={"notify_events": ["checkout_started"]}))
    w = await WidgetClient.connect(server.ws_url, project.public_key)
    await w.synced()
    await w.send({"type": "event", "name": "checkout_started", "data": {"early": True}, "clientId": "e0"})
    await w.expect("ack", clientId="e0")
    await w.say("I have a question")
    await telegram.wait_post("I have a question")
    server.call(send_ai_message(server.services, project.id, w.session_id, "Here is what I found."))
    await telegram.wait_post("🤖 AI: Here is what I found.")
    await w.send({"type": "event", "name": "page_scrolled", "data": {"depth": 80}, "clientId": "e1"})
    await w.send({"type": "event", "name": "checkout_started", "data": {"plan": "pro", "total": 49},
                  "clientId": "e2"})
    await telegram.wait_post("checkout_started · plan=pro, total=49")
    await w.send({"type": "identify", "id": "user_42", "name": "Ana", "email": "ana@example.com"})
    await telegram.wait_post("Visitor identified as Ana <ana@example.com>")
    await telegram.fake.wait_for(lambda: telegram.topic().name.startswith("Ana"))  # the topic renamed after her
    texts = telegram.texts()
    assert not any("early" in t for t in texts), "an event before the first message opened nothing"
    assert not any("page_scrolled" in t for t in texts), "only the project's notable events are posted"
    await w.close()


async def cli(srv: ServerThread, *args: str) -> tuple[int, Any]:
    """The real ``pocketping`` command, in its own process, on the running server's database."""
    env = {**os.environ, "POCKETPING_DATABASE_URL": srv.settings.database_url,
           "POCKETPING_ENCRYPTION_KEY": srv.settings.encryption_key.get_secret_value(),  # type: ignore[union-attr]
           "POCKETPING_DATA_DIR": str(srv.settings.data_dir)}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "pocketping", *args, "--json", env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, orjson.loads(out) if out.strip() else err.decode()


async def test_bridges_added_and_changed_from_the_cli_take_effect_without_a_restart(make_server,
                                                                                      fake_telegram: FakeTelegram):
    srv = make_server(telegram_api_url=fake_telegram.url, config_poll_seconds=0.5)
    project, _ = srv.call(create_project(srv.services, "Live config", []))
    token = fake_telegram.add_bot()
    first, second = fake_telegram.add_forum(token), fake_telegram.add_forum(token)
    added = srv.call(add_bridge(srv.services, project.id, "telegram", {"bot_token": token, "chat_id": str(first)}))
    # The running server starts receiving for the new bot by itself (its configuration watcher).
    await fake_telegram.wait_for(lambda: bool(fake_telegram.calls(token, "getUpdates")))
    w = await WidgetClient.connect(srv.ws_url, project.public_key)
    await w.synced()
    await w.say("to the first group")
    await fake_telegram.wait_for(lambda: any("first group" in m.text for m in fake_telegram.posts(first)))
    starts = len(fake_telegram.calls(token, "getMe"))
    code, _ = await cli(srv, "bridge", "update", project.id, added.id, f"--chat-id={second}")
    assert code == 0
    await fake_telegram.wait_for(lambda: len(fake_telegram.calls(token, "getMe")) > starts)  # restarted
    await w.say("to the second group")
    await fake_telegram.wait_for(lambda: any("second group" in m.text for m in fake_telegram.posts(second)))
    assert len(fake_telegram.topics(second)) == 1  # a topic of its own there, with the card first
    assert "Reply in this topic" in fake_telegram.posts(second)[0].text
    assert not any("second group" in m.text for m in fake_telegram.posts(first))
    await w.close()


async def test_failed_deliveries_show_in_status_and_are_retried(make_server, fake_telegram: FakeTelegram):
    srv = make_server(telegram_api_url=fake_telegram.url)
    project, _ = srv.call(create_project(srv.services, "Failures", []))
    token = fake_telegram.add_bot()
    chat = fake_telegram.add_forum(token)
    added = srv.call(add_bridge(srv.services, project.id, "telegram", {"bot_token": token, "chat_id": str(chat)}))
    # A request Telegram will never accept as it is: failed at once, not retried for a day.
    fake_telegram.fail_next(token, "createForumTopic", 400, description="Bad Request: can't parse entities: boom")
    w = await WidgetClient.connect(srv.ws_url, project.public_key)
    await w.synced()
    await w.say("will this arrive?")
    await fake_telegram.wait_for(lambda: bool(fake_telegram.calls(token, "createForumTopic")))

    def failed_now() -> list[Any]:
        return [row for status in srv.call(bridge_status(srv.services, project.id)) for row in status.failed]

    await eventually(failed_now)  # written just after Telegram's answer

    code, report = await cli(srv, "bridge", "status", project.id)
    assert code == 0
    rows = report[0]["failedDeliveries"]
    assert rows[0]["action"] == "post" and "can't parse entities" in rows[0]["lastError"]
    assert rows[0]["sessionId"] == w.session_id
    code, retried = await cli(srv, "bridge", "retry", project.id, "--bridge", added.id)
    assert code == 0 and retried == {"retried": 1}
    await fake_telegram.wait_for(lambda: any("will this arrive?" in m.text for m in fake_telegram.posts(chat)))
    assert failed_now() == []
    await w.close()


async def test_bridges_over_rest_reach_only_their_project(server, project, api, make_project, fake_telegram):
    token = fake_telegram.add_bot()
    chat = fake_telegram.add_forum(token)
    r = await api.post("/api/v1/bridges", headers=project.auth,
                       json={"type": "telegram", "botToken": token, "chatId": chat})
    assert r.status_code == 201, r.text
    bridge = r.json()
    assert bridge["type"] == "telegram" and token not in r.text and bridge["config"]["chatId"] == chat
    bad = await api.post("/api/v1/bridges", headers=project.auth, json={"type": "telegram", "botToken": "nope"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_bridge_config"
    listed = (await api.get("/api/v1/bridges", headers=project.auth)).json()["bridges"]
    assert [b["id"] for b in listed] == [bridge["id"]] and token not in str(listed)
    check = await api.post(f"/api/v1/bridges/{bridge['id']}/check", headers=project.auth)
    assert check.status_code == 200 and check.json()["ok"] is True, check.text
    other = make_project()
    for method, path in (("GET", ""), ("PATCH", ""), ("DELETE", ""), ("POST", "/check")):
        r = await api.request(method, f"/api/v1/bridges/{bridge['id']}{path}", headers=other.auth,
                              json={} if method == "PATCH" else None)
        assert r.status_code == 404, (method, path, r.text)
    assert (await api.get("/api/v1/bridges", headers=other.auth)).json() == {"bridges": []}
    status = (await api.get("/api/v1/bridges/status", headers=project.auth)).json()["bridges"]
    assert status[0]["id"] == bridge["id"] and status[0]["failedDeliveries"] == []
    assert (await api.post("/api/v1/bridges/retry", headers=project.auth, json={})).json() == {"retried": 0}
    removed = await api.delete(f"/api/v1/bridges/{bridge['id']}", headers=project.auth)
    assert removed.json() == {"id": bridge["id"], "type": "telegram", "removed": True}
