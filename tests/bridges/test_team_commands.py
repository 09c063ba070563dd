"""/assign, /r and /note from Telegram, Discord and Slack threads (Slack: !assign, !r, !note),
and internal notes never reaching the widget (live or replayed)."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest

from pocketping.actions.operators import add_operator
from pocketping.actions.projects import create_project
from pocketping.actions.replies import add_reply
from pocketping_testkit.fakes.discord import FakeDiscord
from pocketping_testkit.fakes.slack import FakeSlack
from pocketping_testkit.fakes.telegram import FakeTelegram
from pocketping_testkit.widget_client import WidgetClient

from .test_cross_platform import connect_three, discord_thread_texts, slack_texts


@pytest.fixture
def fake_discord() -> Iterator[FakeDiscord]:
    with FakeDiscord() as fake:
        yield fake


async def test_assign_saved_replies_and_notes_from_every_platform(make_server, fake_telegram: FakeTelegram,
                                                                  fake_discord: FakeDiscord, fake_slack: FakeSlack):
    srv = make_server(telegram_api_url=fake_telegram.url, discord_api_url=fake_discord.api_url,
                      slack_api_url=fake_slack.api_url)
    project, secret = srv.call(create_project(srv.services, "Team", []))
    for email, name in (("sarah@example.com", "Sarah Lee"), ("max@example.com", "Max")):
        srv.call(add_operator(srv.services, email, project_ids=[project.id], password="a-long-password-123",
                              name=name))
    srv.call(add_reply(srv.services, project.id, "hours", "Hi {name}, we are open 9-17 ({email})."))
    tg, channel, slack_channel = await connect_three(srv, project.id, fake_telegram, fake_discord, fake_slack)

    def in_discord(fragment: str) -> bool:
        return any(fragment in t for t in discord_thread_texts(fake_discord, channel))

    def in_slack(fragment: str) -> bool:
        return any(fragment in t for t in slack_texts(fake_slack, slack_channel))

    w = await WidgetClient.connect(srv.ws_url, project.public_key)
    await w.synced()
    await w.send({"type": "identify", "id": "u-ana", "name": "Ana", "email": "ana@example.com"})
    await w.expect("identified")
    await w.say("where is my order?")
    await tg.wait_post("where is my order?")
    await fake_discord.wait_until(lambda: in_discord("where is my order?"), what="the message in Discord")
    await fake_slack.wait_until(lambda: in_slack("where is my order?"), what="the message in Slack")
    topic = tg.topic().id
    thread = fake_discord.threads(channel)[0]["id"]
    thread_ts = fake_slack.top_level(slack_channel)[0]["ts"]

    async def session() -> dict:
        import httpx

        async with httpx.AsyncClient(base_url=srv.base_url) as api:
            r = await api.get(f"/api/v1/sessions/{w.session_id}", headers={"Authorization": f"Bearer {secret}"})
            return r.json()

    # /assign: me (the platform author's name), a name, nobody; a wrong name is answered in the thread.
    fake_telegram.operator_says(tg.chat_id, topic, "/assign me")  # the fake's author is "Sarah Lee"
    await fake_discord.wait_until(lambda: in_discord("Assigned to Sarah Lee (from Telegram)"), what="assigned")
    await fake_slack.wait_until(lambda: in_slack("Assigned to Sarah Lee (from Telegram)"), what="assigned")
    fake_discord.post_as_user(thread, "/assign me", name="Max")
    await tg.wait_post("Assigned to Max (from Discord)")
    max_id = (await session())["assigneeId"]
    await fake_slack.operator_reply(slack_channel, thread_ts, "!assign sarah@example.com")
    await tg.wait_post("Assigned to Sarah Lee (from Slack)")
    assert (await session())["assigneeId"] not in (None, max_id)
    fake_telegram.operator_says(tg.chat_id, topic, "/assign Bob")
    await tg.wait_post("no operator is called 'Bob'; the team: Max, Sarah Lee")
    fake_discord.post_as_user(thread, "/assign nobody", name="Max")
    await tg.wait_post("Unassigned (from Discord)")
    assert (await session())["assigneeId"] is None

    # /r SHORTCUT: the saved reply, filled for the visitor, from each platform.
    fake_telegram.operator_says(tg.chat_id, topic, "/r hours")
    said = await w.expect("message", sender="operator")
    assert said["message"]["text"] == "Hi Ana, we are open 9-17 (ana@example.com)."
    assert said["message"]["source"] == "telegram"
    await fake_discord.wait_until(lambda: any("(via Telegram)" in t and "Hi Ana, we are open" in t
                                              for t in discord_thread_texts(fake_discord, channel)), what="mirrored")
    fake_discord.post_as_user(thread, "/r hours", name="Max")
    assert (await w.expect("message", sender="operator"))["message"]["operatorName"] == "Max"
    await fake_slack.operator_reply(slack_channel, thread_ts, "!r hours")
    assert (await w.expect("message", sender="operator"))["message"]["source"] == "slack"
    fake_telegram.operator_says(tg.chat_id, topic, "/r nope")
    await tg.wait_post("no saved reply /nope in this project")

    # /note TEXT: in every other thread, marked as a note; never to the visitor.
    fake_telegram.operator_says(tg.chat_id, topic, "/note VIP customer, be nice")
    await fake_discord.wait_until(lambda: in_discord("📝 Note from Sarah Lee (via Telegram): VIP customer, be nice"),
                                  what="the Telegram note in Discord")
    await fake_slack.wait_until(lambda: in_slack("Note from Sarah Lee (via Telegram): VIP customer"),
                                what="the Telegram note in Slack")
    fake_discord.post_as_user(thread, "/note refund approved", name="Max")
    await tg.wait_post("📝 Note from Max (via Discord): refund approved")
    await fake_slack.operator_reply(slack_channel, thread_ts, "!note call back tomorrow")
    await tg.wait_post("Note from Sarah (via Slack): call back tomorrow")
    assert not any("VIP customer" in t for t in tg.texts())  # not echoed into its own topic

    # The widget got none of them, live or replayed; the REST API lists them only when asked.
    import httpx

    async with httpx.AsyncClient(base_url=srv.base_url, headers={"Authorization": f"Bearer {secret}"}) as api:
        r = await api.post(f"/api/v1/sessions/{w.session_id}/messages", json={"text": "marker"})
        assert r.status_code == 201
        await w.expect("message", text="marker")
        default = (await api.get(f"/api/v1/sessions/{w.session_id}/messages")).json()["messages"]
        with_notes = (await api.get(f"/api/v1/sessions/{w.session_id}/messages",
                                    params={"include_notes": "true"})).json()["messages"]
    notes = [m for m in with_notes if m["kind"] == "note"]
    assert [n["text"] for n in notes] == ["VIP customer, be nice", "refund approved", "call back tomorrow"]
    assert all(n["internal"] is True and n["sender"] == "operator" for n in notes)
    assert not any(m["kind"] == "note" for m in default)
    live = orjson.dumps(w.pending).decode()
    again = await WidgetClient.connect(srv.ws_url, project.public_key, token=w.token)
    replay = orjson.dumps(await again.synced()).decode()
    assert "marker" in replay and "Hi Ana" in replay
    for text in ("VIP customer", "refund approved", "call back tomorrow"):
        assert text not in live and text not in replay
    # A rating once closed: shown in every thread.
    fake_telegram.operator_says(tg.chat_id, topic, "/close")
    await w.expect("session", status="closed")
    await w.send({"type": "rate", "score": 4, "comment": "quick"})
    await w.expect("rated")
    await tg.wait_post("The visitor rated this conversation ★★★★☆: quick")
    await fake_discord.wait_until(lambda: in_discord("rated this conversation ★★★★☆"), what="the rating in Discord")
    await fake_slack.wait_until(lambda: in_slack("rated this conversation"), what="the rating in Slack")
    await again.close()
    await w.close()
