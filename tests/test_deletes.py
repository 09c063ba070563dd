"""Deletions in place (issue 20, item 2): an operator's message deleted over REST or in the inbox
keeps only that it existed (no text, no earlier versions), the widget shows it deleted, and a
replay after reconnecting shows the deleted state."""

from __future__ import annotations

from sqlalchemy import text

from pocketping.store.engine import create_engine
from pocketping_testkit.widget_client import WidgetClient


async def _raw_row(url: str, message_id: str):
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(text("SELECT text, history, attachments, deleted_at FROM messages "
                                            "WHERE id = :i"), {"i": message_id})).mappings().one()
    finally:
        await engine.dispose()


async def test_rest_delete_removes_the_text_everywhere(server, project, api, database):
    w = await WidgetClient.connect(server.ws_url, project.public_key)
    await w.synced()
    await w.say("hi")
    sent = (await api.post(f"/api/v1/sessions/{w.session_id}/messages", headers=project.auth,
                           json={"text": "draft 5521"})).json()
    await w.expect("message", seq=2)
    await api.patch(f"/api/v1/messages/{sent['id']}", headers=project.auth, json={"text": "second 5521"})
    await w.expect("message_updated")
    r = await api.delete(f"/api/v1/messages/{sent['id']}", headers=project.auth)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"] == sent["id"] and body["deletedAt"] and body["text"] == "" and body["attachments"] == []
    frame = await w.expect("message_deleted")
    assert frame["message"]["id"] == sent["id"] and frame["message"]["text"] == "" and frame["message"]["deletedAt"]
    # The stored row keeps only that it existed: the text and its earlier versions are gone.
    raw = await _raw_row(database.url, sent["id"])
    assert raw["deleted_at"] is not None and raw["history"] is None and raw["attachments"] is None
    async with server.services.db.read() as tx:
        assert tx.decrypt(raw["text"]) == ""
    # Deleting again answers the same deleted message.
    again = await api.delete(f"/api/v1/messages/{sent['id']}", headers=project.auth)
    assert again.status_code == 200 and again.json()["deletedAt"] == body["deletedAt"]
    listed = (await api.get(f"/api/v1/sessions/{w.session_id}/messages", headers=project.auth)).json()["messages"]
    assert [(m["text"], bool(m["deletedAt"])) for m in listed] == [("hi", False), ("", True)]
    await w.close()
    # A replay after reconnecting shows the deleted state.
    back = await WidgetClient.connect(server.ws_url, project.public_key, token=w.token)
    replay = await back.synced()
    mine = [f["message"] for f in replay if f["type"] == "message" and f["message"]["id"] == sent["id"]]
    assert mine and mine[0]["text"] == "" and mine[0]["deletedAt"] == body["deletedAt"]
    await back.close()


async def test_rest_delete_refuses_what_it_must(server, project, make_project, api):
    w = await WidgetClient.connect(server.ws_url, project.public_key)
    await w.synced()
    await w.say("visitor words")
    listed = (await api.get(f"/api/v1/sessions/{w.session_id}/messages", headers=project.auth)).json()["messages"]
    r = await api.delete(f"/api/v1/messages/{listed[0]['id']}", headers=project.auth)
    assert r.status_code == 422 and r.json()["error"]["code"] == "not_editable"
    sent = (await api.post(f"/api/v1/sessions/{w.session_id}/messages", headers=project.auth,
                           json={"text": "ours"})).json()
    other = make_project()
    r = await api.delete(f"/api/v1/messages/{sent['id']}", headers=other.auth)
    assert r.status_code == 404 and r.json()["error"]["code"] == "message_not_found"
    r = await api.delete("/api/v1/messages/msg_nope", headers=project.auth)
    assert r.status_code == 404 and r.json()["error"]["code"] == "message_not_found"
    r = await api.delete(f"/api/v1/messages/{sent['id']}")
    assert r.status_code == 401
    # A deleted message can no longer be edited.
    assert (await api.delete(f"/api/v1/messages/{sent['id']}", headers=project.auth)).status_code == 200
    r = await api.patch(f"/api/v1/messages/{sent['id']}", headers=project.auth, json={"text": "back"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "not_editable"
    await w.close()


async def test_a_deleted_replys_files_are_removed(server, project, api):
    w = await WidgetClient.connect(server.ws_url, project.public_key)
    await w.synced()
    await w.say("the invoice please")
    up = await api.post("/api/v1/files", headers=project.auth, files={"file": ("invoice.txt", b"12 EUR", "text/plain")})
    assert up.status_code == 201, up.text
    sent = (await api.post(f"/api/v1/sessions/{w.session_id}/messages", headers=project.auth,
                           json={"text": "here", "attachments": [up.json()["id"]]})).json()
    link = sent["attachments"][0]["url"]
    assert (await api.get(link)).status_code == 200
    assert (await api.delete(f"/api/v1/messages/{sent['id']}", headers=project.auth)).status_code == 200
    assert (await api.get(link)).status_code == 404
    await w.close()


async def test_the_inbox_deletes_a_reply_in_place(server, project):
    from tests.inbox.helpers import make_operator, visitor

    from pocketping_testkit.inbox_client import InboxClient

    op = await make_operator(server, project.id, name="Sarah")
    widget = await visitor(server, project.public_key, "hello")
    async with InboxClient(server.base_url) as client:
        await client.login(op.email, op.password)
        sent = (await client.reply(widget.session_id, "a reply to take back")).json()["message"]
        await widget.expect("message", sender="operator")
        path = f"/conversations/{widget.session_id}/messages/{sent['id']}"
        assert (await client.delete(path, csrf=False)).status_code == 403  # no CSRF token, no deletion
        r = await client.delete(path)
        assert r.status_code == 200, r.text
        assert r.json()["message"]["deletedAt"] and r.json()["message"]["text"] == ""
        assert (await widget.expect("message_deleted"))["message"]["id"] == sent["id"]
        shown = (await client.get(f"/conversations/{widget.session_id}")).json()["messages"]
        assert [(m["text"], bool(m["deletedAt"])) for m in shown] == [("hello", False), ("", True)]
        # The visitor's message is not the team's to delete; another conversation's id is not found.
        r = await client.delete(f"/conversations/{widget.session_id}/messages/{shown[0]['id']}")
        assert r.status_code == 422 and r.json()["error"]["code"] == "not_editable"
        elsewhere = await visitor(server, project.public_key, "another")
        r = await client.delete(f"/conversations/{elsewhere.session_id}/messages/{sent['id']}")
        assert r.status_code == 404 and r.json()["error"]["code"] == "message_not_found"
        await elsewhere.close()
    await widget.close()
