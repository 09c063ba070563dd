"""The operator WebSocket at /inbox/ws: live events of the operator's projects only, typing both
ways, presence, and the Origin and sign-in checks (real server, real WebSocket)."""

from __future__ import annotations

import asyncio

import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from conftest import create_project_on  # tests/conftest.py
from pocketping.actions.operators import remove_operator, reset_password
from pocketping_testkit.inbox_client import InboxClient
from pocketping_testkit.widget_client import WidgetClient

from .helpers import make_operator, visitor


async def test_live_events_arrive_for_own_projects_only(server, project):
    other = create_project_on(server, "Other shop")
    op = await make_operator(server, project.id)
    async with InboxClient(server.base_url) as client:
        await client.login(op.email, op.password)
        sock = await client.socket()
        # The other project's visitor writes first: had it been forwarded, it would come first.
        theirs = await visitor(server, other.public_key, "not for you")
        mine = await visitor(server, project.public_key, "hello there")
        frame = await sock.recv()
        assert frame["type"] == "message"
        assert frame["message"]["text"] == "hello there" and frame["message"]["sender"] == "visitor"
        assert frame["session"]["id"] == mine.session_id
        assert frame["session"]["label"] == f"Visitor {mine.welcome['visitorId'][-6:]}"
        assert frame["session"]["projectName"] == "Test"
        # The visitor sees that the team has it.
        assert await mine.expect("delivered") == {"type": "delivered", "seq": 1}
        # Closing shows up as a session change and a notice.
        await client.post(f"/conversations/{mine.session_id}/close")
        assert (await sock.expect("session"))["session"]["status"] == "closed"
        notice = await sock.expect("message", kind="notice")
        assert notice["message"]["text"] == "Conversation closed"
        assert all(f.get("session", {}).get("projectId") in (None, project.id) for f in sock.seen)
        await sock.close()
        for w in (theirs, mine):
            await w.close()


async def test_typing_both_ways(server, project):
    op = await make_operator(server, project.id, name="Sarah")
    widget = await visitor(server, project.public_key, "hi")
    async with InboxClient(server.base_url) as client:
        await client.login(op.email, op.password)
        sock = await client.socket()
        await widget.send({"type": "typing", "active": True})
        frame = await sock.expect("typing")
        assert frame == {"type": "typing", "sessionId": widget.session_id, "active": True}
        await sock.send({"type": "typing", "sessionId": widget.session_id, "active": True})
        shown = await widget.expect("typing")
        assert shown["sender"] == "operator" and shown["active"] is True and shown["operatorName"] == "Sarah"
        await sock.close()
    await widget.close()


async def test_an_open_inbox_makes_operators_online(server):
    project = create_project_on(server, "Presence")
    op = await make_operator(server, project.id)
    widget = await WidgetClient.connect(server.ws_url, project.public_key)
    assert widget.welcome["online"] is False
    await widget.synced()
    async with InboxClient(server.base_url) as client:
        await client.login(op.email, op.password)
        sock = await client.socket()
        assert (await widget.expect("presence"))["online"] is True
        again = await WidgetClient.connect(server.ws_url, project.public_key)
        assert again.welcome["online"] is True
        await sock.close()
        await again.close()
    await widget.close()


async def test_the_socket_needs_our_origin_and_a_sign_in(server, project):
    op = await make_operator(server, project.id)
    url = server.base_url.replace("http", "ws", 1) + "/inbox/ws"
    async with InboxClient(server.base_url) as client:
        await client.login(op.email, op.password)
        for origin in ("https://evil.example", None):
            with pytest.raises(InvalidStatus) as refused:
                await websockets.connect(url, origin=origin,  # type: ignore[arg-type]
                                         additional_headers={"Cookie": client.cookie_header()}, open_timeout=10)
            assert refused.value.response.status_code == 403
    anonymous = await websockets.connect(url, origin=server.base_url, open_timeout=10)  # type: ignore[arg-type]
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(anonymous.recv(), 10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4001


async def test_an_open_inbox_is_signed_out_when_the_operator_loses_access(server, project):
    """The CLI works on the database from another process; the server notices within seconds."""
    reset, removed = await make_operator(server, project.id), await make_operator(server, project.id)

    async def closed_code(sock) -> int:
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await sock.recv(timeout=15)
        assert closed.value.rcvd is not None
        return closed.value.rcvd.code

    async with InboxClient(server.base_url) as one, InboxClient(server.base_url) as two:
        await one.login(reset.email, reset.password)
        await two.login(removed.email, removed.password)
        socks = [await one.socket(), await two.socket()]
        await server.acall(reset_password(server.services, reset.email))
        await server.acall(remove_operator(server.services, removed.email))
        assert await asyncio.gather(*(closed_code(s) for s in socks)) == [4001, 4001]


async def test_operators_show_offline_once_the_inbox_was_closed_for_the_presence_timeout(make_server):
    from pocketping.actions.projects import create_project
    from pocketping.clock import FakeClock

    clock = FakeClock()
    srv = make_server(clock=clock, presence_timeout_seconds=60)
    project, _ = await srv.acall(create_project(srv.services, "Presence"))
    op = await make_operator(srv, project.id)
    widget = await WidgetClient.connect(srv.ws_url, project.public_key)
    await widget.synced()
    async with InboxClient(srv.base_url) as client:
        await client.login(op.email, op.password)
        sock = await client.socket()
        assert (await widget.expect("presence"))["online"] is True
        await sock.close()
    await srv.acall(srv.node.inbox.wait_idle())  # its heartbeat has stopped
    clock.advance(61)  # nobody active for the timeout: the presence tracker's next check says so
    clock.advance(5)
    assert (await widget.expect("presence"))["online"] is False
    await widget.close()
