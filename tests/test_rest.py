"""The REST API for backends, on every backend."""

from __future__ import annotations

import re

from sqlalchemy import text

from pocketping.store.engine import create_engine
from pocketping_testkit.widget_client import WidgetClient

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


async def visitor(server, project, *messages: str) -> WidgetClient:
    w = await WidgetClient.connect(server.ws_url, project.public_key)
    await w.synced()
    for m in messages:
        await w.say(m)
    return w


async def test_operator_reply_shape_and_live_delivery(server, project, api):
    w = await visitor(server, project, "hi")
    r = await api.post(f"/api/v1/sessions/{w.session_id}/messages", headers=project.auth,
                       json={"text": "Hello <b>there</b>", "operatorName": "Sarah"})
    assert r.status_code == 201
    body = r.json()
    assert set(body) >= {"id", "sessionId", "seq", "sender", "text", "operatorName", "createdAt"}
    assert body["sender"] == "operator" and body["operatorName"] == "Sarah" and body["seq"] == 2
    assert body["text"] == "Hello <b>there</b>" and ISO_Z.match(body["createdAt"])
    frame = await w.expect("message", seq=2)
    assert frame["message"]["id"] == body["id"]
    await w.close()


async def test_operator_reply_is_idempotent_with_a_client_id(server, project, api):
    w = await visitor(server, project, "hi")
    url = f"/api/v1/sessions/{w.session_id}/messages"
    first = await api.post(url, headers=project.auth, json={"text": "once", "clientId": "op-1"})
    again = await api.post(url, headers=project.auth, json={"text": "once", "clientId": "op-1"})
    assert first.json()["id"] == again.json()["id"]
    listed = (await api.get(url, headers=project.auth)).json()["messages"]
    assert [m["text"] for m in listed] == ["hi", "once"]
    await w.close()


async def test_bad_requests_get_clear_errors_and_change_nothing(server, project, api):
    w = await visitor(server, project, "hi")
    url = f"/api/v1/sessions/{w.session_id}/messages"
    for body, code in [({}, "empty_text"), ({"text": ""}, "empty_text"), ({"text": "   "}, "empty_text"),
                       ({"text": "x" * 4001}, "text_too_long"), ({"text": "ok", "sender": "visitor"}, "invalid_input"),
                       ({"text": "ok", "operatorName": ""}, "invalid_input")]:
        r = await api.post(url, headers=project.auth, json=body)
        assert r.status_code == 422, body
        assert r.json()["error"]["code"] == code, (body, r.json())
    r = await api.post(url, headers={**project.auth, "Content-Type": "application/json"}, content=b"{not json")
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_input"
    r = await api.get("/api/v1/sessions?cursor=garbage", headers=project.auth)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_cursor"
    r = await api.get("/api/v1/sessions?status=deleted", headers=project.auth)
    assert r.status_code == 422
    assert [m["text"] for m in (await api.get(url, headers=project.auth)).json()["messages"]] == ["hi"]
    r = await api.get("/api/v1/sessions/sess_nope", headers=project.auth)
    assert r.status_code == 404 and r.json()["error"]["code"] == "session_not_found"
    r = await api.get("/api/v1/nothing-here", headers=project.auth)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    await w.close()


async def test_session_listing_pagination_and_filter(server, make_project, api):
    project = make_project()
    clients = [await visitor(server, project, f"visitor {i}") for i in range(5)]
    await api.post(f"/api/v1/sessions/{clients[0].session_id}/close", headers=project.auth)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await api.get("/api/v1/sessions", headers=project.auth, params=params)).json()
        assert len(page["sessions"]) <= 2
        seen += [s["id"] for s in page["sessions"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(c.session_id for c in clients) and len(seen) == 5
    # Most recently active first: the closed one was touched last.
    assert seen[0] == clients[0].session_id
    active = (await api.get("/api/v1/sessions?status=active", headers=project.auth)).json()
    assert {s["id"] for s in active["sessions"]} == {c.session_id for c in clients[1:]}
    assert all(s["status"] == "active" and ISO_Z.match(s["lastActivity"]) for s in active["sessions"])
    closed = (await api.get("/api/v1/sessions?status=closed", headers=project.auth)).json()
    assert [s["id"] for s in closed["sessions"]] == [clients[0].session_id]
    for c in clients:
        await c.close()


async def test_message_pagination(server, project, api):
    w = await visitor(server, project, *[f"m{i}" for i in range(7)])
    url = f"/api/v1/sessions/{w.session_id}/messages"
    page1 = (await api.get(url, headers=project.auth, params={"limit": 3})).json()
    assert [m["seq"] for m in page1["messages"]] == [1, 2, 3] and page1["nextCursor"] == "3"
    page2 = (await api.get(url, headers=project.auth, params={"limit": 3, "cursor": page1["nextCursor"]})).json()
    assert [m["seq"] for m in page2["messages"]] == [4, 5, 6]
    page3 = (await api.get(url, headers=project.auth, params={"limit": 3, "after_seq": 6})).json()
    assert [m["text"] for m in page3["messages"]] == ["m6"] and page3["nextCursor"] is None
    await w.close()


async def test_export_and_erase_a_visitor(server, project, api, database):
    w = await visitor(server, project, "my phone is 555-0100")
    await api.post(f"/api/v1/sessions/{w.session_id}/messages", headers=project.auth, json={"text": "noted"})
    vid = w.welcome["visitorId"]
    export = (await api.get(f"/api/v1/visitors/{vid}/export", headers=project.auth)).json()
    assert export["visitorId"] == vid
    assert [m["text"] for m in export["sessions"][0]["messages"]] == ["my phone is 555-0100", "noted"]
    r = await api.delete(f"/api/v1/visitors/{vid}", headers=project.auth)
    assert r.status_code == 200 and r.json()["deleted"] == {"sessions": 1, "messages": 2}
    assert (await api.get(f"/api/v1/sessions/{w.session_id}", headers=project.auth)).status_code == 404
    assert (await api.get(f"/api/v1/visitors/{vid}/export", headers=project.auth)).status_code == 404
    engine = create_engine(database.url)
    try:
        async with engine.connect() as conn:
            left = (await conn.execute(text("SELECT COUNT(*) FROM messages WHERE session_id = :s"),
                                       {"s": w.session_id})).scalar()
    finally:
        await engine.dispose()
    assert left == 0
    await w.close()
    # The erased visitor's browser comes back: it starts over, with nothing of the old history.
    back = await WidgetClient.connect(server.ws_url, project.public_key, token=w.token, last_seq=2)
    assert back.session_id != w.session_id and await back.synced() == []
    await back.close()


async def test_health_and_openapi(server, api):
    assert (await api.get("/healthz")).json()["status"] == "ok"
    ready = await api.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    spec = (await api.get("/openapi.json")).json()
    for path in ("/api/v1/sessions", "/api/v1/sessions/{session_id}", "/api/v1/sessions/{session_id}/messages",
                 "/api/v1/sessions/{session_id}/close", "/api/v1/visitors/{visitor_id}"):
        assert path in spec["paths"]
    assert (await api.get("/docs")).status_code == 200
