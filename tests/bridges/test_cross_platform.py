"""One conversation, several platforms: what the visitor writes appears in every thread; a
reply from any platform reaches the visitor and the other platforms, never its own."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from pocketping.actions.bridges import add_bridge
from pocketping.actions.projects import create_project
from pocketping.relay.doctor import examine
from pocketping_testkit.bridges import TelegramSetup, connect_telegram
from pocketping_testkit.fakes.discord import FakeDiscord
from pocketping_testkit.fakes.slack import FakeSlack
from pocketping_testkit.fakes.telegram import FakeTelegram
from pocketping_testkit.widget_client import WidgetClient


@pytest.fixture
def fake_discord() -> Iterator[FakeDiscord]:
    with FakeDiscord() as fake:
        yield fake


def discord_thread_texts(discord: FakeDiscord, channel: str) -> list[str]:
    """Every bot message of the (only) thread opened in ``channel``."""
    threads = discord.threads(channel)
    return discord.bot_messages(threads[0]["id"]) if threads else []


def slack_texts(slack: FakeSlack, channel: str) -> list[str]:
    """The card and every reply of the (only) thread in ``channel``, as Slack would show them."""
    parents = slack.top_level(channel)
    if not parents:
        return []
    return [str(parents[0].get("text", ""))] + [str(m.get("text", "")) for m in
                                                 slack.replies(channel, parents[0]["ts"])]


async def connect_three(srv, project_id: str, fake_telegram: FakeTelegram, fake_discord: FakeDiscord,
                        fake_slack: FakeSlack) -> tuple[TelegramSetup, str, str]:
    """A Telegram, a Discord and a Slack bridge on the project, all three running; the
    Telegram setup, the Discord channel and the Slack channel."""
    tg = connect_telegram(fake_telegram, srv, project_id)
    channel = fake_discord.add_channel("support")
    srv.call(add_bridge(srv.services, project_id, "discord", {"bot_token": fake_discord.token,
                                                               "channel_id": channel}))
    app = fake_slack.create_app(socket_mode=True)
    slack_channel = fake_slack.create_channel(members=[app.bot_user_id]).id
    srv.call(add_bridge(srv.services, project_id, "slack", {"bot_token": app.bot_token, "channel_id": slack_channel,
                                                             "app_token": app.app_token}))
    srv.call(srv.bridges.sync())
    await fake_discord.wait_until(lambda: fake_discord.gateway.identifies >= 1, what="the gateway identify")
    await fake_slack.wait_socket(app)
    return tg, channel, slack_channel


async def test_one_conversation_on_telegram_discord_and_slack(make_server, fake_telegram: FakeTelegram,
                                                              fake_discord: FakeDiscord, fake_slack: FakeSlack):
    srv = make_server(telegram_api_url=fake_telegram.url, discord_api_url=fake_discord.api_url,
                      slack_api_url=fake_slack.api_url)
    project, secret = srv.call(create_project(srv.services, "Everywhere", []))
    project_auth = {"Authorization": f"Bearer {secret}"}
    tg, channel, slack_channel = await connect_three(srv, project.id, fake_telegram, fake_discord, fake_slack)

    def in_slack(fragment: str) -> bool:
        return any(fragment in t for t in slack_texts(fake_slack, slack_channel))

    w = await WidgetClient.connect(srv.ws_url, project.public_key, metadata={"url": "https://shop.example/"})
    await w.synced()
    await w.say("hello @everyone, anyone?")
    await tg.wait_post("hello @everyone")
    await fake_discord.wait_until(lambda: any("hello" in t for t in discord_thread_texts(fake_discord, channel)),
                                  what="the visitor's message in Discord")
    await fake_slack.wait_until(lambda: in_slack("anyone?"), what="the visitor's message in Slack")
    # Mentions typed by a visitor notify no one anywhere.
    assert not any("<!everyone>" in t for t in slack_texts(fake_slack, slack_channel))

    # A reply in Telegram: to the visitor, and into Discord as "Name (via Telegram)".
    first_reply = fake_telegram.operator_says(tg.chat_id, tg.topic().id, "Answer from Telegram")
    assert (await w.expect("message", sender="operator"))["message"]["text"] == "Answer from Telegram"
    await fake_discord.wait_until(lambda: any("Sarah Lee (via Telegram)" in t and "Answer from Telegram" in t
                                              for t in discord_thread_texts(fake_discord, channel)),
                                  what="the Telegram reply in Discord")
    await fake_slack.wait_until(lambda: in_slack("Answer from Telegram") and in_slack("(via Telegram)"),
                                what="the Telegram reply in Slack")

    # Edited in Telegram: the visitor sees the new text; the Discord and Slack copies change in place.
    fake_telegram.operator_edits(tg.chat_id, first_reply, "Answer from Telegram, corrected")
    assert (await w.expect("message_updated"))["message"]["text"] == "Answer from Telegram, corrected"
    await fake_discord.wait_until(lambda: any("(via Telegram)" in t and "Answer from Telegram, corrected" in t
                                              for t in discord_thread_texts(fake_discord, channel)),
                                  what="the Telegram edit in Discord")
    await fake_slack.wait_until(lambda: in_slack("Answer from Telegram, corrected"), what="the Telegram edit in Slack")
    assert sum("Answer from Telegram" in t for t in discord_thread_texts(fake_discord, channel)) == 1
    assert sum("Answer from Telegram" in t for t in slack_texts(fake_slack, slack_channel)) == 1

    # A reply in Discord: to the visitor, and into Telegram as "Name (via Discord)".
    thread = fake_discord.threads(channel)[0]["id"]
    fake_discord.typing_as_user(thread, name="Max")  # the widget shows who is typing
    typing = await w.expect("typing")
    assert typing["sender"] == "operator" and typing["operatorName"] == "Max"
    posted = fake_discord.post_as_user(thread, "Answer from Discord", name="Max")
    frame = await w.expect("message", text="Answer from Discord")
    assert frame["message"]["source"] == "discord" and frame["message"]["operatorName"] == "Max"
    await tg.wait_post("Max (via Discord): Answer from Discord")
    await fake_slack.wait_until(lambda: in_slack("Max (via Discord)"), what="the Discord reply in Slack")
    # Edited in Discord (MESSAGE_UPDATE): the widget and the Telegram and Slack copies, in place.
    fake_discord.edit_as_user(thread, posted["id"], "Answer from Discord, fixed")
    assert (await w.expect("message_updated"))["message"]["text"] == "Answer from Discord, fixed"
    await tg.wait_post("Max (via Discord): Answer from Discord, fixed")
    await fake_slack.wait_until(lambda: in_slack("Answer from Discord, fixed"), what="the Discord edit in Slack")
    assert sum("Answer from Discord" in t for t in tg.texts()) == 1

    # A reply in Slack's thread: to the visitor, and into Telegram and Discord.
    thread_ts = fake_slack.top_level(slack_channel)[0]["ts"]
    said = await fake_slack.operator_reply(slack_channel, thread_ts, "Answer from Slack")
    frame = await w.expect("message", text="Answer from Slack")
    assert frame["message"]["source"] == "slack"
    await tg.wait_post("(via Slack): Answer from Slack")
    await fake_discord.wait_until(lambda: any("(via Slack)" in t and "Answer from Slack" in t
                                              for t in discord_thread_texts(fake_discord, channel)),
                                  what="the Slack reply in Discord")
    # Edited in Slack (message_changed): the widget and the Telegram and Discord copies, in place.
    await fake_slack.operator_edit(slack_channel, said.ts, "Answer from Slack, amended")
    assert (await w.expect("message_updated"))["message"]["text"] == "Answer from Slack, amended"
    await tg.wait_post("(via Slack): Answer from Slack, amended")
    await fake_discord.wait_until(lambda: any("Answer from Slack, amended" in t
                                              for t in discord_thread_texts(fake_discord, channel)),
                                  what="the Slack edit in Discord")
    assert sum("Answer from Slack" in t for t in discord_thread_texts(fake_discord, channel)) == 1
    # Edited over REST: every copy changes in place, none is posted again.
    api = httpx.AsyncClient(base_url=srv.base_url, timeout=20)
    reply = (await api.post(f"/api/v1/sessions/{w.session_id}/messages", headers=project_auth,
                                json={"text": "Answer from the API", "operatorName": "Ana"})).json()
    await tg.wait_post("Answer from the API")
    await fake_slack.wait_until(lambda: in_slack("Answer from the API"), what="the API reply in Slack")
    await fake_discord.wait_until(lambda: any("Answer from the API" in t
                                              for t in discord_thread_texts(fake_discord, channel)),
                                  what="the API reply in Discord")
    r = await api.patch(f"/api/v1/messages/{reply['id']}", headers=project_auth,
                            json={"text": "Answer from the API, v2"})
    assert r.status_code == 200
    await tg.wait_post("Answer from the API, v2")
    await fake_slack.wait_until(lambda: in_slack("Answer from the API, v2"), what="the API edit in Slack")
    await fake_discord.wait_until(lambda: any("Answer from the API, v2" in t
                                              for t in discord_thread_texts(fake_discord, channel)),
                                  what="the API edit in Discord")
    assert sum("Answer from the API" in t for t in tg.texts()) == 1
    assert sum("Answer from the API" in t for t in slack_texts(fake_slack, slack_channel)) == 1
    assert sum("Answer from the API" in t for t in discord_thread_texts(fake_discord, channel)) == 1
    await api.aclose()
    # Withdrawn once mirrored (a deletion before delivery would skip it: that race is not this test's point).
    await fake_slack.operator_delete(slack_channel, said.ts)
    deleted = await w.expect("message_deleted")
    assert deleted["message"]["id"] == frame["message"]["id"] and deleted["message"]["text"] == ""
    # The copies are deleted in place (no line tells of it).
    await tg.fake.wait_for(lambda: not any("Answer from Slack" in t for t in tg.texts()))
    await fake_discord.wait_until(lambda: not any("Answer from Slack" in t
                                                  for t in discord_thread_texts(fake_discord, channel)),
                                  what="the Slack withdrawal in Discord")

    # The visitor again: everywhere; and nothing was ever echoed to the platform it came from.
    await w.say("thanks all")
    await tg.wait_post("thanks all")
    await fake_discord.wait_until(lambda: any("thanks all" in t for t in discord_thread_texts(fake_discord, channel)),
                                  what="the last visitor message in Discord")
    await fake_slack.wait_until(lambda: in_slack("thanks all"), what="the last visitor message in Slack")
    assert not any("(via Telegram)" in t for t in tg.texts())
    assert not any("(via Discord)" in t for t in discord_thread_texts(fake_discord, channel))
    assert not in_slack("(via Slack)") and not in_slack("withdrew")
    assert not any("withdrew" in t for t in tg.texts() + discord_thread_texts(fake_discord, channel))
    assert not any("edited a reply" in t for t in tg.texts())
    assert len(tg.topics()) == 1 and len(fake_discord.threads(channel)) == 1
    assert len(fake_slack.top_level(slack_channel)) == 1
    # pocketping doctor checks all three for real.
    report = srv.call(examine(srv.services.db, srv.node.edges.make_bridge, project.id))
    assert sorted(b["type"] for b in report["bridges"]) == ["discord", "slack", "telegram"]
    assert report["ok"], report
    await w.close()
