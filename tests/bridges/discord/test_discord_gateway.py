"""The Discord bridge's Gateway side against the fake Gateway (real WebSockets): identify,
heartbeats, what becomes an operator reply, and every way a connection can go wrong."""

from __future__ import annotations

import asyncio

import pytest
from discord_helpers import (  # noqa: F401 - fixtures
    RecordingSink,
    card,
    channel_fixture,
    discord_fixture,
    item,
    live_fixture,
    make_bridge,
    record,
    sink_fixture,
)

from pocketping.bridges.discord import DiscordBridge
from pocketping.bridges.discord.gateway import GatewayClient
from pocketping_testkit.fakes.discord import FakeDiscord


async def open_thread(bridge: DiscordBridge) -> str:
    thread = (await bridge.open_thread(card())).thread_id
    assert thread is not None
    return thread


async def test_identifies_with_the_intents_it_needs(discord: FakeDiscord, live: DiscordBridge,
                                                    sink: RecordingSink):
    [identify] = discord.gateway.identify_payloads
    assert identify["token"] == discord.token
    # GUILDS | GUILD_MESSAGES | GUILD_MESSAGE_TYPING | MESSAGE_CONTENT
    assert identify["intents"] == 1 | 1 << 9 | 1 << 11 | 1 << 15 == 35329
    assert live.gateway.user_id == discord.bot["id"]
    assert discord.gateway.live()[0].path.startswith("/?v=10&encoding=json")
    assert ("active", None) in sink.of("status")


async def test_an_operator_reply_in_the_thread_reaches_the_sink(discord: FakeDiscord, live: DiscordBridge,
                                                                sink: RecordingSink):
    thread = await open_thread(live)
    sent = discord.post_as_user(thread, "Hello! How can I help?", name="Sarah Connor")

    [reply] = await sink.wait("reply")
    assert reply.thread_id == thread and reply.bridge_id == live.id
    assert reply.text == "Hello! How can I help?"
    assert reply.operator_name == "Sarah Connor"
    assert reply.external_id == sent["id"] and reply.platform_label == "Discord"


async def test_the_server_nickname_is_the_operator_name(discord: FakeDiscord, live: DiscordBridge,
                                                        sink: RecordingSink):
    thread = await open_thread(live)
    discord.post_as_user(thread, "hi", name="sarah", nick="Sarah from Support")
    [reply] = await sink.wait("reply")
    assert reply.operator_name == "Sarah from Support"


async def test_only_people_writing_in_this_channels_threads_count(discord: FakeDiscord, channel: str,
                                                                  live: DiscordBridge, sink: RecordingSink):
    thread = await open_thread(live)
    other_channel = discord.add_channel("random")
    foreign = discord.new_thread(other_channel, "someone else's thread")["id"]

    discord.post_as_user(channel, "in the channel itself, not a thread")
    discord.post_as_user(foreign, "in a thread of another channel")
    discord.post_as_user(thread, "beep", name="OtherBot", bot=True)
    await live.post(thread, item("the bridge's own post comes back over the Gateway"))
    discord.post_as_user(thread, "the real answer")

    [reply] = await sink.wait("reply")
    assert reply.text == "the real answer"
    assert sink.of("reply") == [reply]


async def test_edits_deletions_and_typing_follow(discord: FakeDiscord, live: DiscordBridge, sink: RecordingSink):
    thread = await open_thread(live)
    sent = discord.post_as_user(thread, "teh answer", name="Sarah")
    await sink.wait("reply")
    discord.edit_as_user(thread, sent["id"], "the answer")
    assert await sink.wait("edited") == [(thread, sent["id"], "the answer")]
    discord.delete_as_user(thread, sent["id"])
    assert await sink.wait("deleted") == [(thread, sent["id"])]
    await live.typing(thread)  # the bot's own typing is not an operator typing
    discord.typing_as_user(thread, name="Sarah")
    assert await sink.wait("typing") == [(thread, "Sarah")]


async def test_a_dropped_connection_resumes_and_loses_no_reply(discord: FakeDiscord, live: DiscordBridge,
                                                               sink: RecordingSink):
    thread = await open_thread(live)
    discord.post_as_user(thread, "before the drop")
    await sink.wait("reply")

    discord.gateway.drop()
    discord.post_as_user(thread, "during the drop")  # queued by Discord for the session
    await sink.wait("reply", 2)
    discord.post_as_user(thread, "after the drop")

    replies = await sink.wait("reply", 3)
    assert [r.text for r in replies] == ["before the drop", "during the drop", "after the drop"]
    assert discord.gateway.resumes == ["/resume"]  # resumed on resume_gateway_url, not identified again
    assert len(discord.gateway.identify_payloads) == 1


