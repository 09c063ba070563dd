"""What a signed-in operator sees and does, through the inbox's JSON API (real server, all backends)."""

from __future__ import annotations

from conftest import create_project_on  # tests/conftest.py
from pocketping_testkit.inbox_client import InboxClient
from pocketping_testkit.widget_client import WidgetClient

from .helpers import make_operator, visitor


async def test_the_list_shows_conversations_active_first_with_unread_counts(server, project, api):
    op = await make_operator(server, project.id, name="Sarah")
    closed = await visitor(server, project.public_key, "an old question")
    await api.post(f"/api/v1/sessions/{closed.session_id}/close", headers=project.auth)
    silent = await WidgetClient.connect(server.ws_url, project.public_key)  # opened the page, wrote nothing
    older = await visitor(server, project.public_key, "first")
    newer = await visitor(server, project.public_key, "hello", "is anyone there?", url="https://shop.example.com/cart")
    async with InboxClient(server.base_url) as client:
        await client.login(op.email, op.password)
        active = await client.conversations("active")
        assert [c["id"] for c in active] == [newer.session_id, older.session_id]
        top = active[0]
        assert top["unread"] == 2
        assert top["lastMessage"]["text"] == "is anyone there?"
        assert top["label"] == f"Visitor {top['visitorId'][-6:]}"
        assert top["projectName"] == "Test"
        assert top["metadata"]["url"] == "https://shop.example.com/cart"
        assert top["metadata"]["browser"].startswith("Chrome") and top["metadata"]["language"] == "fr-FR"
        assert [c["id"] for c in await client.conversations("closed")] == [closed.session_id]
        assert silent.session_id not in {c["id"] for c in active}

        # The full history, in order, notices included.
        response = await client.get(f"/conversations/{closed.session_id}")
        body = response.json()
        assert [(m["kind"], m["text"]) for m in body["messages"]] == [
            ("message", "an old question"), ("notice", "Conversation closed")]
        assert body["conversation"]["status"] == "closed"
    for w in (closed, silent, older, newer):
        await w.close()


async def test_a_reply_is_an_ordinary_operator_message_that_reaches_the_widget(server, project, api):
    op = await make_operator(server, project.id, name="Sarah")
    widget = await visitor(server, project.public_key, "hello")
    async with InboxClient(server.base_url) as client:
        await client.login(op.email, op.password)
        response = await client.reply(widget.session_id, "Hi! <b>How</b> can I help?")
        assert response.status_code == 201
        sent = response.json()["message"]
        assert sent["sender"] == "operator" and sent["source"] == "inbox" and sent["operatorName"] == "Sarah"
    frame = await widget.expect("message", sender="operator")
    assert frame["message"]["text"] == "Hi! <b>How</b> can I help?"
    assert frame["message"]["operatorName"] == "Sarah"
    assert (await widget.expect("read"))["by"] == "operator"  # replying means reading
    stored = (await api.get(f"/api/v1/sessions/{widget.session_id}/messages", headers=project.auth)).json()
    assert [m["source"] for m in stored["messages"]] == ["widget", "inbox"]
    await widget.close()


async def test_replies_are_idempotent_on_client_id_and_validated(server, project):
    op = await make_operator(server, project.id)
    widget = await visitor(server, project.public_key, "hello")
    path = f"/conversations/{widget.session_id}/messages"
    async with InboxClient(server.base_url) as client:
        await client.login(op.email, op.password)
        first = await client.post(path, {"text": "once", "clientId": "inbox-1"})
        again = await client.post(path, {"text": "once", "clientId": "inbox-1"})
        assert first.status_code == again.status_code == 201
        assert again.json()["duplicate"] is True
        assert again.json()["message"]["id"] == first.json()["message"]["id"]
        too_long = await client.post(path, {"text": "x" * 4001})
        assert too_long.status_code == 422 and too_long.json()["error"]["code"] == "text_too_long"
        empty = await client.post(path, {"text": "   "})
        assert empty.status_code == 422 and empty.json()["error"]["code"] == "empty_text"
    await widget.close()


async def test_close_reopen_and_the_ai_switch(server, project, api):
    op = await make_operator(server, project.id)
    widget = await visitor(server, project.public_key, "hello")
    sid = widget.session_id
    async with InboxClient(server.base_url) as client:
        await client.login(op.email, op.password)
        closed = await client.post(f"/conversations/{sid}/close")
        assert closed.status_code == 200 and closed.json()["session"]["status"] == "closed"
        assert (await widget.expect("session"))["status"] == "closed"
        reopened = await client.post(f"/conversations/{sid}/reopen")
        assert reopened.json()["session"]["status"] == "active"
        assert (await widget.expect("session"))["status"] == "active"
        off = await client.post(f"/conversations/{sid}/ai", {"enabled": False})
        assert off.json()["session"]["aiEnabled"] is False
        session = (await api.get(f"/api/v1/sessions/{sid}", headers=project.auth)).json()
        assert session["aiEnabled"] is False
        on = await client.post(f"/conversations/{sid}/ai", {"enabled": True})
        assert on.json()["session"]["aiEnabled"] is True
    await widget.close()


async def test_reading_sends_a_read_receipt_and_clears_unread(server, project):
    op = await make_operator(server, project.id)
    widget = await visitor(server, project.public_key, "one", "two")
    async with InboxClient(server.base_url) as client:
        await client.login(op.email, op.password)
        assert (await client.conversations())[0]["unread"] == 2
        response = await client.post(f"/conversations/{widget.session_id}/read", {"seq": 2})
        assert response.json() == {"changed": True}
        frame = await widget.expect("read")
        assert frame == {"type": "read", "by": "operator", "seq": 2}
        assert (await client.conversations())[0]["unread"] == 0
    await widget.close()


async def test_an_operator_reaches_only_their_projects(server, project, api):
    other = create_project_on(server, "Other shop")
    op = await make_operator(server, project.id)
    admin = await make_operator(server, admin=True)
    mine = await visitor(server, project.public_key, "mine")
    theirs = await visitor(server, other.public_key, "theirs")
    sid = theirs.session_id
    async with InboxClient(server.base_url) as client:
        await client.login(op.email, op.password)
        assert {c["id"] for c in await client.conversations()} == {mine.session_id}
        assert (await client.get("/conversations", project=other.id)).status_code == 404
        for response in (
            await client.get(f"/conversations/{sid}"),
            await client.reply(sid, "not mine to answer"),
            await client.post(f"/conversations/{sid}/close"),
            await client.post(f"/conversations/{sid}/ai", {"enabled": False}),
            await client.post(f"/conversations/{sid}/read", {"seq": 1}),
        ):
            assert response.status_code == 404
            assert response.json()["error"]["code"] == "session_not_found"
        me = (await client.get("/me")).json()
        assert [p["id"] for p in me["projects"]] == [project.id]
    stored = (await api.get(f"/api/v1/sessions/{sid}", headers=other.auth)).json()
    assert stored["status"] == "active" and stored["lastSeq"] == 1 and stored["aiEnabled"] is True
    async with InboxClient(server.base_url) as client:  # an admin reaches every project
        await client.login(admin.email, admin.password)
        ids = {c["id"] for c in await client.conversations()}
        assert {mine.session_id, sid} <= ids
    await mine.close()
    await theirs.close()
