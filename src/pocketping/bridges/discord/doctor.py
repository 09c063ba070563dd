"""``pocketping doctor`` for a Discord bridge: real calls that say, in plain words, what to fix.

Checks the token (``/users/@me``), the Message Content intent (the application's flags),
the channel (exists, the bot can see it, a text or forum channel), the bot's effective
permissions in it (computed from roles and overwrites as Discord's documentation describes),
and the Gateway (a real IDENTIFY: a disallowed intent or a refused token shows here).
"""

from __future__ import annotations

from typing import Any

from pocketping.bridges.base import Finding
from pocketping.bridges.discord.api import DiscordApi, DiscordError
from pocketping.bridges.discord.gateway import probe

ADMINISTRATOR = 1 << 3
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
READ_MESSAGE_HISTORY = 1 << 16
MANAGE_THREADS = 1 << 34
CREATE_PUBLIC_THREADS = 1 << 35
SEND_MESSAGES_IN_THREADS = 1 << 38
ALL_PERMISSIONS = (1 << 53) - 1

PERMISSION_NAMES = {
    VIEW_CHANNEL: "View Channel",
    SEND_MESSAGES: "Send Messages",
    CREATE_PUBLIC_THREADS: "Create Public Threads",
    SEND_MESSAGES_IN_THREADS: "Send Messages in Threads",
    MANAGE_THREADS: "Manage Threads",
    READ_MESSAGE_HISTORY: "Read Message History",
}
# What the invite link asks for: everything above (326417583104).
INVITE_PERMISSIONS = sum(PERMISSION_NAMES)

# Application flags that mean the Message Content intent is on (approved / the portal toggle).
MESSAGE_CONTENT_FLAGS = (1 << 18) | (1 << 19)

TEXT, ANNOUNCEMENT, FORUM, MEDIA = 0, 5, 15, 16
CHANNEL_KINDS = {1: "a direct message", 2: "a voice channel", 3: "a group DM", 4: "a category",
                 5: "an announcement channel", 10: "a thread", 11: "a thread", 12: "a thread",
                 13: "a stage channel", 16: "a media channel"}

DEV_MODE = ("In Discord turn on User Settings -> Advanced -> Developer Mode, then right-click the channel -> "
            "Copy Channel ID")


def invite_url(application_id: str) -> str:
    return (f"https://discord.com/oauth2/authorize?client_id={application_id}&scope=bot"
            f"&permissions={INVITE_PERMISSIONS}")


def required_permissions(channel_type: int) -> int:
    if channel_type in (FORUM, MEDIA):  # a post is a thread started with a message
        return VIEW_CHANNEL | SEND_MESSAGES | SEND_MESSAGES_IN_THREADS | MANAGE_THREADS | READ_MESSAGE_HISTORY
    return INVITE_PERMISSIONS


def effective_permissions(user_id: str, guild: dict[str, Any], member: dict[str, Any],
                          channel: dict[str, Any]) -> int:
    """Base permissions from @everyone and the member's roles, then the channel's overwrites
    (@everyone, roles, the member), as in the documentation's algorithm."""
    if guild.get("owner_id") == user_id:
        return ALL_PERMISSIONS
    roles = {str(r["id"]): int(r.get("permissions", 0)) for r in guild.get("roles", [])}
    guild_id = str(guild["id"])
    member_roles = [str(r) for r in member.get("roles", [])]
    perms = roles.get(guild_id, 0)
    for role in member_roles:
        perms |= roles.get(role, 0)
    if perms & ADMINISTRATOR:
        return ALL_PERMISSIONS
    overwrites = {str(o["id"]): (int(o.get("allow", 0)), int(o.get("deny", 0)))
                  for o in channel.get("permission_overwrites", [])}
    if guild_id in overwrites:
        allow, deny = overwrites[guild_id]
        perms = (perms & ~deny) | allow
    role_allow = role_deny = 0
    for role in member_roles:
        allow, deny = overwrites.get(role, (0, 0))
        role_allow |= allow
        role_deny |= deny
    perms = (perms & ~role_deny) | role_allow
    if user_id in overwrites:
        allow, deny = overwrites[user_id]
        perms = (perms & ~deny) | allow
    return perms


async def run_checks(api: DiscordApi, channel_id: str, token: str) -> list[Finding]:
    findings: list[Finding] = []
    try:
        me = await api.request("GET", "/users/@me")
    except DiscordError as exc:
        if exc.status == 401:
            findings.append(Finding(False, "Bot token", "Discord rejected the bot token.",
                                    "In the Developer Portal open your application -> Bot -> Reset Token, then "
                                    "run `pocketping bridge add PROJECT_ID discord --bot-token NEW_TOKEN "
                                    "--channel-id ...` again."))
        else:
            findings.append(Finding(False, "Discord API", f"Could not reach Discord at {api.base_url}: {exc.message}",
                                    "Check that this server can reach discord.com over HTTPS (or the address in "
                                    "POCKETPING_DISCORD_API_URL)."))
        return findings
    findings.append(Finding(True, "Bot token", f"Logged in as {me.get('username')} (id {me.get('id')})."))
    app = await _application(api, findings)
    channel = await _channel(api, channel_id, app, findings)
    if channel is not None and channel.get("guild_id"):
        await _permissions(api, str(me["id"]), channel, app, findings)
    await _gateway(api, token, findings)
    return findings


