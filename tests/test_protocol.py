"""The widget protocol through the real /ws endpoint of a real server, on every backend."""

from __future__ import annotations

import asyncio

import orjson
import pytest
import websockets
from sqlalchemy import text

from pocketping.store.engine import create_engine
from pocketping_testkit.widget_client import WidgetClient


async def connect(server, project, **kw) -> WidgetClient:
    w = await WidgetClient.connect(server.ws_url, project.public_key, **kw)
    return w


async def test_new_visitor_gets_a_session_and_a_token(server, project):
    w = await connect(server, project, metadata={"url": "https://shop.test/pricing", "language": "fr-FR"},
                      user_agent="Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
                                 "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36")
    welcome = w.welcome
    assert welcome["sessionId"].startswith("sess_") and welcome["visitorId"].startswith("vis_")
    assert welcome["status"] == "active" and welcome["lastSeq"] == 0 and welcome["protocol"] == 1
    assert welcome["settings"]["operatorName"] == "Support"
    assert await w.synced() == []
    await w.close()

    async with server_api(server) as api:
        r = await api.get(f"/api/v1/sessions/{welcome['sessionId']}", headers=project.auth)
    meta = r.json()["metadata"]
    assert meta["url"] == "https://shop.test/pricing" and meta["language"] == "fr-FR"
    assert meta["browser"] == "Chrome 131" and meta["os"] == "macOS" and meta["device"] == "desktop"
    assert "ip" not in meta and "country" not in meta  # privacy by default


def server_api(server):
    import httpx

    return httpx.AsyncClient(base_url=server.base_url, timeout=20)


async def test_ack_comes_only_after_the_message_is_committed(server, project, database):
    w = await connect(server, project)
    await w.synced()
    ack = await w.say("is this stored?")
    # An independent connection (another process, as far as the database knows) sees the row
    # the moment the ack arrives: the ack was sent after commit.
    engine = create_engine(database.url)
    try:
        async with engine.connect() as conn:
            row = (await conn.execute(text("SELECT seq, sender FROM messages WHERE id = :id"),
                                      {"id": ack["id"]})).one()
    finally:
        await engine.dispose()
    assert tuple(row) == (ack["seq"], "visitor")
    await w.close()


async def test_resend_with_the_same_client_id_is_stored_once(server, project, api):
    w = await connect(server, project)
    await w.synced()
    first = await w.say("only once", client_id="dup-1")
    second = await w.say("only once", client_id="dup-1")
    assert second["id"] == first["id"] and second["seq"] == first["seq"]
    assert first["duplicate"] is False and second["duplicate"] is True
    r = await api.get(f"/api/v1/sessions/{w.session_id}/messages", headers=project.auth)
    assert [m["text"] for m in r.json()["messages"]] == ["only once"]
    await w.close()


async def test_resend_of_an_unacked_message_after_a_dropped_connection(server, project, api):
    w = await connect(server, project)
    await w.synced()
    # Send, then drop the connection without waiting for the ack.
    await w.send({"type": "message", "text": "sent into the void?", "clientId": "lost-ack-1"})
    await w.ws.close()
    # The widget does not know whether it was stored: it resends with the same clientId.
    w2 = await connect(server, project, token=w.token, last_seq=0)
    history = await w2.synced()
    ack = await w2.say("sent into the void?", client_id="lost-ack-1")
    r = await api.get(f"/api/v1/sessions/{w2.session_id}/messages", headers=project.auth)
    texts = [m["text"] for m in r.json()["messages"]]
    assert texts == ["sent into the void?"]
    assert ack["seq"] == 1
    # If the first send was stored before the drop, the replay had it, exactly once.
    assert len([f for f in history if f["type"] == "message"]) in (0, 1)
    await w2.close()