async def test_a_zombie_connection_is_detected_and_resumed():
    with FakeDiscord(heartbeat_interval=0.05) as discord:
        channel = discord.add_channel("support")
        sink = RecordingSink()
        bridge = make_bridge(discord, channel)
        await bridge.start(sink)
        try:
            await asyncio.wait_for(bridge.gateway.ready.wait(), 10)
            await discord.wait_until(lambda: discord.gateway.heartbeats >= 2, what="heartbeats")
            discord.gateway.stop_acks()
            await discord.wait_until(lambda: discord.gateway.resumes, what="a resume after missed ACKs")
            discord.gateway.resume_acks()
            assert bridge.gateway.zombies >= 1
            # Heartbeats carry the last sequence number received.
            assert discord.gateway.heartbeat_seqs[-1] is not None
            thread = await open_thread(bridge)
            discord.post_as_user(thread, "still here?")
            assert [r.text for r in await sink.wait("reply")] == ["still here?"]
        finally:
            await bridge.stop()


async def test_a_heartbeat_request_is_answered_at_once(discord: FakeDiscord, live: DiscordBridge):
    before = discord.gateway.heartbeats
    discord.gateway.request_heartbeat()
    await discord.wait_until(lambda: discord.gateway.heartbeats > before, what="a heartbeat")


async def test_reconnect_opcode_resumes(discord: FakeDiscord, live: DiscordBridge, sink: RecordingSink):
    thread = await open_thread(live)
    discord.gateway.reconnect()
    await discord.wait_until(lambda: discord.gateway.resumes, what="a resume")
    discord.post_as_user(thread, "after the reconnect")
    assert [r.text for r in await sink.wait("reply")] == ["after the reconnect"]
    # The old connection was not closed with 1000/1001 (that would have ended the session).
    assert 1000 not in discord.gateway.client_close_codes


@pytest.mark.parametrize("resumable", [True, False])
async def test_invalid_session(discord: FakeDiscord, live: DiscordBridge, sink: RecordingSink, resumable: bool):
    thread = await open_thread(live)
    discord.gateway.invalidate(resumable=resumable)
    if resumable:
        await discord.wait_until(lambda: discord.gateway.resumes, what="a resume")
    else:
        await discord.wait_until(lambda: len(discord.gateway.identify_payloads) == 2, what="a new identify")
    await discord.wait_until(lambda: discord.gateway.live(), what="a live session")
    discord.post_as_user(thread, "hello again")
    assert [r.text for r in await sink.wait("reply")] == ["hello again"]


async def test_an_expired_session_falls_back_to_identify(discord: FakeDiscord, live: DiscordBridge,
                                                         sink: RecordingSink):
    thread = await open_thread(live)
    discord.gateway.expire_sessions()
    discord.gateway.drop()
    await discord.wait_until(lambda: len(discord.gateway.identify_payloads) == 2, what="a new identify")
    await discord.wait_until(lambda: discord.gateway.live(), what="a live session")
    discord.post_as_user(thread, "new session")
    assert [r.text for r in await sink.wait("reply")] == ["new session"]


@pytest.mark.parametrize("code", [4000, 4009])
async def test_close_codes_that_allow_a_reconnect(discord: FakeDiscord, live: DiscordBridge, sink: RecordingSink,
                                                  code: int):
    thread = await open_thread(live)
    discord.gateway.close(code)
    if code == 4009:  # session timed out: a new session
        await discord.wait_until(lambda: len(discord.gateway.identify_payloads) == 2, what="a new identify")
    else:
        await discord.wait_until(lambda: discord.gateway.resumes, what="a resume")
    await discord.wait_until(lambda: discord.gateway.live(), what="a live session")
    discord.post_as_user(thread, f"after {code}")
    assert [r.text for r in await sink.wait("reply")] == [f"after {code}"]


async def test_disallowed_intents_stop_with_a_plain_explanation(sink: RecordingSink):
    with FakeDiscord(message_content_intent=False) as discord:
        channel = discord.add_channel("support")
        bridge = make_bridge(discord, channel)
        await bridge.start(sink)
        try:
            await asyncio.wait_for(bridge.gateway.failed.wait(), 10)
            assert 4014 in discord.gateway.server_close_codes
            problem = bridge.gateway.problem or ""
            assert "Message Content" in problem and "Privileged Gateway Intents" in problem
            findings = await bridge.check()
            assert any(not f.ok and f.check == "Gateway" for f in findings)
            [(status, detail)] = await sink.wait("status")
            assert status == "error" and "Message Content" in (detail or "")
        finally:
            await bridge.stop()


