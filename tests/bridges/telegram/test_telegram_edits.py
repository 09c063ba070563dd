"""Edits in place in a Telegram topic (issue 20): a visitor's correction and a REST edit change
the bot's copy with editMessageText, never a second post."""

from __future__ import annotations

import httpx

from pocketping_testkit.bridges import TelegramSetup
from pocketping_testkit.widget_client import WidgetClient


async def test_a_visitors_edit_changes_the_topic_copy_in_place(server, project, telegram: TelegramSetup):
    w = await WidgetClient.connect(server.ws_url, project.public_key)
    await w.synced()
    await w.say("my order is 1234")
    await telegram.wait_post("my order is 1234")
    listed = await WidgetClient.connect(server.ws_url, project.public_key, token=w.token)
    mine = next(f["message"] for f in await listed.synced() if f["type"] == "message")
    await listed.close()
    await w.send({"type": "edit", "id": mine["id"], "text": "my order is 1243"})
    updated = await w.expect("message_updated")
    assert updated["message"]["id"] == mine["id"] and updated["message"]["text"] == "my order is 1243"
    assert updated["message"]["editedAt"]
    await telegram.wait_post("my order is 1243")
    assert sum("my order is" in t for t in telegram.texts()) == 1  # changed in place, not posted again
    # An operator's message is not the visitor's to edit.
    async with httpx.AsyncClient(base_url=server.base_url, headers=project.auth) as api:
        reply = (await api.post(f"/api/v1/sessions/{w.session_id}/messages", json={"text": "On its way"})).json()
        await telegram.wait_post("On its way")
        await w.send({"type": "edit", "id": reply["id"], "text": "hacked"})
        assert (await w.expect("error"))["code"] == "not_editable"
        # The REST edit of the reply: the topic's copy changes in place too.
        r = await api.patch(f"/api/v1/messages/{reply['id']}", json={"text": "On its way, tomorrow"})
        assert r.status_code == 200
    await telegram.wait_post("On its way, tomorrow")
    assert sum("On its way" in t for t in telegram.texts()) == 1
    await w.close()


async def test_a_copy_with_a_file_gets_the_edit_as_a_line(server, project, telegram: TelegramSetup):
    w = await WidgetClient.connect(server.ws_url, project.public_key)
    await w.synced()
    await w.say("can you send the invoice?")
    await telegram.wait_post("can you send the invoice?")
    async with httpx.AsyncClient(base_url=server.base_url, headers=project.auth) as api:
        up = await api.post("/api/v1/files", files={"file": ("invoice.txt", b"total: 12 EUR", "text/plain")})
        assert up.status_code == 201, up.text
        reply = (await api.post(f"/api/v1/sessions/{w.session_id}/messages",
                                json={"text": "Here it is", "attachments": [up.json()["id"]]})).json()
        await telegram.wait_post("Here it is")
        r = await api.patch(f"/api/v1/messages/{reply['id']}", json={"text": "Here it is (corrected)"})
        assert r.status_code == 200
    # A caption is not changed in place: the edit follows as a line, once.
    line = await telegram.wait_post("edited a reply: Here it is (corrected)")
    assert "Operator (via API) edited a reply" in line.text
    assert sum("Here it is" in t for t in telegram.texts()) == 2
    await w.close()
