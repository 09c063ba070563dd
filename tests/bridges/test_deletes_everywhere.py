"""Deletions in place on every platform (issue 20, item 2): a withdrawal made in Discord, in
Slack, in the inbox or over REST removes the widget's text and every other platform's copy, once;
a Telegram copy older than 48 hours (fake clock) is edited to "(deleted)" instead."""

from __future__ import annotations

from typing import Any

import httpx
from tests.bridges.test_cross_platform import connect_three, discord_thread_texts, slack_texts
from tests.inbox.helpers import make_operator

from pocketping.actions.projects import create_project
from pocketping.clock import FakeClock
from pocketping_testkit.bridges import advance_until, connect_telegram
from pocketping_testkit.fakes.discord import FakeDiscord
from pocketping_testkit.fakes.slack import FakeSlack
from pocketping_testkit.fakes.telegram import FakeTelegram
from pocketping_testkit.inbox_client import InboxClient
from pocketping_testkit.server import ServerThread
from pocketping_testkit.widget_client import WidgetClient


async def _delete_rows(srv: ServerThread, project_id: str) -> list[Any]:
    from pocketping.store import outbox as outbox_repo

    async with srv.services.db.read() as tx:
        return [i for i in await outbox_repo.list_items(tx, project_id=project_id, target="bridge", limit=500)
                if i.action == "delete"]