async def test_a_token_refused_by_the_gateway_is_given_up_with_a_plain_explanation(discord: FakeDiscord):
    async def url() -> str:
        return discord.gateway.url

    async def ignore(event: str, data: dict, seq: int | None) -> None:
        pass

    client = GatewayClient("not-the-token", get_url=url, on_dispatch=ignore)
    client.start()
    try:
        await asyncio.wait_for(client.failed.wait(), 10)  # not a reconnect loop: given up
        assert "rejected the bot token" in (client.problem or "") and "4004" in (client.problem or "")
        assert 4004 in discord.gateway.server_close_codes
    finally:
        await client.stop()


async def test_a_token_refused_by_the_api_is_given_up_too(discord: FakeDiscord, channel: str, sink: RecordingSink):
    bridge = DiscordBridge(record(channel, "not-the-token"), discord.api_url, timeout=0.5)
    await bridge.start(sink)
    try:
        await asyncio.wait_for(bridge.gateway.failed.wait(), 10)
        assert "rejected the bot token" in (bridge.gateway.problem or "")
        assert discord.gateway.identify_payloads == []  # GET /gateway/bot said 401 already
        [(status, detail)] = await sink.wait("status")
        assert status == "error" and "rejected the bot token" in (detail or "")
    finally:
        await bridge.stop()


@pytest.mark.parametrize("expired", [False, True])
async def test_a_restart_picks_up_where_it_left(discord: FakeDiscord, channel: str, expired: bool):
    first_sink = RecordingSink()
    first = make_bridge(discord, channel)
    await first.start(first_sink)
    await asyncio.wait_for(first.gateway.ready.wait(), 10)
    thread = await open_thread(first)
    discord.post_as_user(thread, "one")
    await first_sink.wait("reply")
    await first.stop()  # a restart: the state the bridge saved comes back in its record
    if expired:  # down longer than Discord keeps a session
        discord.gateway.expire_sessions()
    discord.post_as_user(thread, "two")

    sink = RecordingSink()
    second = make_bridge(discord, channel, state=first_sink.state)
    await second.start(sink)
    try:
        assert [r.text for r in await sink.wait("reply")] == ["two"]
        discord.post_as_user(thread, "three")
        assert [r.text for r in await sink.wait("reply", 2)] == ["two", "three"]
        if expired:
            assert len(discord.gateway.identify_payloads) == 2 and discord.gateway.resumes == []
        else:
            assert len(discord.gateway.identify_payloads) == 1 and discord.gateway.resumes == ["/resume"]
    finally:
        await second.stop()


async def test_replies_written_while_no_session_listened_are_fetched(discord: FakeDiscord, live: DiscordBridge,
                                                                     sink: RecordingSink):
    thread = await open_thread(live)
    discord.post_as_user(thread, "one")
    await sink.wait("reply")
    discord.gateway.expire_sessions()  # Discord forgot the session: what follows is not queued for it
    discord.post_as_user(thread, "two")
    discord.gateway.drop()

    replies = await sink.wait("reply", 2)
    assert [r.text for r in replies] == ["one", "two"]
    assert len(discord.gateway.identify_payloads) == 2


@pytest.mark.parametrize("expired", [False, True])
async def test_a_reply_written_while_the_server_was_down_arrives_after_the_restart(discord: FakeDiscord,
                                                                                    channel: str, expired: bool):
    first_sink = RecordingSink()
    first = make_bridge(discord, channel)
    await first.start(first_sink)
    await asyncio.wait_for(first.gateway.ready.wait(), 10)
    thread = await open_thread(first)
    await first_sink.wait("state")  # what the first READY saved is all a restart has to go on
    await first.gateway.stop()  # as a killed process: no goodbye, nothing saved on the way out
    if expired:
        discord.gateway.expire_sessions()
    discord.post_as_user(thread, "are you still there?")

    sink = RecordingSink()
    second = make_bridge(discord, channel, state=first_sink.state)
    await second.start(sink)
    try:
        assert [r.text for r in await sink.wait("reply")] == ["are you still there?"]
        assert (discord.gateway.resumes == []) is expired
    finally:
        await second.stop()
        await first.api.aclose()