async def test_resume_replays_only_what_was_missed_in_order(server, project, api):
    w = await connect(server, project)
    await w.synced()
    for i in range(3):
        await w.say(f"visitor {i}")
    last_seen = 3
    await w.close()
    # While the visitor is away, the team answers twice.
    for i in range(2):
        r = await api.post(f"/api/v1/sessions/{w.session_id}/messages", headers=project.auth,
                           json={"text": f"operator {i}", "operatorName": "Sarah"})
        assert r.status_code == 201
    back = await connect(server, project, token=w.token, last_seq=last_seen)
    assert back.session_id == w.session_id
    replay = await back.synced()
    assert [(f["message"]["seq"], f["message"]["text"]) for f in replay] == [(4, "operator 0"), (5, "operator 1")]
    assert all(f["message"]["sender"] == "operator" and f["message"]["operatorName"] == "Sarah" for f in replay)
    await back.close()
    # A new tab without lastSeq gets the whole history, once, in order.
    fresh = await connect(server, project, token=w.token)
    assert [f["message"]["seq"] for f in await fresh.synced()] == [1, 2, 3, 4, 5]
    await fresh.close()


async def test_live_operator_reply_and_two_tabs_in_sync(server, project, api):
    tab1 = await connect(server, project)
    await tab1.synced()
    tab2 = await connect(server, project, token=tab1.token)
    await tab2.synced()
    assert tab2.session_id == tab1.session_id
    ack = await tab1.say("hello from tab 1")
    # The other tab sees the visitor's own message too.
    seen = await tab2.expect("message", seq=ack["seq"])
    assert seen["message"]["text"] == "hello from tab 1"
    r = await api.post(f"/api/v1/sessions/{tab1.session_id}/messages", headers=project.auth,
                       json={"text": "hi, Sarah here", "operatorName": "Sarah"})
    reply = r.json()
    for tab in (tab1, tab2):
        frame = await tab.expect("message", seq=reply["seq"])
        assert frame["message"]["text"] == "hi, Sarah here" and frame["message"]["sender"] == "operator"
        read = await tab.expect("read")
        assert read == {"type": "read", "by": "operator", "seq": reply["seq"]}
    await tab1.close()
    await tab2.close()


async def test_no_message_is_lost_or_doubled_across_a_reconnect_race(server, project, api):
    """Replies keep arriving while the visitor reconnects: every seq arrives exactly once."""
    w = await connect(server, project)
    await w.synced()
    await w.say("start")
    await w.close()

    async def replies() -> None:
        for i in range(20):
            await api.post(f"/api/v1/sessions/{w.session_id}/messages", headers=project.auth,
                           json={"text": f"r{i}"})

    sender = asyncio.create_task(replies())
    back = await connect(server, project, token=w.token, last_seq=1)
    seqs = [f["message"]["seq"] for f in await back.synced()]
    await sender
    while len(seqs) < 20:
        frame = await back.expect("message")
        seqs.append(frame["message"]["seq"])
    assert seqs == list(range(2, 22))
    await back.close()


async def test_the_visitor_cannot_post_as_an_operator(server, project, api):
    w = await connect(server, project)
    await w.synced()
    await w.send({"type": "message", "text": "refund approved", "clientId": "x1", "sender": "operator",
                  "operatorName": "The Boss", "source": "telegram"})
    ack = await w.expect("ack", clientId="x1")
    r = await api.get(f"/api/v1/sessions/{w.session_id}/messages", headers=project.auth)
    msg = r.json()["messages"][0]
    assert msg["id"] == ack["id"]
    assert (msg["sender"], msg["operatorName"], msg["source"]) == ("visitor", None, "widget")
    await w.close()


