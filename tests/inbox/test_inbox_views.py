"""Views, assignment and the same person's earlier conversations (inbox API and REST, all backends)."""

from __future__ import annotations

from conftest import create_project_on  # tests/conftest.py
from pocketping_testkit.inbox_client import InboxClient

from .helpers import make_operator, visitor


async def _assign(client: InboxClient, session_id: str, who: str | None) -> dict:
    r = await client.post(f"/conversations/{session_id}/assign", {"assignee": who})
    assert r.status_code == 200, r.text
    return r.json()["session"]


async def test_assign_with_rest_and_the_inbox_and_filter_mine_and_unassigned(server, project, api):
    sarah = await make_operator(server, project.id, name="Sarah")
    tom = await make_operator(server, project.id, name="Tom")
    outsider = await make_operator(server, create_project_on(server, "Other").id)
    first = await visitor(server, project.public_key, "first question")
    second = await visitor(server, project.public_key, "second question")
    third = await visitor(server, project.public_key, "third question")
    async with InboxClient(server.base_url) as client:
        await client.login(sarah.email, sarah.password)
        me = (await client.get("/me")).json()
        sarah_id = me["operator"]["id"]
        assert {t["name"] for t in me["team"]} >= {"Sarah", "Tom"}
        assert outsider.email not in {t["email"] for t in me["team"]}
        assert (await _assign(client, first.session_id, "me"))["assigneeId"] == sarah_id

        # REST: by email, by id, refused for someone outside the project, null unassigns.
        r = await api.patch(f"/api/v1/sessions/{second.session_id}", json={"assignee": tom.email.upper()},
                            headers=project.auth)
        assert r.status_code == 200, r.text
        tom_id = r.json()["assigneeId"]
        assert tom_id and tom_id != sarah_id
        for who in (outsider.email, "nobody@example.com", "op_doesnotexist"):
            bad = await api.patch(f"/api/v1/sessions/{third.session_id}", json={"assignee": who},
                                  headers=project.auth)
            assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_assignee", who
        events = (await api.get("/api/v1/events", params={"type": "session.assigned"}, headers=project.auth)).json()
        assert [(e["data"]["sessionId"], e["data"]["assignee"]["name"]) for e in events["events"]] == [
            (first.session_id, "Sarah"), (second.session_id, "Tom")]

        async def ids(**params: str) -> list[str]:
            r = await client.get("/conversations", status="active", **params)
            assert r.status_code == 200, r.text
            return [c["id"] for c in r.json()["conversations"]]

        assert await ids(view="mine") == [first.session_id]
        assert await ids(view="unassigned") == [third.session_id]
        assert await ids() == [third.session_id, second.session_id, first.session_id]

        # Unassign; the inbox hears it live.
        sock = await client.socket()
        r = await api.patch(f"/api/v1/sessions/{first.session_id}", json={"assignee": None}, headers=project.auth)
        assert r.json()["assigneeId"] is None
        frame = await sock.expect("session")
        assert frame["session"]["id"] == first.session_id and frame["session"]["assigneeId"] is None
        assert await ids(view="mine") == []
        await sock.close()
    for w in (first, second, third):
        await w.close()


async def test_sort_by_waiting_time_puts_the_longest_unanswered_wait_first(server, project, api):
    op = await make_operator(server, project.id)
    waits_longest = await visitor(server, project.public_key, "I asked first")
    answered = await visitor(server, project.public_key, "I asked second")
    waits_less = await visitor(server, project.public_key, "I asked third")
    await waits_longest.say("still there?")  # the wait counts from the first unanswered message
    r = await api.post(f"/api/v1/sessions/{answered.session_id}/messages", json={"text": "Hello!"},
                       headers=project.auth)
    assert r.status_code == 201
    async with InboxClient(server.base_url) as client:
        await client.login(op.email, op.password)
        found = (await client.get("/conversations", status="active", sort="waiting")).json()
        assert [c["id"] for c in found["conversations"]] == [
            waits_longest.session_id, waits_less.session_id, answered.session_id]
        by_id = {c["id"]: c for c in found["conversations"]}
        assert by_id[answered.session_id]["waitingSince"] is None
        assert by_id[waits_longest.session_id]["waitingSince"] < by_id[waits_less.session_id]["waitingSince"]
        assert found["nextCursor"] is None
        await api.post(f"/api/v1/sessions/{waits_less.session_id}/close", headers=project.auth)
        closed = (await client.get("/conversations", status="closed")).json()["conversations"]
        assert closed[0]["waitingSince"] is None
    for w in (waits_longest, answered, waits_less):
        await w.close()


async def test_the_same_persons_earlier_conversations(server, project):
    other = create_project_on(server, "Second shop")
    op = await make_operator(server, project.id, other.id)
    earlier = await visitor(server, other.public_key, "my old question")
    await earlier.send({"type": "identify", "id": "u-1", "email": "Kim@Example.com"})
    await earlier.expect("identified")
    stranger = await visitor(server, project.public_key, "hello")
    await stranger.send({"type": "identify", "id": "u-2", "email": "kim@example.org"})
    await stranger.expect("identified")
    now = await visitor(server, project.public_key, "a new question")
    await now.send({"type": "identify", "id": "u-1", "email": "kim@example.com"})
    await now.expect("identified")
    async with InboxClient(server.base_url) as client:
        await client.login(op.email, op.password)
        found = (await client.get(f"/conversations/{now.session_id}/earlier")).json()["conversations"]
        assert [c["id"] for c in found] == [earlier.session_id]
        assert found[0]["projectName"] == "Second shop" and found[0]["lastMessage"]["text"] == "my old question"
        assert (await client.get(f"/conversations/{stranger.session_id}/earlier")).json()["conversations"] == []
    for w in (earlier, stranger, now):
        await w.close()
