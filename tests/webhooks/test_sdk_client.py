"""The SDK's HTTP behaviour: retries on 429/5xx, errors with the server's code, the sync client."""

from __future__ import annotations

import pytest
from pocketping_sdk import PocketPing, PocketPingSync, RateLimitError, ServerError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from pocketping_testkit.apps import AsgiThread
from pocketping_testkit.widget_client import WidgetClient


@pytest.fixture
def flaky():
    """A fake API that answers from a script of statuses, recording what it was sent."""
    state: dict = {"script": [], "seen": []}

    async def handler(request: Request) -> JSONResponse:
        state["seen"].append((request.method, request.url.path, await request.body()))
        status = state["script"].pop(0) if state["script"] else 200
        if status == 200:
            return JSONResponse({"id": "s", "projectId": "p", "visitorId": "v", "status": "active", "metadata": {},
                                 "createdAt": "2030-01-01T00:00:00.000Z", "lastActivity": "2030-01-01T00:00:00.000Z",
                                 "lastSeq": 0, "aiEnabled": True})
        headers = {"Retry-After": "0"} if status == 429 else {}
        return JSONResponse({"error": {"code": "rate_limited" if status == 429 else "boom", "message": "no",
                                       "retryAfter": 0}}, status_code=status, headers=headers)

    app = AsgiThread(Starlette(routes=[Route("/api/v1/{path:path}", handler, methods=["GET", "POST"])])).start()
    state["url"] = app.url
    yield state
    app.stop()


async def test_retries_on_429_and_5xx_then_succeeds(flaky):
    pp = PocketPing(secret_key="sk_live_x", base_url=flaky["url"], retry_backoff=0.01)
    flaky["script"] = [429, 503, 500]
    session = await pp.get_session("s")
    assert session.id == "s" and len(flaky["seen"]) == 4
    flaky["script"] = [503] * 10
    with pytest.raises(ServerError) as info:
        await pp.get_session("s")
    assert info.value.code == "boom" and info.value.status == 503
    flaky["script"] = [429] * 10
    with pytest.raises(RateLimitError) as rate:
        await pp.get_session("s")
    assert rate.value.code == "rate_limited" and rate.value.retry_after == 0
    await pp.aclose()


def test_writes_are_retried_with_the_same_client_id(flaky):
    pp = PocketPingSync(secret_key="sk_live_x", base_url=flaky["url"], retry_backoff=0.01)
    flaky["script"] = [502, 200]
    try:
        pp.send_message("s", "hi")
    except Exception:  # the fake answers a session, not a message; what matters is what was sent
        pass
    bodies = [body for method, _path, body in flaky["seen"] if method == "POST"]
    assert len(bodies) == 2 and bodies[0] == bodies[1] and b'"clientId"' in bodies[0]
    # A non-idempotent write is not repeated after a 5xx.
    flaky["seen"].clear()
    flaky["script"] = [502]
    with pytest.raises(ServerError):
        pp.broadcast_event("x")
    assert len(flaky["seen"]) == 1
    pp.close()


def test_sync_client_against_the_real_server(server, project):
    import asyncio

    async def open_widget():
        w = await WidgetClient.connect(server.ws_url, project.public_key)
        await w.synced()
        await w.send({"type": "event", "name": "sync_seen", "clientId": "x1"})
        await w.expect("ack", clientId="x1")
        await w.close()
        return w

    w = asyncio.run(open_widget())
    with PocketPingSync(secret_key=project.secret_key, base_url=server.base_url) as pp:
        assert w.session_id in [s.id for s in pp.list_sessions(status="active")]
        assert pp.send_message(w.session_id, "from sync", operator_name="Bo").operator_name == "Bo"
        stream = pp.stream(after=0, types=["event.triggered"])
        event = next(stream)
        stream.close()
        assert event.custom_event().name == "sync_seen"
        got = []
        pp.on_event("sync_seen")(lambda e, s: got.append((e.name, s.id)))
        assert pp.dispatch(event) == 1 and got == [("sync_seen", w.session_id)]


def test_an_unreachable_server_is_a_connection_error():
    from pocketping_sdk import APIConnectionError

    from pocketping_testkit.server import free_port

    pp = PocketPingSync(secret_key="sk_live_x", base_url=f"http://127.0.0.1:{free_port()}", retry_backoff=0.01)
    with pytest.raises(APIConnectionError) as info:
        pp.list_sessions()
    assert info.value.code == "connection_error"
