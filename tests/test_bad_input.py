"""Inputs found by an adversarial pass that used to end in an HTTP 500 or a dropped WebSocket
(NUL characters, integers beyond their columns, malformed URLs, deep nesting): each is a 4xx
(or an error frame) with a stable code, on every backend (F2, F3)."""

from __future__ import annotations

import json

import httpx
import orjson
import pytest
import websockets

from inbox.helpers import make_operator
from pocketping_testkit.inbox_client import InboxClient
from pocketping_testkit.widget_client import WidgetClient


async def _session(server, project) -> str:
    w = await WidgetClient.connect(server.ws_url, project.public_key)
    await w.synced()
    await w.say("hello")
    await w.close()
    return w.session_id


def _stable_4xx(response: httpx.Response) -> str:
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    code = response.json()["error"]["code"]
    assert isinstance(code, str) and code, response.text
    return code


@pytest.mark.parametrize(("method", "path", "body", "code"), [
    ("POST", "/api/v1/webhooks", {"url": "http://[::1"}, "unsafe_url"),
    ("POST", "/api/v1/kb", {"url": "http://[::1"}, "unsafe_url"),
    ("PATCH", "/api/v1/ai", {"baseUrl": "http://[::1"}, "unsafe_url"),
    ("POST", "/api/v1/bridges/retry", {"deliveryId": 1180591620717411303424}, "invalid_input"),
    ("GET", "/api/v1/sessions/%00", None, "nul_not_allowed"),
    ("GET", "/api/v1/visitors/%00/export", None, "nul_not_allowed"),
    ("POST", "/api/v1/sessions/{session}/messages", {"text": "hi", "operatorName": "Op\u0000"}, "nul_not_allowed"),
    ("POST", "/api/v1/kb", {"name": "n\u0000.md", "content": "x"}, "nul_not_allowed"),
    ("PATCH", "/api/v1/ai", {"model": "m\u0000"}, "nul_not_allowed"),
    ("GET", "/api/v1/sessions/{session}/messages?cursor=9999999999", None, "invalid_cursor"),
])
async def test_rest_answers_bad_input_with_a_stable_4xx(server, project, method, path, body, code):
    session = await _session(server, project)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=20) as api:
        response = await api.request(method, path.format(session=session),
                                     headers={**project.auth, "Content-Type": "application/json"},
                                     content=json.dumps(body) if body is not None else None)
    assert _stable_4xx(response) == code


async def test_a_huge_last_event_id_is_refused_before_the_stream_starts(server, project):
    async with httpx.AsyncClient(base_url=server.base_url, timeout=20) as api:
        response = await api.get("/api/v1/events/stream",
                                 headers={**project.auth, "Last-Event-ID": "99999999999999999999"})
    assert _stable_4xx(response) == "invalid_cursor"


async def test_nul_in_the_inbox_sign_in_and_api_is_refused(server, project):
    async with httpx.AsyncClient(base_url=server.base_url, timeout=20) as http:
        response = await http.post("/inbox/login", content=b"email=opa@example.com%00&password=x",
                                   headers={"Content-Type": "application/x-www-form-urlencoded",
                                            "Origin": server.base_url})
    assert _stable_4xx(response) == "nul_not_allowed"
    op = await make_operator(server, project.id)
    async with InboxClient(server.base_url) as client:
        await client.login(op.email, op.password)
        assert _stable_4xx(await client.get("/conversations/%00")) == "nul_not_allowed"
        assert (await client.get("/conversations")).status_code == 200  # a backslash-escaped one is just text


async def test_an_escaped_backslash_before_u0000_is_only_text(server, project):
    session = await _session(server, project)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=20) as api:
        response = await api.post(f"/api/v1/sessions/{session}/messages",
                                  headers={**project.auth, "Content-Type": "application/json"},
                                  content=b'{"text": "a literal \\\\u0000 in code"}')
    assert response.status_code == 201, response.text
    assert response.json()["text"] == "a literal \\u0000 in code"


async def test_bad_frames_get_an_error_frame_and_keep_the_connection(server, project):
    async with websockets.connect(server.ws_url, compression=None) as ws:
        await ws.send(orjson.dumps({"type": "hello", "publicKey": "pk_live_\u0000"}).decode())
        error = orjson.loads(await ws.recv())
        assert error["type"] == "error" and error["code"] == "invalid_frame"
        await ws.send(orjson.dumps({"type": "hello", "publicKey": project.public_key}).decode())
        assert orjson.loads(await ws.recv())["type"] == "welcome"
        nested: dict = {"v": 1}
        for _ in range(250):
            nested = {"n": nested}
        await ws.send(orjson.dumps({"type": "identify", "id": "u1", "deep": nested}).decode())
        while (frame := orjson.loads(await ws.recv()))["type"] != "error":
            pass
        assert frame["code"] == "invalid_frame"
        await ws.send(orjson.dumps({"type": "read", "seq": 9223372036854775808}).decode())
        while (frame := orjson.loads(await ws.recv()))["type"] != "error":
            pass
        assert frame["code"] == "invalid_seq"
        await ws.send(orjson.dumps({"type": "message", "text": "still here", "clientId": "c1"}).decode())
        while (frame := orjson.loads(await ws.recv()))["type"] != "ack":
            pass
        assert frame["clientId"] == "c1"
