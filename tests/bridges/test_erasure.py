"""Erasure reaches every copy (docs/erasure.md): after an erase, the Telegram topic, the Discord
thread and the Slack messages and card of that visitor are gone from the fakes, the other
visitors' threads are untouched, the status lists each platform's outcome (and what a platform
kept, with why), and a platform that is down during the erase is retried until it is done."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from typer.testing import CliRunner

from pocketping.actions.projects import create_project
from pocketping.clock import FakeClock
from pocketping.wiring import cli_app
from pocketping_testkit.bridges import advance_until, connect_telegram
from pocketping_testkit.fakes.discord import FakeDiscord
from pocketping_testkit.fakes.slack import FakeSlack
from pocketping_testkit.fakes.telegram import FakeTelegram
from pocketping_testkit.server import ServerThread
from pocketping_testkit.slack_bridge import slack_bridge
from pocketping_testkit.widget_client import WidgetClient

from .test_cross_platform import connect_three, fake_discord  # noqa: F401  (a fixture)


async def cli(srv: ServerThread, *args: str) -> Any:
    """``pocketping ARGS --json`` against the server's database (off the test's event loop)."""
    settings = srv.services.settings
    env = {"POCKETPING_DATABASE_URL": settings.database_url, "POCKETPING_DATA_DIR": str(settings.data_dir),
           "POCKETPING_ENCRYPTION_KEY": settings.encryption_key.get_secret_value()}
    result = await asyncio.to_thread(CliRunner().invoke, cli_app(), [*args, "--json"], env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def slack_live_texts(slack: FakeSlack, channel: str) -> list[str]:
    texts = []
    for parent in slack.top_level(channel):
        texts.append(str(parent.get("text", "")))
        texts.extend(str(m.get("text", "")) for m in slack.replies(channel, parent["ts"]))
    return texts


async def test_an_erase_deletes_the_visitors_topic_thread_and_messages_everywhere(
        make_server, fresh_db, fake_telegram: FakeTelegram, fake_discord: FakeDiscord,  # noqa: F811
        fake_slack: FakeSlack):
    srv = make_server(database_url=fresh_db.url, telegram_api_url=fake_telegram.url,
                      discord_api_url=fake_discord.api_url, slack_api_url=fake_slack.api_url)
    project, secret = srv.call(create_project(srv.services, "Erasure", []))
    auth = {"Authorization": f"Bearer {secret}"}
    tg, channel, slack_channel = await connect_three(srv, project.id, fake_telegram, fake_discord, fake_slack)

    gone = await WidgetClient.connect(srv.ws_url, project.public_key)
    await gone.synced()
    await gone.say("please forget me: 555-0100")
    kept = await WidgetClient.connect(srv.ws_url, project.public_key)
    await kept.synced()
    await kept.say("keep my question")
    for fragment in ("555-0100", "keep my question"):
        await tg.wait_post(fragment)
        await fake_discord.wait_until(lambda f=fragment: any(  # type: ignore[misc]
            f in m["content"] for t in fake_discord.threads(channel) for m in fake_discord.messages(t["id"])),
            what=f"{fragment!r} in Discord")
        await fake_slack.wait_until(lambda f=fragment: any(f in t for t in slack_live_texts(fake_slack, slack_channel)),
                                    what=f"{fragment!r} in Slack")
    # An operator answers in Slack: the bot cannot delete a person's message (Slack keeps it, reported).
    card = next(p for p in fake_slack.top_level(slack_channel) if "555-0100" in json.dumps(
        fake_slack.replies(slack_channel, p["ts"])))
    await fake_slack.operator_reply(slack_channel, card["ts"], "We will call you back")
    await gone.expect("message", text="We will call you back")
    await tg.wait_post("We will call you back")
    await srv.acall(srv.node.outbox.wait_idle())
    assert len(tg.live_topics()) == 2 and len(fake_discord.threads(channel)) == 2
    assert len(fake_slack.top_level(slack_channel)) == 2

    async with httpx.AsyncClient(base_url=srv.base_url, headers=auth) as api:
        answer = await api.post(f"/api/v1/visitors/{gone.welcome['visitorId']}/erase")
        assert answer.status_code == 200, answer.text
        erased = answer.json()
        assert erased["deleted"] == {"sessions": 1, "messages": 2} and erased["eraseId"].startswith("era_")
        await srv.acall(srv.node.outbox.wait_idle())
        status = (await api.get(f"/api/v1/erasures/{erased['eraseId']}")).json()
        other = await api.get("/api/v1/erasures/era_unknown")
        assert other.status_code == 404 and other.json()["error"]["code"] == "erasure_not_found"

    # The fakes hold nothing of that visitor; the other visitor's threads are untouched.
    assert not any("555-0100" in m.text or "call you back" in m.text for m in tg.posts())
    assert len(tg.live_topics()) == 1 and any("keep my question" in t for t in tg.texts())
    threads = fake_discord.threads(channel)
    assert len(threads) == 1
    assert any("keep my question" in m["content"] for m in fake_discord.messages(threads[0]["id"]))
    assert not any("555-0100" in m["content"] or "call you back" in m["content"]
                   for t in fake_discord.deleted for m in fake_discord.messages(t))
    texts = slack_live_texts(fake_slack, slack_channel)
    assert not any("555-0100" in t for t in texts) and any("keep my question" in t for t in texts)
    assert len([p for p in fake_slack.top_level(slack_channel) if p.get("bot_id")]) == 1  # the erased card is gone
    # Not even the fakes' own records keep it (deleted means gone, as on the platforms).
    assert not any("555-0100" in m.text or "555-0100" in m.source for m in fake_telegram.chats[tg.chat_id].messages)
    assert not any("555-0100" in json.dumps(m) for m in fake_slack.channels[slack_channel].messages)
    assert not any("555-0100" in json.dumps(m) for ms in fake_discord._messages.values() for m in ms)

    by_target = {p["target"]: p for p in status["platforms"]}
    assert set(by_target) == {"telegram", "discord", "slack", "files"}
    assert (by_target["telegram"]["status"], by_target["telegram"]["deleted"]) == ("done", {"topics": 1})
    assert (by_target["discord"]["status"], by_target["discord"]["deleted"]) == ("done", {"threads": 1})
    slack = by_target["slack"]
    assert slack["status"] == "partial" and slack["deleted"] == {"messages": 2}  # the card and the visitor's line
    assert slack["kept"] == ["1 message(s): Slack refused to delete the message: cant_delete_message"]
    assert status["status"] == "incomplete" and status["deleted"] == {"sessions": 1, "messages": 2}
    # The CLI shows the same; the platform ids to delete are gone from the outbox once done.
    shown = await cli(srv, "erase", "--status", erased["eraseId"])
    assert [(p["target"], p["status"]) for p in shown["platforms"]] == [
        (p["target"], p["status"]) for p in status["platforms"]]
    rows = srv.call(_erase_rows(srv))
    assert rows and all(payload == {} for payload in rows)
    await gone.close()
    await kept.close()


async def _erase_rows(srv: ServerThread) -> list[dict[str, Any]]:
    from pocketping.store import outbox as outbox_repo

    async with srv.services.db.read() as tx:
        return [i.payload for i in await outbox_repo.list_items(tx, target="erase")]


async def test_a_platform_down_during_the_erase_is_retried_until_the_topic_is_gone(make_server, fresh_db,
                                                                                    fake_telegram: FakeTelegram):
    clock = FakeClock()
    srv = make_server(database_url=fresh_db.url, clock=clock, telegram_api_url=fake_telegram.url)
    project, secret = srv.call(create_project(srv.services, "Outage", []))
    tg = connect_telegram(fake_telegram, srv, project.id)
    w = await WidgetClient.connect(srv.ws_url, project.public_key)
    await w.synced()
    await w.say("erase me while Telegram is down")
    await tg.wait_post("erase me")
    topic = tg.topic().id
    fake_telegram.set_outage(tg.token, True)
    async with httpx.AsyncClient(base_url=srv.base_url, headers={"Authorization": f"Bearer {secret}"}) as api:
        erased = (await api.delete(f"/api/v1/sessions/{w.session_id}")).json()
        assert erased["deleted"] == {"sessions": 1, "messages": 1}
        erase_id = erased["eraseId"]
        await advance_until(clock, lambda: bool(fake_telegram.calls(tg.token, "deleteForumTopic")), fake=fake_telegram,
                            limit_seconds=30)
        await srv.acall(srv.node.outbox.wait_idle())
        status = (await api.get(f"/api/v1/erasures/{erase_id}")).json()
        telegram = next(p for p in status["platforms"] if p["target"] == "telegram")
        assert telegram["status"] == "pending" and telegram["attempts"] >= 1 and "502" in telegram["error"]
        assert status["status"] == "pending"
        assert any(t.id == topic for t in tg.topics())  # still there: Telegram is down

        fake_telegram.set_outage(tg.token, False)
        await advance_until(clock, lambda: not any(t.id == topic for t in tg.topics()), fake=fake_telegram,
                            step=2.0, limit_seconds=120)
        await srv.acall(srv.node.outbox.wait_idle())
        status = (await api.get(f"/api/v1/erasures/{erase_id}")).json()
    telegram = next(p for p in status["platforms"] if p["target"] == "telegram")
    assert (telegram["status"], telegram["deleted"], telegram["kept"]) == ("done", {"topics": 1}, [])
    assert status["status"] == "done"
    assert not any("erase me" in t for t in tg.texts())
    assert len(fake_telegram.calls(tg.token, "deleteForumTopic")) >= 2
    await w.close()


async def test_a_refusal_is_recorded_with_its_reason_and_not_retried(make_server, fake_discord: FakeDiscord):  # noqa: F811
    from pocketping.actions.bridges import add_bridge
    from pocketping_testkit.fakes.discord import BRIDGE_PERMISSIONS, MANAGE_THREADS

    srv = make_server(discord_api_url=fake_discord.api_url)
    project, secret = srv.call(create_project(srv.services, "Refusal", []))
    channel = fake_discord.add_channel("support")
    srv.call(add_bridge(srv.services, project.id, "discord", {"bot_token": fake_discord.token, "channel_id": channel}))
    srv.call(srv.bridges.sync())
    w = await WidgetClient.connect(srv.ws_url, project.public_key)
    await w.synced()
    await w.say("a thread the bot may not delete")
    await fake_discord.wait_until(lambda: any("may not delete" in m["content"] for t in fake_discord.threads(channel)
                                              for m in fake_discord.messages(t["id"])), what="the visitor's message")
    fake_discord.set_bot_permissions(BRIDGE_PERMISSIONS & ~MANAGE_THREADS)  # someone took Manage Threads away
    async with httpx.AsyncClient(base_url=srv.base_url, headers={"Authorization": f"Bearer {secret}"}) as api:
        erase_id = (await api.delete(f"/api/v1/sessions/{w.session_id}")).json()["eraseId"]
        await srv.acall(srv.node.outbox.wait_idle())
        status = (await api.get(f"/api/v1/erasures/{erase_id}")).json()
    discord = next(p for p in status["platforms"] if p["target"] == "discord")
    assert discord["status"] == "failed" and discord["deleted"] == {}
    assert len(discord["kept"]) == 1 and "Manage Threads" in discord["kept"][0]
    assert status["status"] == "incomplete"
    assert len(fake_discord.calls("DELETE", r"^/channels/\d+$")) == 1  # a refusal is not tried again
    assert len(fake_discord.threads(channel)) == 1  # what Discord kept, as reported
    await w.close()


async def test_a_topic_opened_while_the_session_is_erased_is_deleted_too(make_server, fresh_db,
                                                                         fake_telegram: FakeTelegram):
    srv = make_server(database_url=fresh_db.url, telegram_api_url=fake_telegram.url)
    project, secret = srv.call(create_project(srv.services, "Race", []))
    tg = connect_telegram(fake_telegram, srv, project.id)
    fake_telegram.hold(tg.token, "createForumTopic")  # the topic is being created ...
    w = await WidgetClient.connect(srv.ws_url, project.public_key)
    await w.synced()
    await w.say("erased mid-flight")
    await fake_telegram.wait_for(lambda: fake_telegram.held_count(tg.token) == 1)
    async with httpx.AsyncClient(base_url=srv.base_url, headers={"Authorization": f"Bearer {secret}"}) as api:
        assert (await api.delete(f"/api/v1/sessions/{w.session_id}")).status_code == 200  # ... when it is erased
    fake_telegram.release(tg.token)
    await fake_telegram.wait_for(lambda: bool(fake_telegram.calls(tg.token, "deleteForumTopic")))
    await srv.acall(srv.node.outbox.wait_idle())
    assert tg.live_topics() == [] and not any("mid-flight" in t for t in tg.texts())
    await w.close()


async def test_without_the_right_to_delete_the_topic_telegram_deletes_our_messages_one_by_one(
        make_server, fake_telegram: FakeTelegram):
    srv = make_server(telegram_api_url=fake_telegram.url)
    project, secret = srv.call(create_project(srv.services, "No rights", []))
    tg = connect_telegram(fake_telegram, srv, project.id)
    w = await WidgetClient.connect(srv.ws_url, project.public_key)
    await w.synced()
    await w.say("my card number is 4111")
    await tg.wait_post("4111")
    await srv.acall(srv.node.outbox.wait_idle())
    bot_id = fake_telegram.bots[tg.token].user["id"]
    with fake_telegram.lock:
        fake_telegram.chats[tg.chat_id].members[bot_id]["can_manage_topics"] = False  # an admin took the right away
    async with httpx.AsyncClient(base_url=srv.base_url, headers={"Authorization": f"Bearer {secret}"}) as api:
        erase_id = (await api.delete(f"/api/v1/sessions/{w.session_id}")).json()["eraseId"]
        await srv.acall(srv.node.outbox.wait_idle())
        status = (await api.get(f"/api/v1/erasures/{erase_id}")).json()
    telegram = next(p for p in status["platforms"] if p["target"] == "telegram")
    assert telegram["status"] == "partial" and telegram["deleted"] == {"messages": 1}
    assert len(telegram["kept"]) == 1 and "deleteForumTopic" in telegram["kept"][0]
    assert not any("4111" in t for t in tg.texts())  # the visitor's words are gone; the topic stays, reported
    assert len(tg.live_topics()) == 1
    await w.close()


async def test_a_slack_erase_deletes_the_files_we_shared_and_counts_what_it_deleted(make_server, fresh_db,
                                                                                    fake_slack: FakeSlack):
    from tests.bridges.test_files_everywhere import PDF, upload

    server = make_server(database_url=fresh_db.url, slack_api_url=fake_slack.api_url)
    project, secret = server.call(create_project(server.services, "Slack files", []))
    with slack_bridge(server, project, fake_slack) as slack:
        w = await WidgetClient.connect(server.ws_url, project.public_key)
        await w.synced()
        ids = [await upload(server, w, "invoice.pdf", PDF), await upload(server, w, "notes.txt", b"call me\n")]
        await w.send({"type": "message", "clientId": "f1", "text": "see attached", "attachments": ids})
        await w.expect("ack", clientId="f1")
        await w.say("and one more line")
        await slack.wait_reply("one more line")
        await fake_slack.wait_until(lambda: len(fake_slack.files.uploaded(slack.channel.id)) == 2, 20,
                                    what="two files")
        await server.acall(server.node.outbox.wait_idle())
        thread = slack.card()["ts"]
        ours = [thread] + [m["ts"] for m in slack.replies(thread) if m.get("bot_id")]
        shared = [f.id for f in fake_slack.files.uploaded(slack.channel.id)]
        async with httpx.AsyncClient(base_url=server.base_url, headers={"Authorization": f"Bearer {secret}"}) as api:
            erased = (await api.delete(f"/api/v1/sessions/{w.session_id}")).json()
            await server.acall(server.node.outbox.wait_idle())
            status = (await api.get(f"/api/v1/erasures/{erased['eraseId']}")).json()
        [step] = [p for p in status["platforms"] if p["target"] == "slack"]
        # What was deleted, each once: the card and our messages, and the two files (not their
        # ids counted as messages too).
        assert step["status"] == "done" and step["kept"] == [], step
        assert step["deleted"] == {"messages": len(ours), "files": 2}, (step, ours)
        assert sorted(c.params["file"] for c in fake_slack.calls_to("files.delete", slack.app)) == sorted(shared)
        assert fake_slack.files.uploaded(slack.channel.id) == [] and slack.cards() == []
        assert not any(fid in fake_slack.files.files for fid in shared)  # (the fake is shared: other tests' PDFs stay)
        await w.close()
