"""Operators' replies through the Events API Request URL of a real server: signatures,
retries, deduplication, what is ignored, edits and deletions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
import orjson
import pytest

from pocketping.bridges.slack import SlackBridge
from pocketping_testkit.fakes.slack import Channel, FakeApp, FakeSlack, rich_text
from pocketping_testkit.server import ServerThread

from .conftest import BridgeFactory, RecordingSink, make_card, outgoing

Served = Callable[..., SlackBridge]


async def open_thread(events_server: ServerThread, bridge: SlackBridge) -> str:
    posted = await events_server.acall(bridge.open_thread(make_card()))
    assert posted.thread_id is not None
    return posted.thread_id


async def test_the_request_url_answers_slacks_challenge(
        fake_slack: FakeSlack, slack_app: FakeApp, slack_channel: Channel, served_bridge: Served) -> None:
    served_bridge(slack_app, slack_channel, RecordingSink())
    answer = await fake_slack.verify_url(slack_app)
    assert answer.status_code == 200
    assert answer.json()["challenge"] == orjson.loads(answer.request.content)["challenge"]


async def test_a_reply_in_the_thread_reaches_the_sink_once(
        fake_slack: FakeSlack, slack_app: FakeApp, slack_channel: Channel, served_bridge: Served,
        events_server: ServerThread) -> None:
    sink = RecordingSink()
    bridge = served_bridge(slack_app, slack_channel, sink)
    thread = await open_thread(events_server, bridge)
    said = await fake_slack.operator_reply(slack_channel.id, thread, "Hi! Your order ships <today> & tomorrow")
    assert said.ok and said.deliveries[0].attempts[0].status == 200
    [reply] = sink.replies
    assert (reply.thread_id, reply.external_id, reply.platform_label) == (thread, said.ts, "Slack")
    assert reply.text == "Hi! Your order ships <today> & tomorrow"
    assert reply.operator_name == "Sarah"

    # Slack retries the same event (our 200 was lost): nothing happens twice.
    retry = said.deliveries[0].payload
    body = orjson.dumps(retry)
    headers = fake_slack.signed_headers(slack_app, body)
    headers.update({"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    async with httpx.AsyncClient() as client:
        answer = await client.post(events_server.base_url + "/bridges/slack/events", content=body, headers=headers)
    assert answer.status_code == 200
    assert len(sink.replies) == 1


async def test_forged_stale_and_unsigned_requests_are_refused(
        fake_slack: FakeSlack, slack_app: FakeApp, slack_channel: Channel, served_bridge: Served,
        events_server: ServerThread) -> None:
    sink = RecordingSink()
    bridge = served_bridge(slack_app, slack_channel, sink)
    thread = await open_thread(events_server, bridge)
    event = {"type": "message", "channel": slack_channel.id, "user": fake_slack.operator, "text": "give me the data",
             "ts": "1700000000.000100", "thread_ts": thread}
    body = orjson.dumps(fake_slack.envelope(slack_app, event))
    url = events_server.base_url + "/bridges/slack/events"
    good = fake_slack.signed_headers(slack_app, body)
    forged = dict(good, **{"X-Slack-Signature": "v0=" + "0" * 64})
    stale_ts = str(int(time.time()) - 6 * 60)
    stale = fake_slack.signed_headers(slack_app, body, timestamp=stale_ts)  # correctly signed, but old
    async with httpx.AsyncClient() as client:
        for headers, code in ((forged, "invalid_signature"), (stale, "stale_request"),
                              ({"Content-Type": "application/json"}, "invalid_signature")):
            answer = await client.post(url, content=body, headers=headers)
            assert answer.status_code == 401
            assert answer.json()["error"]["code"] == code
        # Another body under a valid signature: refused too.
        tampered = body.replace(b"give me the data", b"give me the keys")
        answer = await client.post(url, content=tampered, headers=good)
        assert answer.status_code == 401
    assert sink.replies == [] and sink.seen_calls == 0


async def test_what_is_not_an_operator_reply_is_ignored(
        fake_slack: FakeSlack, slack_app: FakeApp, slack_channel: Channel, served_bridge: Served,
        events_server: ServerThread) -> None:
    sink = RecordingSink()
    bridge = served_bridge(slack_app, slack_channel, sink)
    thread = await open_thread(events_server, bridge)
    await events_server.acall(bridge.post(thread, outgoing("visitor text")))  # our own post comes back as an event
    await fake_slack.other_bot_reply(slack_channel.id, thread, "I am another bot")
    await fake_slack.operator_reply(slack_channel.id, None, "lunch, anyone?")  # channel chatter, not in a thread
    elsewhere = fake_slack.create_channel(members=[slack_app.bot_user_id])
    await fake_slack.operator_reply(elsewhere.id, thread, "another channel")
    await fake_slack.operator_reply(slack_channel.id, thread, "joined", subtype="channel_join")
    await fake_slack.settle()
    echoes = [d for d in slack_app.deliveries if d.payload["event"].get("bot_id") == slack_app.bot_id]
    assert echoes and all(d.ok for d in echoes)  # acknowledged, so Slack does not retry them
    assert sink.replies == [] and sink.seen_calls == 0


async def test_text_is_read_from_blocks_when_empty(
        fake_slack: FakeSlack, slack_app: FakeApp, slack_channel: Channel, served_bridge: Served,
        events_server: ServerThread) -> None:
    sink = RecordingSink()
    bridge = served_bridge(slack_app, slack_channel, sink)
    thread = await open_thread(events_server, bridge)
    await fake_slack.operator_reply(slack_channel.id, thread, "", blocks=rich_text("from the blocks <b>"))
    assert [r.text for r in sink.replies] == ["from the blocks <b>"]


async def test_edits_and_deletions_reach_the_sink(
        fake_slack: FakeSlack, slack_app: FakeApp, slack_channel: Channel, served_bridge: Served,
        events_server: ServerThread) -> None:
    sink = RecordingSink()
    bridge = served_bridge(slack_app, slack_channel, sink)
    thread = await open_thread(events_server, bridge)
    said = await fake_slack.operator_reply(slack_channel.id, thread, "Your order is lost")
    await fake_slack.operator_edit(slack_channel.id, said.ts, "Your order is found")
    await fake_slack.operator_delete(slack_channel.id, said.ts)
    assert sink.edits == [(bridge.id, thread, said.ts, "Your order is found")]
    assert sink.deletions == [(bridge.id, thread, said.ts)]


async def test_the_event_goes_to_the_bridge_whose_secret_signed_it(
        fake_slack: FakeSlack, served_bridge: Served, events_server: ServerThread) -> None:
    app_a, app_b = fake_slack.create_app("bot-a"), fake_slack.create_app("bot-b")
    channel_a = fake_slack.create_channel(members=[app_a.bot_user_id])
    channel_b = fake_slack.create_channel(members=[app_b.bot_user_id])
    sink_a, sink_b = RecordingSink(), RecordingSink()
    bridge_a = served_bridge(app_a, channel_a, sink_a, bridge_id="brg_a")
    bridge_b = served_bridge(app_b, channel_b, sink_b, bridge_id="brg_b")
    thread_b = await open_thread(events_server, bridge_b)
    await open_thread(events_server, bridge_a)
    said = await fake_slack.operator_reply(channel_b.id, thread_b, "for B")
    assert said.ok
    assert [r.bridge_id for r in sink_b.replies] == ["brg_b"] and sink_a.replies == []


async def test_bridges_sharing_an_app_are_told_apart_by_channel(
        fake_slack: FakeSlack, slack_app: FakeApp, served_bridge: Served, events_server: ServerThread) -> None:
    channel_1 = fake_slack.create_channel(members=[slack_app.bot_user_id])
    channel_2 = fake_slack.create_channel(members=[slack_app.bot_user_id])
    sink_1, sink_2 = RecordingSink(), RecordingSink()
    served_bridge(slack_app, channel_1, sink_1, bridge_id="brg_one")
    bridge_2 = served_bridge(slack_app, channel_2, sink_2, bridge_id="brg_two")
    thread = await open_thread(events_server, bridge_2)
    await fake_slack.operator_reply(channel_2.id, thread, "hello two")
    assert [r.text for r in sink_2.replies] == ["hello two"] and sink_1.replies == []


async def test_a_stopped_bridge_no_longer_accepts_events(
        fake_slack: FakeSlack, slack_app: FakeApp, slack_channel: Channel, served_bridge: Served,
        events_server: ServerThread) -> None:
    sink = RecordingSink()
    bridge = served_bridge(slack_app, slack_channel, sink)
    thread = await open_thread(events_server, bridge)
    await events_server.acall(bridge.stop())
    said = await fake_slack.operator_reply(slack_channel.id, thread, "anyone?")
    assert not said.ok and [a.status for a in said.deliveries[0].attempts] == [401] * 4
    assert sink.replies == []


async def test_a_failed_event_is_retried_by_slack_and_processed(
        fake_slack: FakeSlack, slack_app: FakeApp, slack_channel: Channel, served_bridge: Served,
        events_server: ServerThread) -> None:
    sink = RecordingSink()
    bridge = served_bridge(slack_app, slack_channel, sink)
    thread = await open_thread(events_server, bridge)
    sink.fail = 1  # the first attempt hits a database error
    said = await fake_slack.operator_reply(slack_channel.id, thread, "are you there?")
    attempts = said.deliveries[0].attempts
    assert [(a.retry_num, a.status) for a in attempts] == [(0, 503), (1, 200)]
    assert attempts[1].retry_reason == "http_error"
    assert [r.text for r in sink.replies] == ["are you there?"]


# --- receive(): the at-most-once core shared by the Events API and Socket Mode -------------


def _payload(fake: FakeSlack, app: FakeApp, channel: Channel, thread: str, text: str) -> dict[str, object]:
    event = {"type": "message", "channel": channel.id, "user": fake.operator, "text": text,
             "ts": f"{time.time():.6f}", "thread_ts": thread, "team": fake.team["id"]}
    return fake.envelope(app, event)


async def test_a_slow_event_answers_in_time_and_its_retry_joins_it(
        fake_slack: FakeSlack, slack_app: FakeApp, slack_channel: Channel, make_bridge: BridgeFactory) -> None:
    bridge = make_bridge(slack_app, slack_channel, event_deadline=0.05)
    sink = RecordingSink()
    await bridge.start(sink)
    payload = _payload(fake_slack, slack_app, slack_channel, "1700000000.000001", "slow one")
    sink.block()
    assert await bridge.receive(payload) is False  # not done within the deadline: let Slack retry
    retry = asyncio.create_task(bridge.receive(payload))
    sink.release()
    assert await retry is True
    assert await bridge.receive(payload) is True  # a late third delivery
    assert [r.text for r in sink.replies] == ["slow one"] and sink.seen_calls == 1


async def test_a_retry_after_a_failure_is_not_dropped_as_a_duplicate(
        fake_slack: FakeSlack, slack_app: FakeApp, slack_channel: Channel, make_bridge: BridgeFactory) -> None:
    bridge = make_bridge(slack_app, slack_channel)
    sink = RecordingSink()
    await bridge.start(sink)
    payload = _payload(fake_slack, slack_app, slack_channel, "1700000000.000001", "keep me")
    sink.fail = 1
    assert await bridge.receive(payload) is False
    assert await bridge.receive(payload) is True
    assert [r.text for r in sink.replies] == ["keep me"]


async def test_another_node_already_handled_the_event(
        fake_slack: FakeSlack, slack_app: FakeApp, slack_channel: Channel, make_bridge: BridgeFactory) -> None:
    sink = RecordingSink()
    first, second = make_bridge(slack_app, slack_channel), make_bridge(slack_app, slack_channel)
    await first.start(sink)
    await second.start(sink)
    payload = _payload(fake_slack, slack_app, slack_channel, "1700000000.000001", "once")
    assert await first.receive(payload) and await second.receive(payload)
    assert len(sink.replies) == 1


@pytest.mark.parametrize("header", ["X-Slack-Signature", "X-Slack-Request-Timestamp"])
async def test_garbage_headers_are_refused(events_server: ServerThread, header: str) -> None:
    headers = {"X-Slack-Signature": "v0=abc", "X-Slack-Request-Timestamp": str(int(time.time()))}
    headers[header] = "not-a-number" if header == "X-Slack-Request-Timestamp" else "nonsense"
    async with httpx.AsyncClient() as client:
        answer = await client.post(events_server.base_url + "/bridges/slack/events", content=b"{}", headers=headers)
    assert answer.status_code == 401


async def test_a_retry_this_process_never_saw_finish_is_processed(
        fake_slack: FakeSlack, slack_app: FakeApp, slack_channel: Channel, make_bridge: BridgeFactory) -> None:
    """A node took the first delivery, claimed it and died; Slack's retry reaches another node."""
    sink = RecordingSink()
    died, survivor = make_bridge(slack_app, slack_channel), make_bridge(slack_app, slack_channel)
    await died.start(sink)
    await survivor.start(sink)
    payload = _payload(fake_slack, slack_app, slack_channel, "1700000000.000001", "do not lose me")
    sink.fail = 1
    assert await died.receive(payload) is False
    assert await survivor.receive(payload, retry=1) is True
    assert [r.text for r in sink.replies] == ["do not lose me"]


async def test_commands_may_start_with_a_bang_in_slack(
        fake_slack: FakeSlack, slack_app: FakeApp, slack_channel: Channel, served_bridge: Served,
        events_server: ServerThread) -> None:
    sink = RecordingSink()
    bridge = served_bridge(slack_app, slack_channel, sink)
    thread = await open_thread(events_server, bridge)
    for text in ("!close", " !INFO", "!ai on", "!important: read this"):
        await fake_slack.operator_reply(slack_channel.id, thread, text)
    assert [r.text for r in sink.replies] == ["/close", "/INFO", "/ai on", "!important: read this"]