@pytest.mark.parametrize(
    "frame, code",
    [
        ("not json at all", "invalid_json"),
        ("[1, 2]", "invalid_frame"),
        ('{"type": "teleport"}', "unknown_type"),
        ('{"type": "message", "text": "   ", "clientId": "e1"}', "empty_text"),
        ('{"type": "message", "text": 42, "clientId": "e2"}', "invalid_text"),
        ('{"type": "message", "text": "hi", "clientId": "bad id!"}', "invalid_client_id"),
        ('{"type": "read", "seq": "many"}', "invalid_seq"),
        ('{"type": "event", "name": "no spaces allowed", "data": {}}', "invalid_event_name"),
        ('{"type": "event", "name": "ok", "data": [1]}', "invalid_event_data"),
        ('{"type": "hello", "publicKey": "pk_live_x"}', "already_authenticated"),
    ],
)
async def test_bad_frames_get_an_error_and_the_connection_survives(server, project, frame, code):
    w = await connect(server, project)
    await w.synced()
    await w.ws.send(frame)
    error = await w.expect("error")
    assert error["code"] == code and error["message"]
    ack = await w.say("still here")  # the connection still works
    assert ack["seq"] >= 1
    await w.close()


async def test_size_limits(server, project):
    w = await connect(server, project)
    await w.synced()
    await w.send({"type": "message", "text": "x" * 4001, "clientId": "long"})
    error = await w.expect("error")
    assert (error["code"], error["limit"], error["clientId"]) == ("text_too_long", 4000, "long")
    await w.ws.send(orjson.dumps({"type": "message", "text": "y" * 70_000}).decode())
    assert (await w.expect("error"))["code"] == "frame_too_large"
    await w.send({"type": "event", "name": "big", "data": {"blob": "z" * 9000}})
    assert (await w.expect("error"))["code"] == "event_data_too_large"
    assert (await w.say("x" * 4000))["seq"] == 1  # exactly at the limit is fine
    await w.close()


async def test_wrong_public_key_is_refused_and_closed(server, project):
    ws = await websockets.connect(server.ws_url)
    await ws.send(orjson.dumps({"type": "hello", "publicKey": project.public_key[:-1] + "?"}).decode())
    error = orjson.loads(await ws.recv())
    assert error["code"] == "invalid_key"
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await ws.recv()
    assert closed.value.rcvd.code == 4001


async def test_a_frame_before_hello_is_refused_then_hello_works(server, project):
    ws = await websockets.connect(server.ws_url)
    await ws.send(orjson.dumps({"type": "message", "text": "hi"}).decode())
    assert orjson.loads(await ws.recv())["code"] == "not_authenticated"
    await ws.send(orjson.dumps({"type": "hello", "publicKey": project.public_key}).decode())
    assert orjson.loads(await ws.recv())["type"] == "welcome"
    await ws.close()


async def test_hello_must_come_in_time(make_server):
    srv = make_server(auth_timeout_seconds=0.3)
    ws = await websockets.connect(srv.ws_url)
    error = orjson.loads(await ws.recv())
    assert error["code"] == "auth_timeout"
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await ws.recv()
    assert closed.value.rcvd.code == 4008


async def test_custom_events_both_ways_and_replayed(server, project, api):
    w = await connect(server, project)
    await w.synced()
    await w.send({"type": "event", "name": "clicked_pricing", "data": {"plan": "pro"}, "clientId": "ev1"})
    ack = await w.expect("ack", clientId="ev1")
    assert ack["id"].startswith("evt_")
    r = await api.post(f"/api/v1/sessions/{w.session_id}/events", headers=project.auth,
                       json={"name": "show_discount", "data": {"percent": 20}})
    assert r.status_code == 201
    live = await w.expect("event")
    assert (live["name"], live["data"]) == ("show_discount", {"percent": 20})
    await w.close()
    # A tab that was not there gets the backend's event on connect; never the visitor's own.
    again = await connect(server, project, token=w.token, last_seq=0)
    replay = await again.synced()
    assert [(f["type"], f.get("name")) for f in replay] == [("event", "show_discount")]
    await again.close()
    r = await api.get(f"/api/v1/sessions/{w.session_id}/messages?include_events=true", headers=project.auth)
    assert [(m["kind"], m["name"], m["sender"]) for m in r.json()["messages"]] == [
        ("event", "clicked_pricing", "visitor"), ("event", "show_discount", "system")]


