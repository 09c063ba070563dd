"""The Discord bridge's REST side against the fake Discord: threads, cards, messages,
mentions, splitting, rate limits, failures, archived and deleted threads, typing."""

from __future__ import annotations

import pytest
from discord_helpers import bridge_fixture, card, channel_fixture, discord_fixture, item, make_bridge, session  # noqa: F401 - fixtures

from pocketping.bridges.base import ThreadGone
from pocketping.errors import DeliveryError
from pocketping_testkit.fakes.discord import FakeDiscord


async def test_a_session_opens_a_public_thread_with_the_card_first(discord: FakeDiscord, channel: str, bridge):
    posted = await bridge.open_thread(card(title="Ada Lovelace · /pricing"))

    [thread] = discord.threads(channel)
    assert posted.thread_id == thread["id"]
    assert thread["type"] == 11 and thread["name"] == "Ada Lovelace · /pricing"
    [first] = discord.messages(thread["id"])
    assert posted.message_ids == (first["id"],)
    assert "Ada Lovelace" in first["content"] and "https://shop.example/pricing" in first["content"]
    assert "Firefox 133" in first["content"]
    create = discord.calls("POST", r"/channels/\d+/threads$")[0]
    assert create.headers["authorization"] == f"Bot {discord.token}"
    assert create.body["type"] == 11
    assert discord.calls("POST", r"/messages$")[0].body["allowed_mentions"] == {"parse": []}


async def test_a_forum_channel_gets_a_post_whose_first_message_is_the_card(discord: FakeDiscord):
    forum = discord.add_channel("help-desk", kind="forum")
    bridge = make_bridge(discord, forum)
    try:
        posted = await bridge.open_thread(card())
        [post] = discord.threads(forum)
        assert posted.thread_id == post["id"]
        [starter] = discord.messages(post["id"])
        assert starter["id"] == post["id"] and "New conversation" in starter["content"]
        body = discord.calls("POST", r"/threads$")[0].body
        assert body["message"]["allowed_mentions"] == {"parse": []}
        await bridge.post(post["id"], item("hello from the forum"))
        assert discord.bot_messages(post["id"])[-1] == "**Visitor:** hello from the forum"
    finally:
        await bridge.stop()


async def test_everyone_and_user_mentions_ping_nobody_and_show_literally(discord: FakeDiscord, bridge):
    thread = (await bridge.open_thread(card())).thread_id
    assert thread is not None
    someone = discord.operator("Sarah")["id"]
    await bridge.post(thread, item(f"@everyone @here <@{someone}> **urgent** [click](https://evil.example)"))

    message = discord.messages(thread)[-1]
    assert message["mention_everyone"] is False
    assert message["mentions"] == [] and message["mention_roles"] == []
    request = discord.calls("POST", r"/messages$")[-1].body
    assert request["allowed_mentions"] == {"parse": []}
    assert request["content"] == (rf"**Visitor:** \@everyone \@here \<\@{someone}\> \*\*urgent\*\* "
                                  r"\[click\](https://evil.example)")


async def test_long_messages_are_split_at_2000_characters_in_order(discord: FakeDiscord, bridge):
    thread = (await bridge.open_thread(card())).thread_id
    assert thread is not None
    words = [f"word{i:04d}" for i in range(500)]  # 4,500 characters
    posted = await bridge.post(thread, item(" ".join(words)))

    parts = discord.bot_messages(thread)[1:]
    assert len(parts) == 3 == len(posted.message_ids)
    assert all(len(p) <= 2000 and p.startswith("**Visitor:** ") for p in parts)  # each part reads alone
    assert " ".join(p.removeprefix("**Visitor:** ") for p in parts).split() == words


