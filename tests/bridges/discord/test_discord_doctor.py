"""``check()`` (what ``pocketping doctor`` shows for a Discord bridge) against the fake."""

from __future__ import annotations

from discord_helpers import channel_fixture, discord_fixture, make_bridge, record  # noqa: F401 - fixtures

from pocketping.bridges.base import Finding
from pocketping.bridges.discord import DiscordBridge
from pocketping_testkit.fakes.discord import CREATE_PUBLIC_THREADS, MANAGE_THREADS, VIEW_CHANNEL, FakeDiscord


async def findings_for(discord: FakeDiscord, channel: str, token: str | None = None) -> dict[str, Finding]:
    if token is None:
        bridge = make_bridge(discord, channel)
    else:
        bridge = DiscordBridge(record(channel, token), discord.api_url, timeout=0.5)
    try:
        return {f.check: f for f in await bridge.check()}
    finally:
        await bridge.stop()


async def test_a_healthy_setup_passes_every_check(discord: FakeDiscord, channel: str):
    found = await findings_for(discord, channel)
    assert all(f.ok for f in found.values()), found
    assert set(found) == {"Bot token", "Message Content intent", "Channel", "Permissions", "Gateway"}
    assert "text channel" in found["Channel"].detail


async def test_a_forum_channel_is_fine(discord: FakeDiscord):
    forum = discord.add_channel("help", kind="forum")
    found = await findings_for(discord, forum)
    assert found["Channel"].ok and "forum" in found["Channel"].detail
    assert found["Permissions"].ok


async def test_a_wrong_token_says_how_to_get_a_new_one(discord: FakeDiscord, channel: str):
    found = await findings_for(discord, channel, token="not-the-token")
    assert not found["Bot token"].ok
    assert "Reset Token" in (found["Bot token"].fix or "")
    assert list(found) == ["Bot token"]


async def test_a_missing_message_content_intent_explains_the_developer_portal(discord: FakeDiscord, channel: str):
    discord.set_message_content_intent(False)
    found = await findings_for(discord, channel)
    intent = found["Message Content intent"]
    assert not intent.ok
    assert "Developer Portal" in (intent.fix or "") and "Message Content Intent" in (intent.fix or "")
    # The real connection attempt agrees: Discord closes it with 4014.
    assert not found["Gateway"].ok and "4014" in found["Gateway"].detail
    assert 4014 in discord.gateway.server_close_codes


async def test_missing_permissions_are_named(discord: FakeDiscord, channel: str):
    discord.set_overwrite(channel, discord.bot_role_id, deny=CREATE_PUBLIC_THREADS | MANAGE_THREADS)
    found = await findings_for(discord, channel)
    perms = found["Permissions"]
    assert not perms.ok
    assert "Create Public Threads" in perms.detail and "Manage Threads" in perms.detail
    assert "Send Messages" not in perms.detail
    assert f"client_id={discord.application['id']}" in (perms.fix or "")
    assert "permissions=326417583104" in (perms.fix or "")


async def test_a_member_overwrite_beats_a_role_deny(discord: FakeDiscord, channel: str):
    discord.set_overwrite(channel, discord.bot_role_id, deny=MANAGE_THREADS)
    discord.set_overwrite(channel, discord.bot["id"], allow=MANAGE_THREADS)
    found = await findings_for(discord, channel)
    assert found["Permissions"].ok


async def test_a_channel_the_bot_cannot_see(discord: FakeDiscord, channel: str):
    discord.set_overwrite(channel, discord.guild_id, deny=VIEW_CHANNEL)
    discord.set_overwrite(channel, discord.bot_role_id, deny=VIEW_CHANNEL)
    found = await findings_for(discord, channel)
    assert not found["Channel"].ok and "cannot see" in found["Channel"].detail
    assert "oauth2/authorize" in (found["Channel"].fix or "")


async def test_an_unknown_or_unsuitable_channel(discord: FakeDiscord):
    found = await findings_for(discord, "123456789012345678")
    assert not found["Channel"].ok and "Developer Mode" in (found["Channel"].fix or "")
    voice = discord.add_channel("lounge", kind="voice")
    found = await findings_for(discord, voice)
    assert not found["Channel"].ok and "voice channel" in found["Channel"].detail
