"""A visitor's files reach every platform byte for byte (images: the same pixels, no metadata);
a file an operator shares in one platform reaches the widget and is mirrored to the others."""

from __future__ import annotations

import httpx
from tests.files.conftest import pixels, png_bytes

from pocketping_testkit.bridges import telegram_bridge
from pocketping_testkit.slack_bridge import slack_bridge
from pocketping_testkit.widget_client import WidgetClient

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


async def upload(server, w: WidgetClient, name: str, data: bytes) -> str:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        r = await http.post("/api/v1/widget/uploads", headers={"Authorization": f"Bearer {w.token}"},
                            files={"file": (name, data)})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def test_files_reach_slack_and_telegram_and_come_back(server, project, api, fake_slack, fake_telegram):
    with slack_bridge(server, project, fake_slack) as slack, telegram_bridge(server, project, fake_telegram) as tg:
        w = await WidgetClient.connect(server.ws_url, project.public_key)
        await w.synced()
        image = png_bytes()
        ids = [await upload(server, w, "error.png", image), await upload(server, w, "invoice.pdf", PDF)]
        await w.send({"type": "message", "clientId": "f1", "text": "see attached", "attachments": ids})
        await w.expect("ack", clientId="f1")

        # Slack: the external upload flow, into the conversation's thread, the text as the comment.
        channel = slack.channel.id
        await fake_slack.wait_until(lambda: len(fake_slack.files.uploaded(channel)) == 2, 20, what="two files")
        shared = {f.name: f for f in fake_slack.files.uploaded(channel)}
        assert pixels(shared["error.png"].data) == pixels(image) and b"Secret Person" not in shared["error.png"].data
        assert shared["invoice.pdf"].data == PDF
        thread = slack.card()["ts"]
        [share] = [m for m in slack.replies(thread) if m.get("subtype") == "file_share" and "see attached" in m["text"]]
        assert [f["name"] for f in share["files"]] == ["error.png"]
        assert fake_slack.calls_to("files.getUploadURLExternal") and fake_slack.calls_to("files.completeUploadExternal")
        # Telegram: the same bytes.
        await tg.fake.wait_for(lambda: len([m for m in tg.posts() if m.file is not None]) == 2)
        tg_files = {m.file.filename: m.file for m in tg.posts() if m.file is not None}
        assert pixels(tg_files["error.png"].data) == pixels(image) and tg_files["invoice.pdf"].data == PDF

        # An operator shares a file in Slack: the widget gets it, and Telegram too (mirrored).
        await fake_slack.operator_shares_file(slack.channel.id, thread, "price-list.csv", b"item,price\nmug,12\n",
                                              "text/csv", text="our prices")
        frame = await w.expect("message")
        while frame["message"]["sender"] != "operator":
            frame = await w.expect("message")
        assert frame["message"]["text"] == "our prices"
        [att] = frame["message"]["attachments"]
        assert att["name"] == "price-list.csv"
        assert (await api.get(att["url"])).content == b"item,price\nmug,12\n"
        await tg.fake.wait_for(lambda: any(m.file is not None and m.file.filename == "price-list.csv"
                                           for m in tg.posts()))
        # ... and not back to Slack, where it came from.
        assert [f.name for f in fake_slack.files.uploaded(channel)].count("price-list.csv") == 0
        await w.close()


async def test_slack_files_are_fetched_only_from_slack_with_the_token(server, project, api, fake_slack):
    with slack_bridge(server, project, fake_slack) as slack:
        w = await WidgetClient.connect(server.ws_url, project.public_key)
        await w.synced()
        await w.say("hello")
        await slack.wait_reply("hello")
        thread = slack.card()["ts"]
        # A message whose file points elsewhere: the bot token is never sent there, the text still arrives.
        evil = {"id": "F1", "name": "x.txt", "size": 3, "url_private": "http://169.254.169.254/latest/meta-data"}
        await fake_slack.operator_reply(slack.channel.id, thread, "look", files=[evil], subtype="file_share")
        frame = await w.expect("message")
        while frame["message"]["sender"] != "operator":
            frame = await w.expect("message")
        assert frame["message"]["text"] == "look" and frame["message"]["attachments"] == []
        await w.close()


async def test_discord_gets_files_as_multipart_attachments_and_sends_them_back(server, project, api, fake_discord):
    from pocketping_testkit.bridges import discord_bridge

    with discord_bridge(server, project, fake_discord) as discord:
        w = await WidgetClient.connect(server.ws_url, project.public_key)
        await w.synced()
        image = png_bytes()
        ids = [await upload(server, w, "error.png", image), await upload(server, w, "invoice.pdf", PDF)]
        await w.send({"type": "message", "clientId": "d1", "text": "see attached", "attachments": ids})
        await w.expect("ack", clientId="d1")
        await fake_discord.wait_until(lambda: len(discord.threads()) == 1
                                      and len(fake_discord.files_in(discord.thread()["id"])) == 2, 20)
        thread_id = discord.thread()["id"]
        files = dict(fake_discord.files_in(thread_id))
        assert pixels(files["error.png"]) == pixels(image) and files["invoice.pdf"] == PDF
        [first] = [m for m in discord.posts(thread_id) if m["attachments"] and "see attached" in m["content"]]
        assert first["attachments"][0]["filename"] == "error.png"
        # The request was multipart: payload_json plus files[0], as the API documents.
        posts = [r for r in fake_discord.requests if r.method == "POST" and r.path == f"/channels/{thread_id}/messages"
                 and "multipart/form-data" in r.headers.get("content-type", "")]
        assert len(posts) == 2

        fake_discord.post_as_user(thread_id, "here is the fix", files=[("patch.txt", "text/plain", b"diff\n")])
        frame = await w.expect("message")
        while frame["message"]["sender"] != "operator":
            frame = await w.expect("message")
        assert frame["message"]["text"] == "here is the fix"
        assert (await api.get(frame["message"]["attachments"][0]["url"])).content == b"diff\n"
        await w.close()


async def test_a_file_over_discords_limit_is_posted_as_a_link(make_server, fake_discord):
    from tests.conftest import ProjectKeys

    from pocketping.actions.projects import create_project
    from pocketping_testkit.bridges import discord_bridge

    srv = make_server(discord_api_url=fake_discord.api_url, max_upload_bytes=12 * 1024 * 1024,
                      public_url="https://chat.example.com")
    project, secret = srv.call(create_project(srv.services, "Big files"))
    keys = ProjectKeys(project.id, project.public_key, secret)
    with discord_bridge(srv, keys, fake_discord) as discord:
        w = await WidgetClient.connect(srv.ws_url, keys.public_key)
        await w.synced()
        big = b"%PDF-1.4\n" + b"0" * (11 * 1024 * 1024)  # over Discord's 10 MB, within this server's 12 MB
        file_id = await upload(srv, w, "scan.pdf", big)
        await w.send({"type": "message", "clientId": "b1", "attachments": [file_id]})
        post = await discord.wait_post("scan.pdf")
        assert not post["attachments"] and f"https://chat.example.com/files/{file_id}?exp=" in post["content"]
        await w.close()
