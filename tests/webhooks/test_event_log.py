"""The event log under concurrency: seqs are gap-free and in commit order, nothing fails."""

from __future__ import annotations

import asyncio

from pocketping_sdk import PocketPing

from pocketping_testkit.widget_client import WidgetClient


async def test_concurrent_writers_get_an_ordered_gap_free_log(server, project):
    async def visitor(i: int) -> str:
        w = await WidgetClient.connect(server.ws_url, project.public_key)
        await w.synced()
        for j in range(4):
            await w.say(f"{i}-{j}")
        await w.close()
        return w.session_id

    # A fresh project: even the very first events (the counter row's creation) race.
    sessions = await asyncio.gather(*(visitor(i) for i in range(8)))
    pp = PocketPing(secret_key=project.secret_key, base_url=server.base_url)
    events = await pp.list_events(after=0, limit=500)
    assert [e.seq for e in events] == list(range(1, 8 * 5 + 1))
    for session_id in sessions:
        mine = [e for e in events if e.session_id == session_id]
        assert mine[0].type == "session.created"
        assert [e.message().text.split("-")[1] for e in mine[1:]] == ["0", "1", "2", "3"]
    page = await pp.list_events(after=10, limit=5)
    assert [e.seq for e in page] == [11, 12, 13, 14, 15] and page.next_cursor == "15"
    await pp.aclose()


async def test_erasing_a_visitor_erases_their_events(server, project, api):
    w = await WidgetClient.connect(server.ws_url, project.public_key)
    await w.synced()
    await w.send({"type": "event", "name": "private_thing", "data": {"email": "ana@example.com"}, "clientId": "p"})
    await w.expect("ack", clientId="p")
    await w.close()
    pp = PocketPing(secret_key=project.secret_key, base_url=server.base_url)
    assert any(e.session_id == w.session_id for e in await pp.list_events(after=0, limit=500))
    erased = await api.delete(f"/api/v1/visitors/{w.welcome['visitorId']}", headers=project.auth)
    assert erased.status_code == 200
    assert not any(e.session_id == w.session_id for e in await pp.list_events(after=0, limit=500))
    await pp.aclose()
