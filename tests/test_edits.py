"""Edits in place (issue 20, item 1): an operator's edit over REST changes the stored message
(its earlier text kept, encrypted), the widget's bubble and what a replay shows."""

from __future__ import annotations

from sqlalchemy import text

from pocketping.store.engine import create_engine
from pocketping_testkit.widget_client import WidgetClient


async def _raw_row(url: str, message_id: str):
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(text("SELECT text, history, edited_at FROM messages WHERE id = :i"),
                                       {"i": message_id})).mappings().one()
    finally:
        await engine.dispose()


async def test_rest_edit_changes_the_message_in_place(server, project, api, database):
    w = await WidgetClient.connect(server.ws_url, project.public_key)
    await w.synced()
    await w.say("hi")
    sent = (await api.post(f"/api/v1/sessions/{w.session_id}/messages", headers=project.auth,
                           json={"text": "first draft 7731"})).json()
    await w.expect("message", seq=2)
    r = await api.patch(f"/api/v1/messages/{sent['id']}", headers=project.auth, json={"text": "final words"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"] == sent["id"] and body["text"] == "final words" and body["editedAt"]
    frame = await w.expect("message_updated")
    assert frame["message"]["id"] == sent["id"] and frame["message"]["text"] == "final words"
    assert frame["message"]["editedAt"] == body["editedAt"]
    # A second edit keeps both earlier versions; the same text again changes nothing.
    await api.patch(f"/api/v1/messages/{sent['id']}", headers=project.auth, json={"text": "final words!"})
    same = await api.patch(f"/api/v1/messages/{sent['id']}", headers=project.auth, json={"text": "final words!"})
    assert same.status_code == 200 and same.json()["text"] == "final words!"
    raw = await _raw_row(database.url, sent["id"])
    assert raw["history"] and raw["edited_at"] is not None
    assert "first draft" not in raw["history"] and "final" not in raw["history"]  # encrypted, like the text
    listed = (await api.get(f"/api/v1/sessions/{w.session_id}/messages", headers=project.auth)).json()["messages"]
    assert [m["text"] for m in listed] == ["hi", "final words!"]
    await w.close()
    # A replay after reconnecting shows the latest text, marked edited.
    back = await WidgetClient.connect(server.ws_url, project.public_key, token=w.token)
    replay = await back.synced()
    mine = [f["message"] for f in replay if f["type"] == "message" and f["message"]["id"] == sent["id"]]
    assert mine and mine[0]["text"] == "final words!" and mine[0]["editedAt"]
    await back.close()


async def test_rest_edit_refuses_what_it_must(server, project, make_project, api):
    w = await WidgetClient.connect(server.ws_url, project.public_key)
    await w.synced()
    await w.say("visitor words")
    listed = (await api.get(f"/api/v1/sessions/{w.session_id}/messages", headers=project.auth)).json()["messages"]
    visitor_id = listed[0]["id"]
    r = await api.patch(f"/api/v1/messages/{visitor_id}", headers=project.auth, json={"text": "x"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "not_editable"
    sent = (await api.post(f"/api/v1/sessions/{w.session_id}/messages", headers=project.auth,
                           json={"text": "ours"})).json()
    other = make_project()
    r = await api.patch(f"/api/v1/messages/{sent['id']}", headers=other.auth, json={"text": "theirs"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "message_not_found"
    r = await api.patch("/api/v1/messages/msg_nope", headers=project.auth, json={"text": "x"})
    assert r.status_code == 404
    r = await api.patch(f"/api/v1/messages/{sent['id']}", headers=project.auth, json={"txt": "x"})
    assert r.status_code == 422
    await w.close()


async def test_a_visitor_edits_within_five_minutes_only(make_server):
    from tests.conftest import create_project_on

    from pocketping.clock import FakeClock

    clock = FakeClock()
    srv = make_server(clock=clock)
    project = create_project_on(srv)
    w = await WidgetClient.connect(srv.ws_url, project.public_key)
    await w.synced()
    await w.say("typo hre")
    await w.say("second")
    back = await WidgetClient.connect(srv.ws_url, project.public_key, token=w.token)
    first, second = [f["message"] for f in await back.synced() if f["type"] == "message"]
    await back.close()
    await w.send({"type": "edit", "id": first["id"], "text": "typo here"})
    assert (await w.expect("message_updated"))["message"]["text"] == "typo here"
    await w.send({"type": "edit", "id": "msg_nope", "text": "x"})
    assert (await w.expect("error"))["code"] == "message_not_found"
    await w.send({"type": "edit", "text": "x"})
    assert (await w.expect("error"))["code"] == "invalid_edit"
    clock.advance(301)
    await w.send({"type": "edit", "id": second["id"], "text": "too late"})
    assert (await w.expect("error"))["code"] == "edit_window_passed"
    await w.close()
