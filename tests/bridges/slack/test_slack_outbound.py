"""The Slack bridge posting into the fake Slack: cards, threads, escaping, splitting, failures."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime

import pytest

from pocketping.bridges.base import ThreadGone
from pocketping.bridges.slack.bridge import CHANNEL_LIMIT
from pocketping.bridges.slack.text import message_text
from pocketping.clock import FakeClock
from pocketping.errors import DeliveryError
from pocketping_testkit.fakes.slack import Channel, FakeApp, FakeSlack

from .conftest import BridgeFactory, make_card, outgoing


async def test_a_session_opens_a_thread_whose_parent_is_the_card(
        fake_slack: FakeSlack, slack_app: FakeApp, slack_channel: Channel, make_bridge: BridgeFactory) -> None:
    bridge = make_bridge(slack_app, slack_channel)
    posted = await bridge.open_thread(make_card(title="Ada · /pricing"))
    [card] = fake_slack.top_level(slack_channel.id)
    assert posted.thread_id == card["ts"] and posted.message_ids == (card["ts"],)
    assert card["text"] == "New conversation: Ada · /pricing"
    assert card["blocks"][0]["text"]["text"] == "Ada · /pricing"
    assert card["metadata"] == {"event_type": "pocketping_session",
                                "event_payload": {"session_id": "sess_test", "title": "Ada · /pricing"}}

    reply = await bridge.post(posted.thread_id, outgoing("Where is my order?"))
    [message] = fake_slack.replies(slack_channel.id, posted.thread_id)
    assert reply.message_ids == (message["ts"],)
    assert message["thread_ts"] == posted.thread_id
    assert message["text"] == "*Visitor*: Where is my order?"
    # Visitors' links are not unfurled (Slack would fetch them).
    assert message["_params"] == {"unfurl_links": "false", "unfurl_media": "false"}


async def test_mentions_typed_by_a_visitor_reach_slack_escaped(
        fake_slack: FakeSlack, slack_app: FakeApp, slack_channel: Channel, make_bridge: BridgeFactory) -> None:
    bridge = make_bridge(slack_app, slack_channel)
    thread = (await bridge.open_thread(make_card())).thread_id
    assert thread is not None
    await bridge.post(thread, outgoing("<!channel> <!here> <!everyone> <@U0ADMIN> fish & chips"))
    [message] = fake_slack.replies(slack_channel.id, thread)
    assert message["text"] == ("*Visitor*: &lt;!channel&gt; &lt;!here&gt; &lt;!everyone&gt; &lt;@U0ADMIN&gt; "
                               "fish &amp; chips")


async def test_a_long_message_is_split_in_order(
        fake_slack: FakeSlack, slack_app: FakeApp, slack_channel: Channel, make_bridge: BridgeFactory) -> None:
    bridge = make_bridge(slack_app, slack_channel)
    thread = (await bridge.open_thread(make_card())).thread_id
    assert thread is not None
    text = " ".join(f"w{i}" for i in range(2500))  # ~12,400 characters
    posted = await bridge.post(thread, outgoing(text))
    replies = fake_slack.replies(slack_channel.id, thread)
    assert len(replies) == 4 and posted.message_ids == tuple(m["ts"] for m in replies)
    assert all(len(m["text"]) <= 4000 for m in replies)
    # Each part says who is speaking, so a part read alone in Slack still makes sense.
    assert all(m["text"].startswith("*Visitor*: ") for m in replies)
    assert " ".join(m["text"].removeprefix("*Visitor*: ") for m in replies).split() == text.split()


async def test_rate_limit_becomes_a_retry_after(
        fake_slack: FakeSlack, slack_app: FakeApp, slack_channel: Channel, make_bridge: BridgeFactory) -> None:
    bridge = make_bridge(slack_app, slack_channel)
    thread = (await bridge.open_thread(make_card())).thread_id
    assert thread is not None
    fake_slack.fail("chat.postMessage", status=429, retry_after=30, app=slack_app)
    with pytest.raises(DeliveryError) as caught:
        await bridge.post(thread, outgoing("hello"))
    assert caught.value.retry_after == 30 and not caught.value.permanent
    assert fake_slack.replies(slack_channel.id, thread) == []
    # Other deliveries to the channel do not hammer Slack meanwhile: they hand their lease back.
    calls = len(fake_slack.calls_to("chat.postMessage", slack_app))
    with pytest.raises(DeliveryError) as held:
        await bridge.post(thread, outgoing("another"))
    assert held.value.retry_after is not None and held.value.retry_after > 25
    assert len(fake_slack.calls_to("chat.postMessage", slack_app)) == calls  # Slack was not even asked


async def test_server_errors_are_retried_later(
        fake_slack: FakeSlack, slack_app: FakeApp, slack_channel: Channel, make_bridge: BridgeFactory) -> None:
    bridge = make_bridge(slack_app, slack_channel)
    thread = (await bridge.open_thread(make_card())).thread_id
    assert thread is not None
    fake_slack.fail("chat.postMessage", status=503, app=slack_app)
    with pytest.raises(DeliveryError) as caught:
        await bridge.post(thread, outgoing("hello"))
    assert not caught.value.permanent
    await bridge.post(thread, outgoing("hello"))
    assert [m["text"] for m in fake_slack.replies(slack_channel.id, thread)] == ["*Visitor*: hello"]


async def test_an_answer_lost_on_the_way_back_does_not_post_twice(
        fake_slack: FakeSlack, slack_app: FakeApp, slack_channel: Channel, make_bridge: BridgeFactory) -> None:
    bridge = make_bridge(slack_app, slack_channel, timeout=0.5)
    thread = (await bridge.open_thread(make_card())).thread_id
    assert thread is not None
    item = outgoing(" ".join(f"w{i}" for i in range(1200)))  # two parts
    # Part 1 goes through; part 2 is posted by Slack but its answer never arrives.
    fake_slack.fail("chat.postMessage", hang=True, after=True, skip=1, app=slack_app)
    first = asyncio.create_task(bridge.post(thread, item))
    with pytest.raises(DeliveryError):
        await first
    fake_slack.release()
    assert len(fake_slack.replies(slack_channel.id, thread)) == 2  # both parts are in Slack
    posted = await bridge.post(thread, item)  # the outbox retries
    replies = fake_slack.replies(slack_channel.id, thread)
    assert len(replies) == 2 and posted.message_ids == tuple(m["ts"] for m in replies)


async def test_a_lost_answer_for_a_later_part_posts_only_what_is_missing(
        fake_slack: FakeSlack, slack_app: FakeApp, slack_channel: Channel, make_bridge: BridgeFactory) -> None:
    bridge = make_bridge(slack_app, slack_channel)
    thread = (await bridge.open_thread(make_card())).thread_id
    assert thread is not None
    item = outgoing(" ".join(f"w{i}" for i in range(2000)))  # three parts
    fake_slack.fail("chat.postMessage", status=500, after=True, app=slack_app)  # part 1 lands, answer is a 500
    with pytest.raises(DeliveryError):
        await bridge.post(thread, item)
    assert len(fake_slack.replies(slack_channel.id, thread)) == 1
    posted = await bridge.post(thread, item)
    replies = fake_slack.replies(slack_channel.id, thread)
    assert len(replies) == 3 and posted.message_ids == tuple(m["ts"] for m in replies)
    assert {m["metadata"]["event_payload"]["message_id"] for m in replies} == {item.message.id}


async def test_a_card_whose_answer_was_lost_is_found_not_posted_again(
        fake_slack: FakeSlack, slack_app: FakeApp, slack_channel: Channel, make_bridge: BridgeFactory) -> None:
    bridge = make_bridge(slack_app, slack_channel)
    fake_slack.fail("chat.postMessage", status=502, after=True, app=slack_app)
    with pytest.raises(DeliveryError):
        await bridge.open_thread(make_card("sess_lost"))
    posted = await bridge.open_thread(make_card("sess_lost"))
    [card] = fake_slack.top_level(slack_channel.id)
    assert posted.thread_id == card["ts"]


async def test_a_deleted_thread_is_reported_so_a_new_one_is_opened(
        fake_slack: FakeSlack, slack_app: FakeApp, slack_channel: Channel, make_bridge: BridgeFactory) -> None:
    bridge = make_bridge(slack_app, slack_channel)
    thread = (await bridge.open_thread(make_card())).thread_id
    assert thread is not None
    await fake_slack.operator_delete(slack_channel.id, thread)
    with pytest.raises(ThreadGone):
        await bridge.post(thread, outgoing("still there?"))


async def test_a_reply_slack_posted_top_level_is_removed_and_reported(
        fake_slack: FakeSlack, slack_app: FakeApp, slack_channel: Channel, make_bridge: BridgeFactory) -> None:
    bridge = make_bridge(slack_app, slack_channel)
    thread = (await bridge.open_thread(make_card())).thread_id
    assert thread is not None
    await fake_slack.operator_delete(slack_channel.id, thread)
    fake_slack.orphan_replies = "top_level"
    try:
        with pytest.raises(ThreadGone):
            await bridge.post(thread, outgoing("still there?"))
    finally:
        fake_slack.orphan_replies = "error"
    assert fake_slack.top_level(slack_channel.id) == []  # the stray message was deleted


async def test_configuration_problems_say_what_to_fix_and_keep_retrying(
        fake_slack: FakeSlack, slack_app: FakeApp, make_bridge: BridgeFactory) -> None:
    outside = fake_slack.create_channel()  # the bot was never invited
    bridge = make_bridge(slack_app, outside)
    with pytest.raises(DeliveryError) as caught:
        await bridge.open_thread(make_card())
    assert "not_in_channel" in caught.value.message and "/invite" in caught.value.message
    assert not caught.value.permanent
    fake_slack.invite(outside.id, slack_app.bot_user_id)
    assert (await bridge.open_thread(make_card())).thread_id


async def test_content_slack_refuses_is_not_retried(
        fake_slack: FakeSlack, slack_app: FakeApp, slack_channel: Channel, make_bridge: BridgeFactory) -> None:
    bridge = make_bridge(slack_app, slack_channel)
    fake_slack.fail("chat.postMessage", error="invalid_blocks", app=slack_app)
    with pytest.raises(DeliveryError) as caught:
        await bridge.open_thread(make_card())
    assert caught.value.permanent


async def test_close_and_reopen_show_on_the_card(
        fake_slack: FakeSlack, slack_app: FakeApp, slack_channel: Channel, make_bridge: BridgeFactory) -> None:
    bridge = make_bridge(slack_app, slack_channel)
    thread = (await bridge.open_thread(make_card(title="Ada · /pricing"))).thread_id
    assert thread is not None

    def header() -> str:
        [card] = fake_slack.top_level(slack_channel.id)
        return str(card["blocks"][0]["text"]["text"])

    await bridge.close_thread(thread)
    assert header() == "Closed · Ada · /pricing"
    await bridge.close_thread(thread)  # again (a retried delivery): no change, no second update
    assert header() == "Closed · Ada · /pricing"
    await bridge.reopen_thread(thread)
    assert header() == "Ada · /pricing"
    assert len(fake_slack.calls_to("chat.update", slack_app)) == 2
    # The notice lines are the planner's to post; close and reopen post nothing themselves.
    assert fake_slack.replies(slack_channel.id, thread) == []
    await bridge.typing(thread)  # Slack has no bot typing indicator: nothing is posted
    assert fake_slack.replies(slack_channel.id, thread) == []


async def test_closing_a_deleted_thread_reports_it_gone(
        fake_slack: FakeSlack, slack_app: FakeApp, slack_channel: Channel, make_bridge: BridgeFactory) -> None:
    bridge = make_bridge(slack_app, slack_channel)
    thread = (await bridge.open_thread(make_card())).thread_id
    assert thread is not None
    await fake_slack.operator_delete(slack_channel.id, thread)
    with pytest.raises(ThreadGone):
        await bridge.close_thread(thread)


def test_parts_fit_slack_once_escaped(slack_app: FakeApp, slack_channel: Channel,
                                      make_bridge: BridgeFactory) -> None:
    bridge = make_bridge(slack_app, slack_channel)
    item = outgoing("<&> " * 2000, author="Sarah (via Telegram)")  # 8,000 characters, 26,000 once escaped
    parts = bridge.parts(item)
    assert 7 <= len(parts) <= 8  # 26,000 escaped characters, cut at word boundaries
    assert all(len(message_text(p.author, p.text)) <= 4000 for p in parts)
    assert " ".join(p.text for p in parts).split() == item.text.split()
    assert all(p.message.id == item.message.id for p in parts)
    short = outgoing("short")
    assert bridge.parts(short) == [short]


async def test_a_delivery_retried_after_a_crash_posts_nothing_twice(
        fake_slack: FakeSlack, slack_app: FakeApp, slack_channel: Channel, make_bridge: BridgeFactory) -> None:
    """The server died after Slack took the message but before the outbox recorded it; the
    restarted server delivers the row again (a minute later at least: the lease)."""
    clock = FakeClock(datetime.now(UTC))
    before = make_bridge(slack_app, slack_channel, clock=clock)
    thread = (await before.open_thread(make_card("sess_crash"))).thread_id
    assert thread is not None
    item = outgoing("the order number is 42", message_id="msg_crash")
    item = dataclasses.replace(item, message=dataclasses.replace(item.message, created_at=clock.now()))
    first = await before.post(thread, item)
    clock.advance(61)
    after = make_bridge(slack_app, slack_channel, clock=clock, bridge_id="brg_restarted")  # no memory of it
    again = await after.post(thread, item)
    assert again.message_ids == first.message_ids
    assert len(fake_slack.replies(slack_channel.id, thread)) == 1
    # A second message for the same thread is read back from the same read, not one read each.
    reads = len(fake_slack.calls_to("conversations.replies", slack_app))
    other = outgoing("and the tracking link", message_id="msg_crash_2")
    other = dataclasses.replace(other, message=dataclasses.replace(other.message, created_at=clock.now()))
    clock.advance(61)
    await after.post(thread, other)
    assert len(fake_slack.calls_to("conversations.replies", slack_app)) == reads
    assert len(fake_slack.replies(slack_channel.id, thread)) == 2


async def test_a_card_retried_after_a_crash_opens_no_second_thread(
        fake_slack: FakeSlack, slack_app: FakeApp, slack_channel: Channel, make_bridge: BridgeFactory) -> None:
    clock = FakeClock(datetime.now(UTC))
    card = make_card("sess_crash_card")
    card = dataclasses.replace(card, session=dataclasses.replace(card.session, first_message_at=clock.now()))
    first = await make_bridge(slack_app, slack_channel, clock=clock).open_thread(card)
    clock.advance(90)
    again = await make_bridge(slack_app, slack_channel, clock=clock, bridge_id="brg_b").open_thread(card)
    assert again.thread_id == first.thread_id
    assert len(fake_slack.top_level(slack_channel.id)) == 1


async def test_posts_to_a_channel_are_paced_one_a_second_after_a_short_burst(
        fake_slack: FakeSlack, slack_app: FakeApp, slack_channel: Channel, make_bridge: BridgeFactory) -> None:
    clock = FakeClock(datetime.now(UTC))
    bridge = make_bridge(slack_app, slack_channel, clock=clock, pace=CHANNEL_LIMIT)
    thread = (await bridge.open_thread(make_card())).thread_id  # 1 of the burst of 3
    assert thread is not None
    await bridge.post(thread, outgoing("two"))
    await bridge.post(thread, outgoing("three"))
    fourth = asyncio.create_task(bridge.post(thread, outgoing("four")))
    await fake_slack.wait_until(lambda: len(fake_slack.replies(slack_channel.id, thread)) == 2)
    await asyncio.sleep(0)
    assert not fourth.done()  # waiting for the channel's next slot, not refused
    clock.advance(1.0)
    await asyncio.wait_for(fourth, 5)
    assert [m["text"] for m in fake_slack.replies(slack_channel.id, thread)][-1] == "*Visitor*: four"


async def test_a_429_holds_every_post_to_the_channel(
        fake_slack: FakeSlack, slack_app: FakeApp, slack_channel: Channel, make_bridge: BridgeFactory) -> None:
    clock = FakeClock(datetime.now(UTC))
    bridge = make_bridge(slack_app, slack_channel, clock=clock)
    other = make_bridge(slack_app, slack_channel, clock=clock, bridge_id="brg_same_channel", pacer=bridge.pacer)
    thread = (await bridge.open_thread(make_card())).thread_id
    assert thread is not None
    fake_slack.fail("chat.postMessage", status=429, retry_after=3, app=slack_app)
    with pytest.raises(DeliveryError):
        await bridge.post(thread, outgoing("refused"))
    waiting = asyncio.create_task(other.post(thread, outgoing("after the wait")))
    for _ in range(10):  # let it reach the pacer (no I/O before it)
        await asyncio.sleep(0)
    assert not waiting.done() and fake_slack.replies(slack_channel.id, thread) == []
    clock.advance(3)
    await asyncio.wait_for(waiting, 5)
    assert [m["text"] for m in fake_slack.replies(slack_channel.id, thread)] == ["*Visitor*: after the wait"]
