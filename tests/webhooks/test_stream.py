"""The live stream (Server-Sent Events): resumable without loss after a drop."""

from __future__ import annotations

import asyncio

import httpx
from pocketping_sdk import AuthenticationError, PocketPing

from conftest import create_project_on
from pocketping_testkit.server import ServerThread, make_settings
from pocketping_testkit.widget_client import WidgetClient


async def test_stream_resumes_after_the_server_goes_away(tmp_path):
    settings = make_settings(f"sqlite:///{tmp_path / 'stream.db'}", str(tmp_path / "data"))
    srv = ServerThread(settings).start()
    project = create_project_on(srv)
    pp = PocketPing(secret_key=project.secret_key, base_url=srv.base_url)
    # From the start of this new project: the first event cannot slip past a stream still connecting.
    stream = pp.stream(types=["event.triggered"], after=0)
    received: asyncio.Queue = asyncio.Queue()

    async def consume() -> None:
        async for event in stream:
            await received.put(event)

    consumer = asyncio.ensure_future(consume())
    try:
        w = await WidgetClient.connect(srv.ws_url, project.public_key)
        await w.synced()
        await w.send({"type": "event", "name": "first", "clientId": "e1"})
        first = await asyncio.wait_for(received.get(), 30)
        assert first.custom_event().name == "first"
        await w.close()

        # The server goes away (the stream drops); events happen while the consumer is cut off.
        srv.stop()
        srv = ServerThread(settings, port=srv.port).start()
        w = await WidgetClient.connect(srv.ws_url, project.public_key, token=w.token)
        await w.synced()
        for i in range(3):
            await w.send({"type": "event", "name": f"later{i}", "clientId": f"l{i}"})
            await w.expect("ack", clientId=f"l{i}")
        await w.close()
        later = [await asyncio.wait_for(received.get(), 20) for _ in range(3)]
        assert [e.custom_event().name for e in later] == ["later0", "later1", "later2"]
        assert [e.seq for e in later] == sorted(e.seq for e in later)
        assert received.empty()
    finally:
        consumer.cancel()
        await asyncio.gather(consumer, return_exceptions=True)
        await pp.aclose()
        srv.stop()


async def test_stream_from_a_cursor_and_last_event_id(server, project, api):
    pp = PocketPing(secret_key=project.secret_key, base_url=server.base_url)
    w = await WidgetClient.connect(server.ws_url, project.public_key)
    await w.synced()
    for i in range(3):
        await w.send({"type": "event", "name": f"e{i}", "clientId": f"c{i}"})
        await w.expect("ack", clientId=f"c{i}")
    await w.close()
    events = await pp.list_events(after=0, types=["event.triggered"])
    assert [e.custom_event().name for e in events] == ["e0", "e1", "e2"]
    # Raw SSE with Last-Event-ID: only what came after.
    async with httpx.AsyncClient(base_url=server.base_url, headers=project.auth, timeout=10) as client:
        async with client.stream("GET", "/api/v1/events/stream", params={"type": "event.triggered"},
                                 headers={"Last-Event-ID": str(events[0].seq)}) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            lines: list[str] = []
            async for line in response.aiter_lines():
                lines.append(line)
                if sum(1 for x in lines if x.startswith("data: ")) == 2:
                    break
    ids = [x[4:] for x in lines if x.startswith("id: ")]
    assert ids[0] == str(events[0].seq)  # the starting cursor, before any event
    assert ids[1:] == [str(events[1].seq), str(events[2].seq)]
    assert "event: event.triggered" in lines
    # The SDK, from a cursor.
    stream = pp.stream(after=events[1].seq, types=["event.triggered"])
    nxt = await asyncio.wait_for(anext(stream), 10)
    assert nxt.id == events[2].id
    await stream.aclose()
    await pp.aclose()


async def test_stream_needs_the_secret_key(server, project):
    pp = PocketPing(secret_key=project.public_key.replace("pk_", "sk_"), base_url=server.base_url)
    stream = pp.stream()
    try:
        await anext(stream)
    except AuthenticationError as exc:
        assert exc.code == "invalid_key" and exc.status == 401
    else:
        raise AssertionError("expected AuthenticationError")
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        r = await client.get("/api/v1/events/stream", headers={"Authorization": f"Bearer {project.public_key}"})
        assert r.status_code == 401 and r.json()["error"]["code"] == "secret_key_required"
    await pp.aclose()


async def test_a_project_never_sees_another_projects_events(server, project):
    other = create_project_on(server)
    w = await WidgetClient.connect(server.ws_url, other.public_key)
    await w.synced()
    await w.send({"type": "event", "name": "secret_of_other", "clientId": "x"})
    await w.expect("ack", clientId="x")
    await w.close()
    pp = PocketPing(secret_key=project.secret_key, base_url=server.base_url)
    assert all(e.project_id == project.id for e in await pp.list_events(after=0, limit=500))
    assert all(e.project_id == other.id
               for e in await PocketPing(secret_key=other.secret_key, base_url=server.base_url).list_events())
    await pp.aclose()