async def test_a_deletion_anywhere_removes_every_copy_once(server, fake_telegram: FakeTelegram,
                                                           fake_discord: FakeDiscord, fake_slack: FakeSlack):
    project, secret = server.call(create_project(server.services, "Deletions", []))
    auth = {"Authorization": f"Bearer {secret}"}
    tg, channel, slack_channel = await connect_three(server, project.id, fake_telegram, fake_discord, fake_slack)

    def in_telegram(fragment: str) -> bool:
        return any(fragment in t for t in tg.texts())  # what the bot posted

    def in_discord(fragment: str) -> bool:
        return any(fragment in m["content"] for t in fake_discord.threads(channel)
                   for m in fake_discord.messages(t["id"]))  # anyone's

    def in_slack(fragment: str) -> bool:
        return any(fragment in t for t in slack_texts(fake_slack, slack_channel))  # anyone's

    async def until(fragment: str, shown: tuple[bool, bool, bool], what: str) -> None:
        """Each fake reaches its part of the state (each wait wakes on that fake's changes)."""
        await fake_telegram.wait_for(lambda: in_telegram(fragment) == shown[0], timeout=30)
        await fake_discord.wait_until(lambda: in_discord(fragment) == shown[1], what=what, timeout=30)
        await fake_slack.wait_until(lambda: in_slack(fragment) == shown[2], what=what, timeout=30)

    w = await WidgetClient.connect(server.ws_url, project.public_key)
    await w.synced()
    await w.say("hello, deletions")
    await until("hello, deletions", (True, True, True), "the visitor's message everywhere")
    thread = fake_discord.threads(channel)[0]["id"]
    thread_ts = fake_slack.top_level(slack_channel)[0]["ts"]

    # Deleted in Discord (MESSAGE_DELETE): the widget, the Telegram and the Slack copies.
    posted = fake_discord.post_as_user(thread, "From Discord 8811", name="Max")
    from_discord = (await w.expect("message", text="From Discord 8811"))["message"]
    await until("From Discord 8811", (True, True, True), "the Discord reply mirrored")
    fake_discord.delete_as_user(thread, posted["id"])
    deleted = await w.expect("message_deleted")
    assert deleted["message"]["id"] == from_discord["id"] and deleted["message"]["text"] == ""
    await until("From Discord 8811", (False, False, False), "the Discord deletion everywhere")

    # Deleted in Slack (message_deleted): the widget, the Telegram and the Discord copies.
    said = await fake_slack.operator_reply(slack_channel, thread_ts, "From Slack 8812")
    from_slack = (await w.expect("message", text="From Slack 8812"))["message"]
    await until("From Slack 8812", (True, True, True), "the Slack reply mirrored")
    await fake_slack.operator_delete(slack_channel, said.ts)
    assert (await w.expect("message_deleted"))["message"]["id"] == from_slack["id"]
    await until("From Slack 8812", (False, False, False), "the Slack deletion everywhere")

    async with httpx.AsyncClient(base_url=server.base_url, timeout=20) as api:
        # Deleted over REST: every copy goes.
        reply = (await api.post(f"/api/v1/sessions/{w.session_id}/messages", headers=auth,
                                json={"text": "From the API 8813", "operatorName": "Ana"})).json()
        await w.expect("message", text="From the API 8813")
        await until("From the API 8813", (True, True, True), "the API reply mirrored")
        assert (await api.delete(f"/api/v1/messages/{reply['id']}", headers=auth)).status_code == 200
        assert (await w.expect("message_deleted"))["message"]["id"] == reply["id"]
        await until("From the API 8813", (False, False, False), "the REST deletion everywhere")

        # Written in Telegram, deleted over REST: the operator's own message in the topic goes too
        # (the bot is an administrator allowed to delete messages), and the other copies.
        tg_reply = fake_telegram.operator_says(tg.chat_id, tg.topic().id, "From Telegram 8814")
        from_telegram = (await w.expect("message", text="From Telegram 8814"))["message"]
        await until("From Telegram 8814", (False, True, True), "the Telegram reply mirrored")
        assert (await api.delete(f"/api/v1/messages/{from_telegram['id']}", headers=auth)).status_code == 200
        await w.expect("message_deleted")
        await until("From Telegram 8814", (False, False, False), "the copies of the Telegram reply")
        await fake_telegram.wait_for(lambda: any(m.message_id == tg_reply and m.deleted
                                                 for m in fake_telegram.chats[tg.chat_id].messages))

    # Deleted in the inbox: every copy goes.
    op = await make_operator(server, project.id, name="Lea")
    async with InboxClient(server.base_url) as inbox:
        await inbox.login(op.email, op.password)
        sent = (await inbox.reply(w.session_id, "From the inbox 8815")).json()["message"]
        await w.expect("message", text="From the inbox 8815")
        await until("From the inbox 8815", (True, True, True), "the inbox reply mirrored")
        assert (await inbox.delete(f"/conversations/{w.session_id}/messages/{sent['id']}")).status_code == 200
    assert (await w.expect("message_deleted"))["message"]["id"] == sent["id"]
    await until("From the inbox 8815", (False, False, False), "the inbox deletion everywhere")

    # Each deletion reached each platform once; nothing was told as a line, nothing posted twice.
    await w.say("still here")
    await until("still here", (True, True, True), "the last visitor message everywhere")
    await server.acall(server.node.outbox.wait_idle())
    rows = await server.acall(_delete_rows(server, project.id))
    # Five deletions, each to every bridge but the one it was made in (Discord, Slack): one row each.
    assert len(rows) == 3 * 5 - 2
    assert len({(r.target_id, r.message_id) for r in rows}) == len(rows)
    assert all(r.status == "done" for r in rows), [(r.status, r.last_error) for r in rows]
    outcomes = [o for r in rows for o in (r.result or {}).get("copies", {}).values()]
    assert outcomes and set(outcomes) == {"deleted"}
    for texts in (tg.texts(), discord_thread_texts(fake_discord, channel), slack_texts(fake_slack, slack_channel)):
        assert not any("withdrew" in t or "(deleted)" in t or "881" in t for t in texts), texts
    assert len(fake_discord.threads(channel)) == 1 and len(tg.topics()) == 1
    await w.close()


