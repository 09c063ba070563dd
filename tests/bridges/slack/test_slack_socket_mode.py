"""Socket Mode against the fake's WebSocket: hello, acknowledgements, refreshes, drops."""

from __future__ import annotations

import contextlib

from pocketping.clock import FakeClock
from pocketping_testkit.fakes.slack import Channel, FakeApp, FakeSlack

from .conftest import BridgeFactory, RecordingSink, make_card, outgoing


async def start_socket_bridge(fake: FakeSlack, app: FakeApp, channel: Channel, make_bridge: BridgeFactory,
                              sink: RecordingSink, **kwargs: object) -> tuple[object, str]:
    app.socket_mode = True
    bridge = make_bridge(app, channel, socket_mode=True, **kwargs)
    await bridge.start(sink)
    await fake.wait_socket(app)
    posted = await bridge.open_thread(make_card())
    assert posted.thread_id is not None
    return bridge, posted.thread_id


async def test_replies_arrive_over_socket_mode_and_are_acknowledged(
        fake_slack: FakeSlack, slack_app: FakeApp, slack_channel: Channel, make_bridge: BridgeFactory) -> None:
    sink = RecordingSink()
    bridge, thread = await start_socket_bridge(fake_slack, slack_app, slack_channel, make_bridge, sink)
    said = await fake_slack.operator_reply(slack_channel.id, thread, "Hello from Slack")
    [attempt] = said.deliveries[0].attempts
    assert attempt.transport == "socket" and attempt.acked
    assert [(r.text, r.operator_name, r.thread_id) for r in sink.replies] == [("Hello from Slack", "Sarah", thread)]
    # Our own posts come back over the socket too: acknowledged and ignored.
    await bridge.post(thread, outgoing("visitor says hi"))  # type: ignore[attr-defined]
    await fake_slack.settle()
    assert all(d.ok for d in slack_app.deliveries) and len(sink.replies) == 1


async def test_a_refresh_moves_to_a_new_connection_without_losing_events(
        fake_slack: FakeSlack, slack_app: FakeApp, slack_channel: Channel, make_bridge: BridgeFactory) -> None:
    sink = RecordingSink()
    _, thread = await start_socket_bridge(fake_slack, slack_app, slack_channel, make_bridge, sink)
    assert await fake_slack.socket_disconnect(slack_app, "refresh_requested") == 1
    await fake_slack.wait_socket(slack_app, hellos=2)
    said = await fake_slack.operator_reply(slack_channel.id, thread, "after the refresh")
    assert said.ok and [r.text for r in sink.replies] == ["after the refresh"]


async def test_a_dropped_connection_is_reopened(
        fake_slack: FakeSlack, slack_app: FakeApp, slack_channel: Channel, make_bridge: BridgeFactory) -> None:
    sink = RecordingSink()
    _, thread = await start_socket_bridge(fake_slack, slack_app, slack_channel, make_bridge, sink)
    assert await fake_slack.socket_drop(slack_app) == 1
    # Slack holds the event until a connection is back, then delivers it.
    said = await fake_slack.operator_reply(slack_channel.id, thread, "while you were away")
    assert said.ok and slack_app.hellos == 2
    assert [r.text for r in sink.replies] == ["while you were away"]


async def test_an_event_that_failed_is_not_acknowledged_and_comes_again(
        fake_slack: FakeSlack, slack_app: FakeApp, slack_channel: Channel, make_bridge: BridgeFactory) -> None:
    sink = RecordingSink()
    _, thread = await start_socket_bridge(fake_slack, slack_app, slack_channel, make_bridge, sink)
    fake_slack.event_timeout = 0.5  # keep the test short: Slack waits 3 s for an ack
    sink.fail = 1
    try:
        said = await fake_slack.operator_reply(slack_channel.id, thread, "second time lucky")
    finally:
        fake_slack.event_timeout = 3.0
    attempts = said.deliveries[0].attempts
    assert [(a.retry_num, a.acked) for a in attempts] == [(0, False), (1, True)]
    assert attempts[1].retry_reason == "timeout"
    assert [r.text for r in sink.replies] == ["second time lucky"]


async def test_connecting_retries_with_backoff_until_slack_answers(
        fake_slack: FakeSlack, slack_app: FakeApp, slack_channel: Channel, make_bridge: BridgeFactory) -> None:
    clock = FakeClock()
    fake_slack.fail("apps.connections.open", status=503, times=2, app=slack_app)
    slack_app.socket_mode = True
    bridge = make_bridge(slack_app, slack_channel, socket_mode=True, clock=clock)
    await bridge.start(RecordingSink())
    for _ in range(200):  # each failure waits on the (fake) clock: move it along until connected
        clock.advance(30)
        with contextlib.suppress(TimeoutError):
            await fake_slack.wait_socket(slack_app, timeout=0.05)
            break
    assert slack_app.hellos == 1
    assert len(fake_slack.calls_to("apps.connections.open", slack_app)) == 3


async def test_a_refused_app_token_is_reported_in_plain_words(
        fake_slack: FakeSlack, slack_app: FakeApp, slack_channel: Channel, make_bridge: BridgeFactory) -> None:
    clock = FakeClock()
    slack_app.socket_mode = True
    slack_app.app_scopes = set()  # created without connections:write
    sink = RecordingSink()
    bridge = make_bridge(slack_app, slack_channel, socket_mode=True, clock=clock)
    await bridge.start(sink)
    assert await sink.next_status() == ("error", "Socket Mode cannot connect: the app-level token lacks the "
                                                 "connections:write scope")
    slack_app.app_scopes = {"connections:write"}  # fixed in Slack: the next try connects
    clock.advance(120)
    assert await sink.next_status() == ("active", None)
