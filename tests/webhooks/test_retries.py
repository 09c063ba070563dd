"""A receiver that is down for a while gets every webhook afterwards, in order, same ids."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from pocketping_sdk import PocketPing, WebhookEvent

from conftest import create_project_on
from pocketping.clock import FakeClock
from pocketping_testkit.widget_client import WidgetClient


async def _until(predicate, clock: FakeClock, receiver, *, step: float, rounds: int = 400) -> None:
    """Advance the fake clock until ``predicate()`` holds. After each step, wait (briefly) for
    the receiver to be called: the clock is what moves time, the wait only lets the worker run."""
    for _ in range(rounds):
        if predicate():
            return
        receiver.arrived.clear()
        clock.advance(step)
        await asyncio.to_thread(receiver.arrived.wait, 0.1)
    raise AssertionError("condition not reached")


async def test_down_receiver_gets_everything_in_order_with_the_same_ids(make_server, receiver):
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
    srv = make_server(clock=clock)
    project = create_project_on(srv)
    pp = PocketPing(secret_key=project.secret_key, base_url=srv.base_url)
    hook = await pp.create_webhook(receiver.url)
    receiver.pp = PocketPing(secret_key=project.secret_key, base_url=srv.base_url, webhook_secret=hook.secret,
                             clock=lambda: clock.now().timestamp())
    got: list[WebhookEvent] = []
    receiver.pp.on("message.created")(got.append)
    receiver.pp.on("session.created")(got.append)
    receiver.down = True

    a = await WidgetClient.connect(srv.ws_url, project.public_key)
    b = await WidgetClient.connect(srv.ws_url, project.public_key)
    await a.synced()
    await b.synced()
    for i in range(4):
        await a.say(f"a{i}")
        await b.say(f"b{i}")
    await pp.send_message(a.session_id, "reply to a", operator_name="Sarah")
    expected = 2 + 9  # two sessions created, nine messages

    # Down for a good while: several attempts each, with growing backoff, nothing delivered.
    await _until(lambda: len({r[0] for r in receiver.requests}) >= 2, clock, receiver, step=1)
    clock.advance(3 * 3600)
    await _until(lambda: sum(1 for r in receiver.requests if r[1] == "session.created") >= 6, clock, receiver, step=300)
    failed_ids = {r[0] for r in receiver.requests}
    assert all(status == 503 for *_, status in receiver.requests)
    deliveries = await pp.list_deliveries(hook.id, status="pending")
    assert deliveries and max(d.attempts for d in deliveries) >= 3
    assert all(d.last_error == "HTTP 503" for d in deliveries if d.attempts)

    receiver.down = False
    await _until(lambda: len(got) == expected, clock, receiver, step=600)
    await a.close()
    await b.close()

    # Every event exactly once, each session's in the order it happened, with the ids the
    # failed attempts carried.
    assert len({e.id for e in got}) == expected
    assert failed_ids <= {e.id for e in got}
    for w, prefix in ((a, "a"), (b, "b")):
        mine = [e for e in got if e.session_id == w.session_id]
        assert mine[0].type == "session.created"
        texts = [e.message().text for e in mine[1:]]
        want = [f"{prefix}{i}" for i in range(4)] + (["reply to a"] if prefix == "a" else [])
        assert texts == want
    retried = [r for r in receiver.requests if r[3] == 200 and int(r[2] or 1) > 1]
    assert retried, "deliveries after the outage carry their attempt number"
    done = await pp.list_deliveries(hook.id, status="done", limit=200)
    assert len(done) == expected
    await pp.aclose()


async def test_failed_delivery_can_be_replayed(make_server, receiver):
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
    srv = make_server(clock=clock, outbox_retry_window_seconds=60)
    project = create_project_on(srv)
    pp = PocketPing(secret_key=project.secret_key, base_url=srv.base_url)
    hook = await pp.create_webhook(receiver.url, events=["session.created"])
    receiver.pp = PocketPing(secret_key=project.secret_key, base_url=srv.base_url, webhook_secret=hook.secret,
                             clock=lambda: clock.now().timestamp())
    got: list[WebhookEvent] = []
    receiver.pp.on("session.created")(got.append)
    receiver.down = True
    w = await WidgetClient.connect(srv.ws_url, project.public_key)
    await w.synced()
    await w.close()

    failed: list = []

    async def check() -> None:
        failed[:] = await pp.list_deliveries(hook.id, status="failed")

    for _ in range(200):
        await check()
        if failed:
            break
        receiver.arrived.clear()
        clock.advance(30)
        await asyncio.to_thread(receiver.arrived.wait, 0.1)
    assert failed, "gives up after the retry window"
    receiver.down = False
    replayed = await pp.replay_delivery(hook.id, failed[0].id)
    assert replayed.status == "pending" and replayed.event_id == failed[0].event_id
    await _until(lambda: len(got) == 1, clock, receiver, step=1)
    assert got[0].id == failed[0].event_id
    # A delivered one can be sent again too (same event id, a new delivery).
    again = await pp.replay_delivery(hook.id, failed[0].id)
    assert again.id != failed[0].id and again.event_id == failed[0].event_id
    await pp.aclose()