async def test_telegram_after_48_hours_edits_the_copy_instead(make_server, fresh_db, fake_telegram: FakeTelegram):
    clock = FakeClock()
    srv = make_server(database_url=fresh_db.url, clock=clock, telegram_api_url=fake_telegram.url)
    project, secret = srv.call(create_project(srv.services, "Old copies", []))
    tg = connect_telegram(fake_telegram, srv, project.id)
    fake_telegram.set_clock(tg.token, clock)
    auth = {"Authorization": f"Bearer {secret}"}
    w = await WidgetClient.connect(srv.ws_url, project.public_key)
    await w.synced()
    await w.say("an old question")
    await tg.wait_post("an old question")
    async with httpx.AsyncClient(base_url=srv.base_url, headers=auth, timeout=20) as api:
        fresh = (await api.post(f"/api/v1/sessions/{w.session_id}/messages", json={"text": "fresh answer"})).json()
        old = (await api.post(f"/api/v1/sessions/{w.session_id}/messages", json={"text": "old answer 4477"})).json()
        # (Telegram's pace, about a message a second, runs on the fake clock too.)
        await advance_until(clock, lambda: any("old answer 4477" in t for t in tg.texts()), fake=fake_telegram)
        # Within 48 hours the copy is deleted.
        assert (await api.delete(f"/api/v1/messages/{fresh['id']}")).status_code == 200
        await advance_until(clock, lambda: not any("fresh answer" in t for t in tg.texts()), fake=fake_telegram)
        clock.advance(48 * 3600)
        assert (await api.delete(f"/api/v1/messages/{old['id']}")).status_code == 200
        await w.expect("message_deleted", timeout=10)
        # Telegram refuses deleteMessage after 48 hours: the copy is edited to "(deleted)", in place.
        await advance_until(clock, lambda: any("(deleted)" in t for t in tg.texts()), fake=fake_telegram)
        copy = await tg.wait_post("(deleted)")
        assert copy.text == "Operator (via API): (deleted)" and copy.edited
        assert not any("old answer" in t for t in tg.texts())
        refused = [c for c in fake_telegram.calls(tg.token, "deleteMessage") if c.get("message_id") == copy.message_id]
        assert len(refused) == 1
    await srv.acall(srv.node.outbox.wait_idle())
    rows = {r.message_id: r for r in await srv.acall(_delete_rows(srv, project.id))}
    assert list(rows[fresh["id"]].result["copies"].values()) == ["deleted"]
    (outcome,) = rows[old["id"]].result["copies"].values()
    assert outcome == "edited: Telegram refused deleteMessage (Bad Request: message can't be deleted)"
    assert rows[old["id"]].status == "done"
    await w.close()


