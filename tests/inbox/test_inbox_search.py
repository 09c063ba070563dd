"""Search from the inbox: only the operator's projects, one of them on request (all backends)."""

from __future__ import annotations

from conftest import create_project_on  # tests/conftest.py
from pocketping_testkit.inbox_client import InboxClient

from .helpers import make_operator, visitor


async def test_inbox_search_reaches_only_the_operators_projects(server, project):
    other = create_project_on(server, "Elsewhere")
    third = create_project_on(server, "Third")
    op = await make_operator(server, project.id, third.id)
    mine = await visitor(server, project.public_key, "the gazebo order is late")
    also_mine = await visitor(server, third.public_key, "gazebo assembly question")
    theirs = await visitor(server, other.public_key, "gazebo in another project")
    async with InboxClient(server.base_url) as client:
        await client.login(op.email, op.password)
        found = (await client.get("/search", q="Gazebo")).json()["results"]
        assert [h["sessionId"] for h in found] == [also_mine.session_id, mine.session_id]
        assert {h["projectName"] for h in found} == {"Test", "Third"}
        only = (await client.get("/search", q="gazebo", project=project.id)).json()["results"]
        assert [h["sessionId"] for h in only] == [mine.session_id]
        refused = await client.get("/search", q="gazebo", project=other.id)
        assert refused.status_code == 404 and refused.json()["error"]["code"] == "project_not_found"
        bad = await client.get("/search", q="?!")
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_query"
    async with InboxClient(server.base_url) as anonymous:
        assert (await anonymous.get("/search", q="gazebo")).status_code == 401
    for w in (mine, also_mine, theirs):
        await w.close()