async def _gateway(api: DiscordApi, token: str, findings: list[Finding]) -> None:
    """Connect and identify for real: what the running server does to receive replies."""
    try:
        info = await api.request("GET", "/gateway/bot")
    except DiscordError as exc:
        findings.append(Finding(False, "Gateway", f"Could not get the Gateway address: {exc.message}"))
        return
    limit = info.get("session_start_limit") or {}
    if limit.get("remaining") == 0:
        hours = int(limit.get("reset_after", 0)) / 3_600_000
        findings.append(Finding(False, "Gateway", "The bot used up its Gateway session starts for today.",
                                f"Wait about {hours:.1f} hours; something restarts the bot too often."))
        return
    problem = await probe(token, str(info["url"]))
    if problem is None:
        findings.append(Finding(True, "Gateway", "Connected and identified: operator replies can be received."))
    else:
        findings.append(Finding(False, "Gateway", problem))


async def _application(api: DiscordApi, findings: list[Finding]) -> dict[str, Any]:
    try:
        app: dict[str, Any] = await api.request("GET", "/applications/@me")
    except DiscordError as exc:
        findings.append(Finding(False, "Message Content intent", f"Could not read the application: {exc.message}"))
        return {}
    if int(app.get("flags") or 0) & MESSAGE_CONTENT_FLAGS:
        findings.append(Finding(True, "Message Content intent", "Enabled: operator replies can be read."))
    else:
        findings.append(Finding(
            False, "Message Content intent",
            "The Message Content intent is off: Discord would refuse the connection, and replies would arrive empty.",
            f"In the Developer Portal (https://discord.com/developers/applications) open {app.get('name', 'your app')} "
            "-> Bot -> Privileged Gateway Intents, turn on Message Content Intent and click Save Changes. "
            "(Bots in 100 or more servers must be verified and approved for it first.)"))
    return app


async def _channel(api: DiscordApi, channel_id: str, app: dict[str, Any],
                   findings: list[Finding]) -> dict[str, Any] | None:
    invite = invite_url(str(app["id"])) if app.get("id") else None
    try:
        channel: dict[str, Any] = await api.request("GET", f"/channels/{channel_id}")
    except DiscordError as exc:
        if exc.status == 404:
            findings.append(Finding(False, "Channel", f"There is no channel with id {channel_id} that the bot can "
                                    "find.", f"Check the channel id. {DEV_MODE}."))
        elif exc.status == 403:
            fix = "Invite the bot to the server"
            fix += f" with {invite}" if invite else ""
            fix += " and give its role View Channel on that channel (channel settings -> Permissions)."
            findings.append(Finding(False, "Channel", f"The bot cannot see channel {channel_id}.", fix))
        else:
            findings.append(Finding(False, "Channel", f"Could not read channel {channel_id}: {exc.message}"))
        return None
    kind = int(channel.get("type", -1))
    name = channel.get("name") or channel_id
    if kind == TEXT:
        findings.append(Finding(True, "Channel", f"#{name} is a text channel: each conversation becomes a "
                                "public thread in it."))
    elif kind in (FORUM, MEDIA):
        findings.append(Finding(True, "Channel", f"#{name} is a forum channel: each conversation becomes a post."))
    else:
        findings.append(Finding(False, "Channel", f"#{name} is {CHANNEL_KINDS.get(kind, 'not a text channel')}.",
                                f"Pick a text or forum channel. {DEV_MODE}, and add the bridge again."))
        return None
    return channel


async def _permissions(api: DiscordApi, bot_id: str, channel: dict[str, Any], app: dict[str, Any],
                       findings: list[Finding]) -> None:
    guild_id = str(channel["guild_id"])
    try:
        guild = await api.request("GET", f"/guilds/{guild_id}")
        member = await api.request("GET", f"/guilds/{guild_id}/members/{bot_id}")
    except DiscordError as exc:
        findings.append(Finding(False, "Permissions", f"Could not read the server's roles: {exc.message}"))
        return
    have = effective_permissions(bot_id, guild, member, channel)
    need = required_permissions(int(channel["type"]))
    missing = [label for bit, label in PERMISSION_NAMES.items() if need & bit and not have & bit]
    name = channel.get("name") or channel["id"]
    if not missing:
        findings.append(Finding(True, "Permissions", f"The bot has every permission it needs in #{name}."))
        return
    fix = (f"In Discord open #{name} -> Edit Channel -> Permissions, and allow these for the bot's role "
           f"({', '.join(missing)})")
    if app.get("id"):
        fix += f"; or invite the bot again with {invite_url(str(app['id']))}"
    findings.append(Finding(False, "Permissions", f"The bot is missing in #{name}: {', '.join(missing)}.",
                            fix + "."))
