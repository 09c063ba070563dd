"""Slack end to end: a real server (on each database), the real widget protocol, the fake Slack."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from pocketping_testkit.fakes.slack import FakeSlack
from pocketping_testkit.server import ServerThread
from pocketping_testkit.slack_bridge import SlackSetup, slack_bridge
from pocketping_testkit.widget_client import WidgetClient

PAGE = {"url": "https://shop.example.com/pricing?plan=pro", "language": "fr-FR", "timezone": "Europe/Paris"}
CHROME = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/131.0 Safari/537.36")


@pytest.fixture
def slack(server: ServerThread, project: Any, fake_slack: FakeSlack) -> Iterator[SlackSetup]:
    with slack_bridge(server, project, fake_slack) as setup:
        yield setup


async def visitor(server: ServerThread, project: Any, **kw: Any) -> WidgetClient:
    w = await WidgetClient.connect(server.ws_url, project.public_key, metadata=kw.pop("metadata", PAGE),
                                   user_agent=CHROME, **kw)
    await w.synced()
    return w


async def stored(api: httpx.AsyncClient, project: Any, session_id: str) -> list[dict[str, Any]]:
    r = await api.get(f"/api/v1/sessions/{session_id}/messages", headers=project.auth)
    assert r.status_code == 200
    return list(r.json()["messages"])


async def test_a_visitor_message_opens_a_thread_escaped(server: ServerThread, project: Any,
                                                        slack: SlackSetup) -> None:
    w = await visitor(server, project)
    ack = await w.say("Hi <!channel> <!here> <@U024BE7LH> & co")
    reply = await slack.wait_reply("Hi ")
    card = slack.card()
    assert reply["thread_ts"] == card["ts"]
    assert "/pricing" in card["blocks"][0]["text"]["text"]
    facts = " ".join(field["text"] for block in card["blocks"][1:] for field in block.get("fields", ()))
    assert "https://shop.example.com/pricing?plan=pro" in facts and "Chrome" in facts and "fr-FR" in facts
    # Escaped as Slack's formatting rules say: shown literally, notifying nobody.
    assert reply["text"].endswith(": Hi &lt;!channel&gt; &lt;!here&gt; &lt;@U024BE7LH&gt; &amp; co")
    assert "<" not in reply["text"]
    delivered = await w.expect("delivered")
    assert delivered["seq"] == ack["seq"]
    await w.close()


async def test_a_reply_in_the_thread_reaches_the_visitor(server: ServerThread, project: Any,
                                                         slack: SlackSetup) -> None:
    w = await visitor(server, project)
    await w.say("Is anyone there?")
    await slack.wait_reply("anyone there")
    said = await slack.say("Yes! <https://example.com/help|Our help page> &amp; more", wire=True)
    assert said.ok
    message = (await w.expect("message", sender="operator"))["message"]
    assert message["text"] == "Yes! Our help page (https://example.com/help) & more"
    assert message["operatorName"] == "Sarah"
    assert message["source"] == "slack"
    await w.close()


async def test_a_slack_retry_of_the_same_event_is_stored_once(server: ServerThread, project: Any,
                                                             slack: SlackSetup, api: httpx.AsyncClient) -> None:
    w = await visitor(server, project)
    await w.say("hello")
    await slack.wait_reply("hello")
    said = await slack.say("only once please")
    await w.expect("message", text="only once please")
    body = orjson.dumps(said.deliveries[0].payload)
    async with httpx.AsyncClient() as client:
        for retry, reason in ((1, "http_timeout"), (2, "http_error")):
            headers = slack.fake.signed_headers(slack.app, body)
            headers.update({"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": reason})
            r = await client.post(server.base_url + "/bridges/slack/events", content=body, headers=headers)
            assert r.status_code == 200
    texts = [m["text"] for m in await stored(api, project, w.session_id)]
    assert texts.count("only once please") == 1
    await w.close()


async def test_forged_and_stale_requests_are_refused_and_store_nothing(
        server: ServerThread, project: Any, slack: SlackSetup, api: httpx.AsyncClient) -> None:
    w = await visitor(server, project)
    await w.say("hello")
    await slack.wait_reply("hello")
    event = {"type": "message", "channel": slack.channel.id, "user": slack.fake.operator, "ts": f"{time.time():.6f}",
             "text": "click https://evil.example to verify", "thread_ts": slack.card()["ts"]}
    body = orjson.dumps(slack.fake.envelope(slack.app, event))
    good = slack.fake.signed_headers(slack.app, body)
    forged = dict(good, **{"X-Slack-Signature": "v0=" + "f" * 64})
    stale = slack.fake.signed_headers(slack.app, body, timestamp=str(int(time.time()) - 301))
    async with httpx.AsyncClient() as client:
        for headers in (forged, stale, {"Content-Type": "application/json"}):
            r = await client.post(server.base_url + "/bridges/slack/events", content=body, headers=headers)
            assert r.status_code == 401
    assert [m["text"] for m in await stored(api, project, w.session_id)] == ["hello"]
    await w.close()


async def test_the_returning_visitor_lands_in_the_same_thread(server: ServerThread, project: Any,
                                                              slack: SlackSetup) -> None:
    w = await visitor(server, project)
    await w.say("first visit")
    await slack.wait_reply("first visit")
    token = w.token
    await w.close()
    again = await visitor(server, project, token=token, metadata={"url": "https://shop.example.com/checkout"})
    await again.say("back again")
    reply = await slack.wait_reply("back again")
    assert len(slack.cards()) == 1 and reply["thread_ts"] == slack.card()["ts"]
    await again.close()


async def test_edits_deletions_and_commands_from_the_thread(server: ServerThread, project: Any,
                                                            slack: SlackSetup) -> None:
    w = await visitor(server, project)
    await w.say("my order?")
    await slack.wait_reply("my order?")
    said = await slack.say("It shipped on Monday")
    await w.expect("message", text="It shipped on Monday")
    await slack.fake.operator_edit(slack.channel.id, said.ts, "It shipped on Tuesday")
    assert (await w.expect("message_updated"))["message"]["text"] == "It shipped on Tuesday"
    await slack.fake.operator_delete(slack.channel.id, said.ts)
    assert (await w.expect("message_deleted"))["message"]["text"] == ""
    await slack.say("!close")  # Slack keeps "/close" for its own slash commands
    assert (await w.expect("session"))["status"] == "closed"
    await slack.wait_reply("Conversation closed")
    await slack.fake.wait_until(lambda: slack.card()["blocks"][0]["text"]["text"].startswith("Closed · "))
    await w.close()


async def test_socket_mode_both_ways(server: ServerThread, project: Any, fake_slack: FakeSlack) -> None:
    with slack_bridge(server, project, fake_slack, socket_mode=True) as slack:
        w = await visitor(server, project)
        await w.say("over the socket <!everyone>")
        reply = await slack.wait_reply("over the socket")
        assert reply["text"].endswith("&lt;!everyone&gt;")
        said = await slack.say("Socket reply")
        assert said.ok and said.deliveries[0].attempts[-1].acked
        message = (await w.expect("message", sender="operator"))["message"]
        assert (message["text"], message["source"]) == ("Socket reply", "slack")
        await w.close()


async def test_slack_and_telegram_see_each_other(server: ServerThread, project: Any, fake_slack: FakeSlack,
                                                 fake_telegram: Any) -> None:
    from pocketping_testkit.bridges import telegram_bridge

    with slack_bridge(server, project, fake_slack) as slack, telegram_bridge(server, project, fake_telegram) as tg:
        w = await visitor(server, project)
        await w.say("hello both")
        await slack.wait_reply("hello both")
        await tg.wait_post("hello both")
        await slack.say("Answered from Slack")
        await w.expect("message", text="Answered from Slack")
        await tg.wait_post("Sarah (via Slack): Answered from Slack")
        tg.fake.operator_says(tg.chat_id, tg.topic().id, "Answered from Telegram")
        await w.expect("message", text="Answered from Telegram")
        mirrored = await slack.wait_reply("Answered from Telegram")
        assert "(via Telegram)" in mirrored["text"]
        echoed = [m for m in slack.replies() if m.get("bot_id") and "Answered from Slack" in m["text"]]
        assert echoed == [], "a Slack reply was echoed back to Slack"
        await w.close()
