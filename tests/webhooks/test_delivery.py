"""Events reach the site's backend: a real server, a real receiver on loopback, the SDK."""

from __future__ import annotations

import asyncio

import httpx
from pocketping_sdk import CustomEvent, Message, PocketPing, Session

from pocketping_testkit.widget_client import WidgetClient


async def test_trigger_reaches_sdk_handler_through_a_webhook(server, project, receiver):
    pp = PocketPing(secret_key=project.secret_key, base_url=server.base_url)
    hook = await pp.create_webhook(receiver.url)
    assert hook.secret and hook.secret.startswith("whsec_") and hook.events == []
    receiver.pp = PocketPing(secret_key=project.secret_key, base_url=server.base_url, webhook_secret=hook.secret)

    @receiver.pp.on_event("clicked_pricing")
    async def pricing(event: CustomEvent, session: Session) -> None:
        receiver.handled.put(("pricing", event, session))

    @receiver.pp.on_event("other")
    def other(event: CustomEvent) -> None:
        receiver.handled.put(("other", event))

    @receiver.pp.on_message("visitor")
    async def visitor_message(message: Message, session: Session) -> None:
        receiver.handled.put(("message", message, session))

    w = await WidgetClient.connect(server.ws_url, project.public_key)
    await w.synced()
    await w.send({"type": "event", "name": "clicked_pricing", "data": {"plan": "pro"}, "clientId": "e1"})
    await w.expect("ack", clientId="e1")
    kind, event, session = await receiver.next_handled()
    assert kind == "pricing"
    assert event.name == "clicked_pricing" and event.data == {"plan": "pro"}
    assert event.session_id == w.session_id and event.visitor_id == w.welcome["visitorId"]
    assert event.id.startswith("ev_")
    assert isinstance(session, Session) and session.id == w.session_id

    await w.say("hello from the page")
    kind, message, session = await receiver.next_handled()
    assert (kind, message.text, message.sender, session.id) == ("message", "hello from the page", "visitor",
                                                                  w.session_id)
    await w.close()

    # The body on the wire is exactly the documented shape.
    async with httpx.AsyncClient(base_url=server.base_url, headers=project.auth) as api:
        listed = (await api.get("/api/v1/events", params={"type": "event.triggered"})).json()["events"]
    body = listed[0]
    assert set(body) == {"id", "type", "createdAt", "projectId", "data", "seq"}
    assert body["id"] == event.id and body["projectId"] == project.id
    assert set(body["data"]) == {"sessionId", "visitorId", "name", "data", "createdAt"}
    deliveries = await pp.list_deliveries(hook.id)
    assert {d.event_id for d in deliveries if d.status == "done"} >= {event.id}
    assert all(d.response_status == 200 for d in deliveries if d.status == "done")
    await pp.aclose()


async def test_every_public_event_type_is_delivered(server, project, receiver, api):
    pp = PocketPing(secret_key=project.secret_key, base_url=server.base_url)
    hook = await pp.create_webhook(receiver.url)
    receiver.pp = PocketPing(secret_key=project.secret_key, base_url=server.base_url, webhook_secret=hook.secret)
    for type_ in ("session.created", "session.closed", "session.reopened", "message.created",
                  "event.triggered", "visitor.identified"):
        receiver.pp.on(type_)(lambda event: receiver.handled.put(event))

    w = await WidgetClient.connect(server.ws_url, project.public_key)
    await w.synced()
    await w.say("hi")
    await pp.send_message(w.session_id, "Hello!", operator_name="Sarah")
    await w.send({"type": "identify", "id": "user_1", "email": "ana@example.com"})
    await w.expect("identified")
    await pp.close_session(w.session_id)
    await w.say("back again")  # reopens
    await w.send({"type": "event", "name": "done", "clientId": "e9"})
    await w.expect("ack", clientId="e9")
    seen = [await receiver.next_handled() for _ in range(8)]
    await w.close()
    # One session: one chain, so the order is the order things happened.
    assert [e.type for e in seen] == ["session.created", "message.created", "message.created",
                                      "visitor.identified", "session.closed", "session.reopened",
                                      "message.created", "event.triggered"]
    assert [e.message().sender for e in seen if e.type == "message.created"] == ["visitor", "operator", "visitor"]
    assert seen[2].message().operator_name == "Sarah"
    assert seen[3].data["identity"]["email"] == "ana@example.com"
    assert all(e.session_id == w.session_id for e in seen)
    assert len({e.id for e in seen}) == 8
    await pp.aclose()