async def test_a_refused_deletion_edits_the_copy_or_tells_the_thread(server, fake_telegram: FakeTelegram,
                                                                     fake_discord: FakeDiscord,
                                                                     fake_slack: FakeSlack):
    project, secret = server.call(create_project(server.services, "Refusals", []))
    auth = {"Authorization": f"Bearer {secret}"}
    tg, channel, slack_channel = await connect_three(server, project.id, fake_telegram, fake_discord, fake_slack)
    app = next(a for a in fake_slack.apps.values() if a.bot_user_id in fake_slack.channels[slack_channel].members)
    w = await WidgetClient.connect(server.ws_url, project.public_key)
    await w.synced()
    await w.say("hello, refusals")
    await tg.wait_post("hello, refusals")
    await fake_discord.wait_until(lambda: bool(fake_discord.threads(channel)), what="the Discord thread")
    thread = fake_discord.threads(channel)[0]["id"]
    await fake_slack.wait_until(lambda: any("refusals" in t for t in slack_texts(fake_slack, slack_channel)),
                                what="the Slack thread")

    async with httpx.AsyncClient(base_url=server.base_url, headers=auth, timeout=20) as api:
        # Slack refuses chat.delete: its copy is edited to "(deleted)" with chat.update.
        reply = (await api.post(f"/api/v1/sessions/{w.session_id}/messages", json={"text": "API words 9911"})).json()
        await fake_slack.wait_until(lambda: any("API words 9911" in t for t in slack_texts(fake_slack, slack_channel)),
                                    what="the reply in Slack")
        await fake_discord.wait_until(lambda: any("API words 9911" in t for t in discord_thread_texts(fake_discord,
                                                                                                       channel)),
                                      what="the reply in Discord")
        fake_slack.fail("chat.delete", error="cant_delete_message", app=app)
        assert (await api.delete(f"/api/v1/messages/{reply['id']}")).status_code == 200
        await fake_slack.wait_until(lambda: any("(deleted)" in t for t in slack_texts(fake_slack, slack_channel)),
                                    what="the Slack copy edited")
        assert not any("API words 9911" in t for t in slack_texts(fake_slack, slack_channel))
        await fake_discord.wait_until(lambda: not any("API words 9911" in t for t in
                                                      discord_thread_texts(fake_discord, channel)),
                                      what="the Discord copy deleted")

        # Written in Discord, withdrawn over REST: the bot may not delete another's message (no
        # Manage Messages), so the thread is told with a line; the other copies are deleted.
        posted = fake_discord.post_as_user(thread, "Discord words 9912", name="Max")
        from_discord = (await w.expect("message", text="Discord words 9912"))["message"]
        await tg.wait_post("Discord words 9912")
        assert (await api.delete(f"/api/v1/messages/{from_discord['id']}")).status_code == 200
        await fake_discord.wait_until(lambda: any("Max (via Discord) withdrew a reply" in t
                                                  for t in discord_thread_texts(fake_discord, channel)),
                                      what="the line in Discord")
        await fake_telegram.wait_for(lambda: not any("Discord words 9912" in t for t in tg.texts()))
        assert any(m["id"] == posted["id"] for m in fake_discord.messages(thread))  # what Discord kept
    await server.acall(server.node.outbox.wait_idle())
    rows = {(r.target_id, r.message_id): r for r in await server.acall(_delete_rows(server, project.id))}
    slack_bridge = next(b for b, m in rows if m == reply["id"] and rows[(b, m)].result
                        and any(o.startswith("edited") for o in rows[(b, m)].result["copies"].values()))
    (outcome,) = rows[(slack_bridge, reply["id"])].result["copies"].values()
    assert outcome == "edited: Slack refused to delete the message: cant_delete_message"
    kept = [r.result for (b, m), r in rows.items() if m == from_discord["id"]
            and any(o.startswith("kept") for o in r.result.get("copies", {}).values())]
    assert len(kept) == 1 and kept[0]["noticed"] is True
    assert list(kept[0]["copies"]) == [posted["id"]]
    assert "Discord refused to delete the message" in kept[0]["copies"][posted["id"]]
    await w.close()


async def test_a_deleted_reply_takes_its_file_copies_along(server, fake_telegram: FakeTelegram,
                                                           fake_discord: FakeDiscord, fake_slack: FakeSlack):
    project, secret = server.call(create_project(server.services, "Files", []))
    auth = {"Authorization": f"Bearer {secret}"}
    tg, channel, slack_channel = await connect_three(server, project.id, fake_telegram, fake_discord, fake_slack)
    w = await WidgetClient.connect(server.ws_url, project.public_key)
    await w.synced()
    await w.say("the invoice?")
    await tg.wait_post("the invoice?")

    def slack_shares() -> list[dict[str, Any]]:
        parents = fake_slack.top_level(slack_channel)
        return [m for p in parents for m in fake_slack.replies(slack_channel, p["ts"]) if m.get("files")]

    def discord_files() -> list[tuple[str, bytes]]:
        return [f for t in fake_discord.threads(channel) for f in fake_discord.files_in(t["id"])]

    async with httpx.AsyncClient(base_url=server.base_url, headers=auth, timeout=20) as api:
        up = await api.post("/api/v1/files", files={"file": ("invoice.txt", b"total: 12 EUR", "text/plain")})
        reply = (await api.post(f"/api/v1/sessions/{w.session_id}/messages",
                                json={"text": "here it is", "attachments": [up.json()["id"]]})).json()
        await fake_telegram.wait_for(lambda: any(m.file is not None for m in tg.posts()))
        await fake_discord.wait_until(lambda: bool(discord_files()), what="the file in Discord")
        await fake_slack.wait_until(lambda: bool(slack_shares()), what="the file in Slack")
        assert (await api.delete(f"/api/v1/messages/{reply['id']}")).status_code == 200
    await fake_telegram.wait_for(lambda: not any(m.file is not None for m in tg.posts()))
    await fake_discord.wait_until(lambda: not discord_files(), what="the Discord file deleted")
    await fake_slack.wait_until(lambda: not slack_shares(), what="the Slack file share deleted")
    await w.close()
