"""The inbox list reads the unread count and last message kept on the session row: they stay
what the timeline says through messages, reads, notes, events, edits and deletes; and lists of
sessions page by a (last_activity, id) cursor, every session once, in order, ties included."""

from __future__ import annotations

import asyncio
from datetime import datetime

from pocketping.actions.edits import delete_operator_message
from pocketping_testkit.inbox_client import InboxClient
from pocketping_testkit.widget_client import WidgetClient

from .helpers import make_operator, visitor


async def _truth(api, project, session_id: str) -> tuple[int, str | None]:
    """The unread count and last message's text recomputed from the REST timeline."""
    session = (await api.get(f"/api/v1/sessions/{session_id}", headers=project.auth)).json()
    items = (await api.get(f"/api/v1/sessions/{session_id}/messages", headers=project.auth,
                           params={"limit": 500})).json()["messages"]
    chat = [m for m in items if m["kind"] == "message"]
    unread = sum(1 for m in chat if m["sender"] == "visitor" and m["seq"] > session["operatorReadSeq"])
    return unread, (chat[-1]["text"] if chat else None)


async def test_unread_and_last_message_follow_every_change(server, project, api):
    op = await make_operator(server, project.id)
    widget = await visitor(server, project.public_key, "one", "two")
    sid = widget.session_id
    url = f"/api/v1/sessions/{sid}"
    async with InboxClient(server.base_url) as client:
        await client.login(op.email, op.password)

        async def check(expected: tuple[int, str | None], status: str = "active") -> dict:
            [conv] = [c for c in await client.conversations(status) if c["id"] == sid]
            assert (conv["unread"], conv["lastMessage"]["text"]) == expected
            assert await _truth(api, project, sid) == expected
            opened = (await client.get(f"/conversations/{sid}")).json()["conversation"]
            assert (opened["unread"], opened["lastMessage"]["text"]) == expected
            return conv

        await check((2, "two"))
        r = await api.post(f"{url}/messages", headers=project.auth, json={"text": "answer"})
        answer = r.json()
        await check((0, "answer"))  # replying reads everything before it
        await widget.say("three")
        await check((1, "three"))
        await api.post(f"{url}/messages", headers=project.auth, json={"text": "note", "internal": True})
        await api.post(f"{url}/events", headers=project.auth, json={"name": "promo", "data": {}})
        await check((1, "three"))  # notes and events are not chat messages
        await client.post(f"/conversations/{sid}/read", {"seq": 3})  # an older mark: nothing changes
        await check((1, "three"))
        r = await api.post(f"{url}/messages", headers=project.auth, json={"text": "four"})
        four = r.json()
        r = await api.patch(f"/api/v1/messages/{four['id']}", headers=project.auth, json={"text": "four!"})
        assert r.status_code == 200, r.text
        await check((0, "four!"))  # an edit shows in place
        r = await api.patch(f"/api/v1/messages/{answer['id']}", headers=project.auth, json={"text": "answer!"})
        await check((0, "four!"))
        await server.acall(delete_operator_message(server.services, project.id, sid, four["id"], origin="api"))
        conv = await check((0, ""))  # still the last message, shown as deleted
        assert conv["lastMessage"]["deletedAt"] is not None
        await widget.say("five")
        await widget.say("six")
        await check((2, "six"))
        r = await client.post(f"/conversations/{sid}/read", {"seq": conv["lastMessage"]["seq"] + 1})
        assert r.json() == {"changed": True}
        await check((1, "six"))  # read up to "five"
        r = await client.reply(sid, "from the inbox")
        await check((0, "from the inbox"))
        await widget.say("seven")
        await api.post(f"{url}/close", headers=project.auth)
        await check((1, "seven"), status="closed")  # the closing notice is no chat message
    await widget.close()


async def _pages(fetch, key: str) -> list[dict]:
    found, cursor, pages = [], None, 0
    while True:
        body = await fetch(cursor)
        found += body[key]
        cursor = body["nextCursor"]
        pages += 1
        if cursor is None:
            return found
        assert pages < 100


def _ordered(items: list[dict], at: str) -> bool:
    """Newest activity first (ties in the database's own order of ids: its collation, not Python's)."""
    times = [datetime.fromisoformat(i[at]) for i in items]
    return times == sorted(times, reverse=True)


async def test_session_lists_page_every_session_once_in_order(server, make_project, api):
    project = make_project("Pages")
    op = await make_operator(server, project.id)
    # Connected and writing at once: the group commit gives many of them the same last activity.
    widgets = await asyncio.gather(*(WidgetClient.connect(server.ws_url, project.public_key) for _ in range(23)))
    for w in widgets:
        await w.synced()
    await asyncio.gather(*(w.say("hi") for w in widgets[:17]))
    ids = {w.session_id for w in widgets}

    async def rest(cursor, **params):
        r = await api.get("/api/v1/sessions", headers=project.auth,
                          params={"limit": 4, **params, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        return r.json()

    listed = await _pages(rest, "sessions")
    assert sorted(s["id"] for s in listed) == sorted(ids)  # every session exactly once
    assert _ordered(listed, "lastActivity")
    assert len({s["lastActivity"] for s in listed}) < len(listed)  # ties, which the id orders
    active = await _pages(lambda c: rest(c, status="active"), "sessions")
    assert [s["id"] for s in active] == [s["id"] for s in listed]

    async with InboxClient(server.base_url) as client:
        await client.login(op.email, op.password)

        async def inbox(cursor):
            r = await client.get("/conversations", limit=5, **({"cursor": cursor} if cursor else {}))
            assert r.status_code == 200, r.text
            return r.json()

        convs = await _pages(inbox, "conversations")
    wrote = {w.session_id for w in widgets[:17]}
    assert sorted(c["id"] for c in convs) == sorted(wrote)
    assert [c["id"] for c in convs] == [s["id"] for s in listed if s["id"] in wrote]
    assert all(c["unread"] == 1 and c["lastMessage"]["text"] == "hi" for c in convs)
    r = await api.get("/api/v1/sessions", headers=project.auth, params={"cursor": "not-a-cursor"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_cursor"
    for w in widgets:
        await w.close()


async def test_the_inbox_pages_across_several_projects_in_one_order(server, make_project):
    shops = [make_project(f"Shop {i}") for i in range(3)]
    op = await make_operator(server, *(p.id for p in shops))
    widgets = []
    for round_ in range(4):  # the projects' conversations interleave in time
        for shop in shops:
            widgets.append(await visitor(server, shop.public_key, f"hello {round_}"))
    async with InboxClient(server.base_url) as client:
        await client.login(op.email, op.password)

        async def inbox(cursor, **params):
            r = await client.get("/conversations", limit=5, **params, **({"cursor": cursor} if cursor else {}))
            assert r.status_code == 200, r.text
            return r.json()

        convs = await _pages(inbox, "conversations")
        assert [c["id"] for c in convs] == [w.session_id for w in reversed(widgets)]  # newest first, each once
        assert _ordered(convs, "lastActivity")
        one = await _pages(lambda c: inbox(c, project=shops[1].id), "conversations")
        assert [c["id"] for c in one] == [c["id"] for c in convs if c["projectId"] == shops[1].id]
    for w in widgets:
        await w.close()
