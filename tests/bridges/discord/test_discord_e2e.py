"""Discord end to end: a real server (every database backend), the real widget protocol,
the fake Discord's REST API and Gateway."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pocketping.actions.bridges import add_bridge
from pocketping.actions.projects import create_project
from pocketping.crypto import generate_key
from pocketping.wiring import build_services
from pocketping_testkit.bridges import DiscordSetup, discord_bridge, telegram_bridge
from pocketping_testkit.fakes.discord import FakeDiscord
from pocketping_testkit.process import ServerProcess
from pocketping_testkit.server import make_settings
from pocketping_testkit.widget_client import WidgetClient

PAGE = {"url": "https://shop.example.com/pricing?plan=pro", "language": "de-DE", "timezone": "Europe/Berlin"}
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


@pytest.fixture
def discord_setup(server, project, fake_discord) -> Iterator[DiscordSetup]:
    with discord_bridge(server, project, fake_discord) as setup:
        yield setup


async def visitor(server, project, **kw) -> WidgetClient:
    w = await WidgetClient.connect(server.ws_url, project.public_key, metadata=kw.pop("metadata", PAGE),
                                   user_agent=FIREFOX, **kw)
    await w.synced()
    return w


async def test_a_visitor_message_appears_in_a_discord_thread(server, project, discord_setup: DiscordSetup):
    w = await visitor(server, project)
    ack = await w.say("Hello, is the **pro** plan monthly?")
    post = await discord_setup.wait_post("monthly")
    thread = discord_setup.thread()
    assert thread["type"] == 11 and "/pricing" in thread["name"]
    card, message = discord_setup.texts(thread["id"])
    assert "https://shop.example.com/pricing?plan=pro" in card and "Firefox" in card and "de-DE" in card
    assert message.endswith(r"Hello, is the \*\*pro\*\* plan monthly?")  # shown literally
    assert post["channel_id"] == thread["id"]
    assert (await w.expect("delivered"))["seq"] == ack["seq"]
    await w.close()


async def test_a_reply_in_the_thread_reaches_the_visitor(server, project, discord_setup: DiscordSetup):
    w = await visitor(server, project)
    await w.say("Anyone there?")
    await discord_setup.wait_post("Anyone there")
    discord_setup.fake.post_as_user(discord_setup.thread()["id"], "Yes, I am!", name="Sarah", nick="Sarah (Support)")
    frame = await w.expect("message", sender="operator")
    message = frame["message"]
    assert message["text"] == "Yes, I am!"
    assert message["operatorName"] == "Sarah (Support)"
    assert message["source"] == "discord"
    await w.close()


async def test_a_returning_visitor_lands_in_the_same_thread(server, project, discord_setup: DiscordSetup):
    w = await visitor(server, project)
    await w.say("first visit")
    await discord_setup.wait_post("first visit")
    token = w.token
    await w.close()
    again = await visitor(server, project, token=token, metadata={"url": "https://shop.example.com/checkout"})
    await again.say("back again")
    post = await discord_setup.wait_post("back again")
    assert len(discord_setup.threads()) == 1
    assert post["channel_id"] == discord_setup.thread()["id"]
    await again.close()


async def test_a_visitor_typing_everyone_pings_nobody(server, project, discord_setup: DiscordSetup):
    w = await visitor(server, project)
    someone = discord_setup.fake.operator("Boss")["id"]
    await w.say(f"@everyone @here <@{someone}> look at this")
    post = await discord_setup.wait_post("look at this")
    assert post["mention_everyone"] is False and post["mentions"] == [] and post["mention_roles"] == []
    sent = [r.body for r in discord_setup.fake.calls("POST", rf"/channels/{post['channel_id']}/messages$")]
    assert sent and all(body["allowed_mentions"] == {"parse": []} for body in sent)
    await w.close()


async def test_a_gateway_drop_resumes_and_loses_no_reply(server, project, discord_setup: DiscordSetup):
    w = await visitor(server, project)
    await w.say("hello")
    await discord_setup.wait_post("hello")
    thread = discord_setup.thread()["id"]
    fake = discord_setup.fake
    resumes = len(fake.gateway.resumes)

    fake.gateway.drop()
    fake.post_as_user(thread, "written while the connection was down")
    frame = await w.expect("message", sender="operator")
    assert frame["message"]["text"] == "written while the connection was down"
    assert len(fake.gateway.resumes) > resumes
    fake.post_as_user(thread, "and after")
    assert (await w.expect("message", sender="operator"))["message"]["text"] == "and after"
    await w.close()


async def test_closing_archives_and_the_visitor_writing_again_unarchives(server, project, api: httpx.AsyncClient,
                                                                         discord_setup: DiscordSetup):
    w = await visitor(server, project)
    await w.say("thanks, bye")
    await discord_setup.wait_post("thanks, bye")
    thread = discord_setup.thread()["id"]
    r = await api.post(f"/api/v1/sessions/{w.session_id}/close", headers=project.auth)
    assert r.status_code == 200
    await discord_setup.fake.wait_until(lambda: discord_setup.fake.thread(thread)["thread_metadata"]["archived"],
                                        what="the thread archived")
    discord_setup.fake.archive_thread(thread, locked=True)  # and a moderator locked it too

    await w.say("one more question")
    await discord_setup.wait_post("one more question")
    meta = discord_setup.fake.thread(thread)["thread_metadata"]
    assert meta["archived"] is False and meta["locked"] is False
    assert len(discord_setup.threads()) == 1
    await w.close()


async def test_a_deleted_thread_is_replaced(server, project, discord_setup: DiscordSetup):
    w = await visitor(server, project)
    await w.say("first")
    await discord_setup.wait_post("first")
    old = discord_setup.thread()["id"]
    discord_setup.fake.delete_thread(old)
    await w.say("second")
    post = await discord_setup.wait_post("second")
    [new] = discord_setup.threads()
    assert new["id"] != old and post["channel_id"] == new["id"]
    await w.close()


async def test_a_forum_channel_gets_one_post_per_conversation(server, project, fake_discord):
    with discord_bridge(server, project, fake_discord, kind="forum") as setup:
        w = await visitor(server, project)
        await w.say("hello forum")
        post = await setup.wait_post("hello forum")
        thread = setup.thread()
        assert post["channel_id"] == thread["id"]
        starter = fake_discord.messages(thread["id"])[0]
        assert starter["id"] == thread["id"] and "New conversation" in starter["content"]
        fake_discord.post_as_user(thread["id"], "answered in the forum")
        assert (await w.expect("message", sender="operator"))["message"]["text"] == "answered in the forum"
        await w.close()


async def test_typing_edits_and_deletions_cross_over(server, project, discord_setup: DiscordSetup):
    w = await visitor(server, project)
    await w.say("question")
    await discord_setup.wait_post("question")
    thread = discord_setup.thread()["id"]
    fake = discord_setup.fake

    await w.send({"type": "typing", "active": True})
    await fake.wait_until(lambda: fake.calls("POST", rf"/channels/{thread}/typing$"), what="the bot typing")

    fake.typing_as_user(thread, name="Sarah")
    typing = await w.expect("typing", sender="operator")
    assert typing["operatorName"] == "Sarah"

    sent = fake.post_as_user(thread, "teh answer", name="Sarah")
    first = (await w.expect("message", sender="operator"))["message"]
    fake.edit_as_user(thread, sent["id"], "the answer")
    updated = await w.expect("message_updated")
    assert updated["message"]["id"] == first["id"] and updated["message"]["text"] == "the answer"
    fake.delete_as_user(thread, sent["id"])
    deleted = await w.expect("message_deleted")
    assert deleted["message"]["id"] == first["id"]
    await w.close()


async def test_a_command_in_the_thread_closes_the_conversation(server, project, api: httpx.AsyncClient,
                                                               discord_setup: DiscordSetup):
    w = await visitor(server, project)
    await w.say("that is all")
    await discord_setup.wait_post("that is all")
    thread = discord_setup.thread()["id"]
    discord_setup.fake.post_as_user(thread, "/close", name="Sarah")
    session = await w.expect("session")
    assert session["status"] == "closed"
    await discord_setup.fake.wait_until(lambda: discord_setup.fake.thread(thread)["thread_metadata"]["archived"],
                                        what="the thread archived")
    r = await api.get(f"/api/v1/sessions/{w.session_id}", headers=project.auth)
    assert r.json()["status"] == "closed"
    await w.close()


async def test_rate_limits_and_outages_delay_but_lose_nothing(server, project, discord_setup: DiscordSetup):
    w = await visitor(server, project)
    await w.say("message 0")
    await discord_setup.wait_post("message 0")
    thread = discord_setup.thread()["id"]
    fake = discord_setup.fake
    fake.fail_next(429, path=rf"/channels/{thread}/messages$", retry_after=0.3)
    fake.fail_next(503, path=rf"/channels/{thread}/messages$")
    for i in range(1, 4):
        await w.say(f"message {i}")
    await discord_setup.wait_post("message 3")
    assert [t.rsplit(" ", 1)[-1] for t in discord_setup.texts(thread)[1:]] == ["0", "1", "2", "3"]
    await w.close()


async def test_a_reply_from_discord_is_mirrored_to_telegram(server, project, discord_setup: DiscordSetup,
                                                            fake_telegram):
    with telegram_bridge(server, project, fake_telegram) as telegram:
        w = await visitor(server, project)
        await w.say("both platforms?")
        await discord_setup.wait_post("both platforms?")
        await telegram.wait_post("both platforms?")
        discord_setup.fake.post_as_user(discord_setup.thread()["id"], "Yes, from Discord", name="Sarah")
        assert (await w.expect("message", sender="operator"))["message"]["text"] == "Yes, from Discord"
        await telegram.wait_post("Sarah (via Discord): Yes, from Discord")
        fake_telegram.operator_says(telegram.chat_id, telegram.topic().id, "And from Telegram")
        await discord_setup.wait_post("And from Telegram")
        assert not any("Yes, from Discord" in t for t in discord_setup.texts()[2:]), "echoed back to Discord"
        await w.close()


async def test_a_server_killed_mid_delivery_posts_nothing_twice_and_loses_nothing(tmp_path: Path,
                                                                                  fake_discord: FakeDiscord):
    url = f"sqlite:///{tmp_path / 'kill.db'}"
    key = generate_key()
    env = {"POCKETPING_DISCORD_API_URL": fake_discord.api_url, "POCKETPING_OUTBOX_LEASE_SECONDS": "1",
           "POCKETPING_MAX_TEXT_CHARS": "10000", "POCKETPING_CONFIG_POLL_SECONDS": "0.5"}
    channel = fake_discord.add_channel("support-kill")
    svc = build_services(make_settings(url, str(tmp_path / "data"), encryption_key=key))
    await svc.db.migrate()
    project, _ = await create_project(svc, "Kill", [])
    await add_bridge(svc, project.id, "discord", {"bot_token": fake_discord.token, "channel_id": channel})
    await svc.db.dispose()

    long_text = " ".join(f"word{i:04d}" for i in range(900))  # 8,100 characters: five Discord messages
    first = ServerProcess(url, tmp_path / "data", encryption_key=key, env=env).start()
    try:
        w = await WidgetClient.connect(first.ws_url, project.public_key)
        await w.synced()
        await w.say("before")
        before = await fake_discord.wait_until(
            lambda: next((m for t in fake_discord.threads(channel) for m in fake_discord.messages(t["id"])
                          if m["content"].endswith(":** before")), None), 20)
        thread = before["channel_id"]
        # The second part is posted by Discord, but the answer is lost: the server dies waiting for it.
        path = rf"/channels/{thread}/messages$"
        fake_discord.hang_next(path=path, after=True, skip=1)
        await w.say(long_text)
        await w.say("after")
        await fake_discord.wait_until(lambda: any(r.status == 504 for r in fake_discord.calls("POST", path)), 20)
        first.kill()
        await w.close()
    finally:
        first.kill()
    fake_discord.post_as_user(thread, "a reply while the server is down")

    second = ServerProcess(url, tmp_path / "data", encryption_key=key, env=env).start()
    try:
        await fake_discord.wait_until(lambda: fake_discord.bot_messages(thread)[-1].endswith(":** after"), 30)
        again = await WidgetClient.connect(second.ws_url, project.public_key, token=w.token)
        history = await again.synced()
        texts = [f["message"]["text"] for f in history if f.get("type") == "message"]
        if "a reply while the server is down" not in texts:
            await again.expect("message", text="a reply while the server is down", timeout=20)
        await again.close()
    finally:
        second.stop()
    assert len(fake_discord.threads(channel)) == 1
    posted = fake_discord.bot_messages(thread)[1:]  # after the card
    assert posted[0].endswith(":** before") and posted[-1].endswith(":** after")
    parts = [p.split(":** ", 1)[1] for p in posted[1:-1]]
    assert len(parts) == 5, posted  # each part once: the one whose answer was lost was not posted again
    assert " ".join(parts).split() == long_text.split()
