"""A reply an operator writes in a brand-new thread, before the bridge has stored which
conversation the thread is (the platform shows it as soon as it exists; we record it once
the platform has said its id), reaches the visitor: the inbound side waits for the thread
being opened to be recorded instead of dropping the reply as "not one of ours" (Telegram and
Slack; the wait is also tested against another process's opening through the database)."""

from __future__ import annotations

import asyncio
import contextlib
import threading

from pocketping.relay import runtime as rt
from pocketping.store import bridges as bridge_repo
from pocketping_testkit.bridges import telegram_bridge
from pocketping_testkit.fakes.slack import FakeSlack
from pocketping_testkit.fakes.telegram import FakeTelegram
from pocketping_testkit.slack_bridge import slack_bridge
from pocketping_testkit.waiting import logged
from pocketping_testkit.widget_client import WidgetClient

WAITING = "waits for the thread being opened to be recorded"


async def handled_or_waiting(waiting: threading.Event, handled: asyncio.Task[object]) -> None:
    """Until the server has taken the operator's reply in: handled at once (acknowledged to the
    platform: without the wait, dropped there), or waiting for the thread's mapping."""
    logged_task = asyncio.create_task(asyncio.to_thread(waiting.wait, 20))
    try:
        done, _ = await asyncio.wait({logged_task, handled}, timeout=20, return_when=asyncio.FIRST_COMPLETED)
        assert done, "the server neither handled the reply nor waited for its thread"
    finally:
        waiting.set()  # ends the waiting thread
        await logged_task


async def test_a_telegram_reply_in_a_topic_whose_mapping_is_not_stored_yet_reaches_the_visitor(
        server, project, fake_telegram: FakeTelegram):
    with telegram_bridge(server, project, fake_telegram) as tg, logged("pocketping.relay.sink", WAITING) as waiting:
        fake_telegram.hold(tg.token, "sendMessage")  # the topic exists; its card (and mapping) not yet
        w = await WidgetClient.connect(server.ws_url, project.public_key)
        await w.synced()
        await w.say("is anyone there?")
        await fake_telegram.wait_for(lambda: fake_telegram.held_count(tg.token) == 1)
        [topic] = tg.topics()
        fake_telegram.operator_says(tg.chat_id, topic.id, "Yes, Sam here: how can I help?")
        update_id = fake_telegram.bots[tg.token].next_update_id  # the one just queued
        confirmed = asyncio.create_task(fake_telegram.wait_for(lambda: any(  # the next poll confirms it
            (c.get("offset") or 0) > update_id for c in fake_telegram.calls(tg.token, "getUpdates"))))
        await handled_or_waiting(waiting, confirmed)
        confirmed.cancel()
        with contextlib.suppress(BaseException):
            await confirmed
        fake_telegram.release(tg.token)
        said = await w.expect("message", sender="operator")
        assert said["message"]["text"] == "Yes, Sam here: how can I help?"
        await tg.wait_post("is anyone there?")  # and the visitor's line was posted after the card
        await w.close()


async def test_a_slack_reply_in_a_thread_whose_mapping_is_not_stored_yet_reaches_the_visitor(
        server, project, fake_slack: FakeSlack):
    with slack_bridge(server, project, fake_slack) as slack, logged("pocketping.relay.sink", WAITING) as waiting:
        # The card is the thread's parent: it is posted, but its answer is lost (the retry finds
        # the card again and stores the mapping), and the operator answers meanwhile.
        fake_slack.fail("chat.postMessage", hang=True, after=True, app=slack.app)
        w = await WidgetClient.connect(server.ws_url, project.public_key)
        await w.synced()
        await w.say("hello, my order is late")
        card = await fake_slack.wait_until(lambda: next(iter(slack.cards()), None), what="the card")
        replied = asyncio.create_task(fake_slack.operator_reply(slack.channel.id, card["ts"], "Looking into it now"))
        await handled_or_waiting(waiting, replied)  # answered (acknowledged) at once, or waiting
        fake_slack.release()
        said = await w.expect("message", sender="operator")
        assert said["message"]["text"] == "Looking into it now"
        await replied
        await w.close()


async def test_another_processs_thread_being_opened_is_seen_in_the_database(server, project, fake_telegram):
    """What a node that receives the reply, but did not open the thread, goes by: a leased
    delivery of that bridge for a session with no thread yet."""
    with telegram_bridge(server, project, fake_telegram) as tg:
        fake_telegram.hold(tg.token, "createForumTopic")  # the delivery is under way, its row leased
        w = await WidgetClient.connect(server.ws_url, project.public_key)
        await w.synced()
        await w.say("hi, a question about invoices")
        await fake_telegram.wait_for(lambda: fake_telegram.held_count(tg.token) == 1)
        assert await server.acall(rt.thread_being_opened(server.services.db, tg.bridge_id))
        fake_telegram.release(tg.token)
        await tg.wait_post("a question about invoices")
        await server.acall(server.node.outbox.wait_idle())
        assert not await server.acall(rt.thread_being_opened(server.services.db, tg.bridge_id))
        thread = await server.acall(_thread(server, tg.bridge_id, w.session_id))
        assert thread is not None
        await w.close()


async def _thread(server, bridge_id: str, session_id: str) -> bridge_repo.Thread | None:
    async with server.services.db.read() as tx:
        return await bridge_repo.find_thread(tx, bridge_id, session_id)