async def test_a_429_becomes_a_delivery_error_with_discords_retry_after(discord: FakeDiscord, bridge):
    thread = (await bridge.open_thread(card())).thread_id
    assert thread is not None
    discord.fail_next(429, path=r"/messages$", retry_after=30.0)
    with pytest.raises(DeliveryError) as caught:
        await bridge.post(thread, item("first"))
    assert caught.value.retry_after == pytest.approx(30.0, abs=0.01)
    assert not caught.value.permanent

    # The bucket is known to be empty for 30 s: the bridge does not knock again (429s count
    # towards Discord's invalid-request ban), it reports how long to wait.
    before = len(discord.requests)
    with pytest.raises(DeliveryError) as again:
        await bridge.post(thread, item("second"))
    assert 25 < (again.value.retry_after or 0) <= 30
    assert len(discord.requests) == before


async def test_a_global_rate_limit_holds_every_route(discord: FakeDiscord, bridge):
    thread = (await bridge.open_thread(card())).thread_id
    assert thread is not None
    discord.fail_next(429, path=r"/messages$", retry_after=20.0, global_=True)
    with pytest.raises(DeliveryError):
        await bridge.post(thread, item("first"))
    before = len(discord.requests)
    with pytest.raises(DeliveryError) as caught:
        await bridge.close_thread(thread)  # another route, same global limit
    assert (caught.value.retry_after or 0) > 15
    assert len(discord.requests) == before


async def test_server_errors_and_timeouts_are_retryable_delivery_errors(discord: FakeDiscord, bridge):
    thread = (await bridge.open_thread(card())).thread_id
    assert thread is not None
    discord.fail_next(502, path=r"/messages$")
    with pytest.raises(DeliveryError) as server_error:
        await bridge.post(thread, item("one"))
    assert not server_error.value.permanent

    discord.hang_next(path=r"/messages$")
    with pytest.raises(DeliveryError) as timeout:
        await bridge.post(thread, item("two"))
    assert not timeout.value.permanent and "in time" in timeout.value.message

    await bridge.post(thread, item("three"))
    assert discord.bot_messages(thread)[1:] == ["**Visitor:** three"]


async def test_a_lost_answer_then_a_retry_posts_once(discord: FakeDiscord, bridge):
    thread = (await bridge.open_thread(card())).thread_id
    assert thread is not None
    discord.hang_next(path=r"/messages$", after=True)  # Discord posts it, the answer never comes back
    message = item("only once please")
    with pytest.raises(DeliveryError):
        await bridge.post(thread, message)
    retried = await bridge.post(thread, message)

    assert discord.bot_messages(thread)[1:] == ["**Visitor:** only once please"]
    assert retried.message_ids == (discord.messages(thread)[-1]["id"],)
    first, second = discord.calls("POST", rf"/channels/{thread}/messages$")[-2:]
    assert first.body["nonce"] == second.body["nonce"] and second.body["enforce_nonce"] is True


async def test_a_split_message_interrupted_midway_resumes_without_repeating_parts(discord: FakeDiscord, bridge):
    thread = (await bridge.open_thread(card())).thread_id
    assert thread is not None
    words = [f"w{i:05d}" for i in range(700)]  # 3 parts
    discord.fail_next(500, path=r"/messages$", skip=1)  # the second part fails
    message = item(" ".join(words))
    with pytest.raises(DeliveryError):
        await bridge.post(thread, message)
    posted = await bridge.post(thread, message)

    parts = discord.bot_messages(thread)[1:]
    assert len(parts) == 3 and len(posted.message_ids) == 3
    assert " ".join(p.removeprefix("**Visitor:** ") for p in parts).split() == words


async def test_the_bridge_paces_itself_by_the_rate_limit_headers():
    with FakeDiscord(bucket_limit=2, bucket_window=0.25) as discord:
        channel = discord.add_channel("support")
        bridge = make_bridge(discord, channel)
        try:
            thread = (await bridge.open_thread(card())).thread_id
            assert thread is not None
            for i in range(6):
                await bridge.post(thread, item(f"message {i}"))
            assert discord.bot_messages(thread)[1:] == [f"**Visitor:** message {i}" for i in range(6)]
            assert discord.rate_limited == []  # never ran into a 429
        finally:
            await bridge.stop()