async def test_close_and_reopen_by_writing(server, project, api):
    w = await connect(server, project)
    await w.synced()
    await w.say("one question")
    r = await api.post(f"/api/v1/sessions/{w.session_id}/close", headers=project.auth)
    assert r.json()["status"] == "closed" and r.json()["closedAt"].endswith("Z")
    assert (await w.expect("session"))["status"] == "closed"
    notice = await w.expect("message", kind="notice")
    assert notice["message"]["name"] == "closed" and notice["message"]["sender"] == "system"
    # Closing twice changes nothing.
    r2 = await api.post(f"/api/v1/sessions/{w.session_id}/close", headers=project.auth)
    assert r2.json()["lastSeq"] == r.json()["lastSeq"]
    await w.say("one more thing")
    assert (await w.expect("session"))["status"] == "active"
    r = await api.get(f"/api/v1/sessions/{w.session_id}", headers=project.auth)
    assert r.json()["status"] == "active" and r.json()["closedAt"] is None
    r = await api.get(f"/api/v1/sessions/{w.session_id}/messages", headers=project.auth)
    assert [(m["kind"], m.get("name") if m["kind"] == "notice" else m["text"]) for m in r.json()["messages"]] == [
        ("message", "one question"), ("notice", "closed"), ("notice", "reopened"), ("message", "one more thing")]
    await w.close()


async def test_read_receipts(server, project, api):
    tab1 = await connect(server, project)
    await tab1.synced()
    tab2 = await connect(server, project, token=tab1.token)
    await tab2.synced()
    r = await api.post(f"/api/v1/sessions/{tab1.session_id}/messages", headers=project.auth, json={"text": "hey"})
    await tab1.send({"type": "read", "seq": r.json()["seq"]})
    assert await tab2.expect("read", by="visitor") == {"type": "read", "by": "visitor", "seq": 1}
    r = await api.get(f"/api/v1/sessions/{tab1.session_id}", headers=project.auth)
    assert r.json()["visitorReadSeq"] == 1
    await tab1.close()
    await tab2.close()


async def test_ping_pong_and_identify_without_secret(server, project, api):
    w = await connect(server, project)
    await w.synced()
    await w.send({"type": "ping", "t": 123})
    assert await w.expect("pong") == {"type": "pong", "t": 123}
    await w.send({"type": "identify", "id": "user_1", "email": "ana@example.com", "name": "Ana", "plan": "pro"})
    identified = await w.expect("identified")
    assert identified["identity"] == {"id": "user_1", "email": "ana@example.com", "name": "Ana",
                                      "traits": {"plan": "pro"}, "verified": False}
    r = await api.get(f"/api/v1/sessions/{w.session_id}", headers=project.auth)
    assert r.json()["identity"]["email"] == "ana@example.com"
    await w.close()


async def test_identify_with_an_identity_secret_needs_a_valid_user_hash(server, api, make_project):
    from pocketping.actions.projects import update_project
    from pocketping.actions.sessions import user_hash

    keys = make_project()
    secret = "s3cret-identity-key-123"
    server.call(update_project(server.services, keys.id, identity_secret=secret))
    w = await connect(server, keys)
    await w.synced()
    await w.send({"type": "identify", "id": "user_1", "userHash": "0" * 64})
    assert (await w.expect("error"))["code"] == "identity_rejected"
    await w.send({"type": "identify", "id": "user_1"})
    assert (await w.expect("error"))["code"] == "identity_rejected"
    r = await api.get(f"/api/v1/sessions/{w.session_id}", headers=keys.auth)
    assert r.json()["identity"] is None  # still anonymous
    await w.send({"type": "identify", "id": "user_1", "userHash": user_hash(secret, "user_1")})
    assert (await w.expect("identified"))["identity"]["verified"] is True
    await w.close()
