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
        await fake_slack.wait_until(lambda: len(fake_slack.files.uploaded()) == 2, 20, what="two files in Slack")
        shared = {f.name: f for f in fake_slack.files.uploaded()}
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
        assert [f.name for f in fake_slack.files.uploaded()].count("price-list.csv") == 1
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