async def test_event_filter_on_the_endpoint(server, project, receiver):
    pp = PocketPing(secret_key=project.secret_key, base_url=server.base_url)
    hook = await pp.create_webhook(receiver.url, events=["event.triggered"])
    receiver.pp = PocketPing(secret_key=project.secret_key, base_url=server.base_url, webhook_secret=hook.secret,
                             dedupe=False)
    receiver.pp.on("event.triggered")(lambda event: receiver.handled.put(event))
    w = await WidgetClient.connect(server.ws_url, project.public_key)
    await w.synced()
    await w.say("not sent to this endpoint")
    await w.send({"type": "event", "name": "wanted", "clientId": "e1"})
    await w.expect("ack", clientId="e1")
    event = await receiver.next_handled()
    assert event.custom_event().name == "wanted"
    assert [t for _, t in receiver.delivered()] == ["event.triggered"]
    await w.close()
    await pp.aclose()


async def test_emit_event_reaches_the_widget(server, project):
    pp = PocketPing(secret_key=project.secret_key, base_url=server.base_url)
    w = await WidgetClient.connect(server.ws_url, project.public_key)
    await w.synced()
    sent = await pp.emit_event(w.session_id, "show_discount", {"percent": 20})
    frame = await w.expect("event", name="show_discount")
    assert frame["data"] == {"percent": 20} and frame["id"] == sent.id and frame["seq"] == sent.seq
    # A retry with the same client id is stored once.
    again = await pp.emit_event(w.session_id, "show_discount", {"percent": 20}, client_id="once")
    again2 = await pp.emit_event(w.session_id, "show_discount", {"percent": 20}, client_id="once")
    assert again.id == again2.id
    # To a visitor by id, and to every open widget.
    by_visitor = await pp.emit_event_to_visitor(w.welcome["visitorId"], "by_visitor", {"a": 1})
    assert by_visitor.session_id == w.session_id
    await w.expect("event", name="by_visitor")
    await pp.broadcast_event("flash_sale", {"until": "noon"})
    frame = await w.expect("event", name="flash_sale")
    assert frame["broadcast"] is True
    await w.close()
    # Offline: replayed on reconnect, in order, broadcasts excepted.
    assert by_visitor.seq is not None
    await pp.emit_event(w.session_id, "while_away", {})
    w2 = await WidgetClient.connect(server.ws_url, project.public_key, token=w.token, last_seq=by_visitor.seq)
    replay = await w2.synced()
    assert [f["name"] for f in replay if f["type"] == "event"] == ["while_away"]
    await w2.close()
    await pp.aclose()


async def test_emit_event_errors_carry_the_server_code(server, project):
    from pocketping_sdk import InvalidRequestError, NotFoundError

    pp = PocketPing(secret_key=project.secret_key, base_url=server.base_url)
    try:
        await pp.emit_event("sess_doesnotexist", "x", {})
    except NotFoundError as exc:
        assert exc.code == "session_not_found" and exc.status == 404
    else:
        raise AssertionError("expected NotFoundError")
    try:
        await pp.emit_event_to_visitor("vis_nobody", "x", {})
    except NotFoundError as exc:
        assert exc.code == "visitor_not_found"
    else:
        raise AssertionError("expected NotFoundError")
    try:
        await pp.broadcast_event("bad name!", {})
    except InvalidRequestError as exc:
        assert exc.code == "invalid_input" and exc.status == 422
    else:
        raise AssertionError("expected InvalidRequestError")
    await pp.aclose()


async def test_stream_delivers_trigger_to_the_sdk(server, project):
    pp = PocketPing(secret_key=project.secret_key, base_url=server.base_url)
    got: list[CustomEvent] = []

    @pp.on_event("clicked_pricing")
    async def pricing(event: CustomEvent, session: Session) -> None:
        got.append(event)
        assert session.id == event.session_id

    w = await WidgetClient.connect(server.ws_url, project.public_key)
    await w.synced()
    stream = pp.stream(after=await _last_seq(pp))
    first = asyncio.ensure_future(anext(stream))
    await w.send({"type": "event", "name": "clicked_pricing", "data": {"plan": "team"}, "clientId": "s1"})
    await w.expect("ack", clientId="s1")
    event = await asyncio.wait_for(first, 15)
    assert event.type == "event.triggered"
    await pp.dispatch(event)
    assert got and got[0].data == {"plan": "team"}
    await stream.aclose()
    await w.close()
    await pp.aclose()


async def _last_seq(pp: PocketPing) -> int:
    page = await pp.list_events(after=0, limit=500)
    return page[-1].seq if page else 0  # type: ignore[return-value]