async def test_closing_archives_and_reopening_unarchives(discord: FakeDiscord, bridge):
    thread = (await bridge.open_thread(card())).thread_id
    assert thread is not None
    await bridge.close_thread(thread)
    assert discord.thread(thread)["thread_metadata"]["archived"] is True
    await bridge.close_thread(thread)  # twice is fine
    await bridge.reopen_thread(thread)
    assert discord.thread(thread)["thread_metadata"]["archived"] is False


async def test_a_locked_archived_thread_is_unarchived_when_the_visitor_writes(discord: FakeDiscord, bridge):
    thread = (await bridge.open_thread(card())).thread_id
    assert thread is not None
    discord.archive_thread(thread, locked=True)  # a moderator closed it for good

    await bridge.post(thread, item("I am back"))

    meta = discord.thread(thread)["thread_metadata"]
    assert meta["archived"] is False and meta["locked"] is False
    assert discord.bot_messages(thread)[-1] == "**Visitor:** I am back"
    assert any(r.body.get("archived") is False for r in discord.calls("PATCH", rf"/channels/{thread}$"))


async def test_a_deleted_thread_is_reported_as_gone(discord: FakeDiscord, bridge):
    thread = (await bridge.open_thread(card())).thread_id
    assert thread is not None
    discord.delete_thread(thread)
    with pytest.raises(ThreadGone):
        await bridge.post(thread, item("anyone there?"))
    with pytest.raises(ThreadGone):
        await bridge.reopen_thread(thread)
    await bridge.close_thread(thread)  # nothing to close: not an error


async def test_a_retried_open_reuses_the_thread_it_already_made(discord: FakeDiscord, channel: str, bridge):
    discord.fail_next(503, path=r"/messages$")  # the thread is made, its card fails
    with pytest.raises(DeliveryError):
        await bridge.open_thread(card())
    posted = await bridge.open_thread(card())

    [thread] = discord.threads(channel)
    assert posted.thread_id == thread["id"]
    assert len(discord.bot_messages(thread["id"])) == 1


async def test_missing_permissions_is_a_retryable_error_that_points_to_doctor(discord: FakeDiscord, channel: str,
                                                                              bridge):
    discord.set_overwrite(channel, discord.bot_role_id, deny=1 << 35)  # no Create Public Threads
    with pytest.raises(DeliveryError) as caught:
        await bridge.open_thread(card(session("sess_2")))
    assert "doctor" in caught.value.message and not caught.value.permanent


async def test_visitor_typing_is_throttled(discord: FakeDiscord, bridge):
    thread = (await bridge.open_thread(card())).thread_id
    assert thread is not None
    await bridge.typing(thread)
    await bridge.typing(thread)
    await bridge.typing(thread)
    assert len(discord.calls("POST", rf"/channels/{thread}/typing$")) == 1


async def test_an_edit_patches_the_message_in_place_and_only_the_bots_own(discord: FakeDiscord, bridge):
    thread = (await bridge.open_thread(card())).thread_id
    assert thread is not None
    posted = await bridge.post(thread, item("first words", message_id="msg_edit"))
    await bridge.edit_message(thread, posted.message_ids[0], item("better words", message_id="msg_edit"))
    [_, copy] = discord.messages(thread)
    assert "better words" in copy["content"] and "first words" not in copy["content"]
    assert copy["edited_timestamp"]
    call = discord.calls("PATCH", rf"/channels/{thread}/messages/{copy['id']}$")[0]
    assert call.body["allowed_mentions"] == {"parse": []}
    # Someone else's message cannot be edited (403, 50005); an unknown one is 404 (10008).
    theirs = discord.post_as_user(thread, "a person's words")
    with pytest.raises(DeliveryError):
        await bridge.edit_message(thread, theirs["id"], item("not yours"))
    with pytest.raises(DeliveryError):
        await bridge.edit_message(thread, "123456789", item("nobody's"))
    assert discord.messages(thread)[-1]["content"] == "a person's words"
