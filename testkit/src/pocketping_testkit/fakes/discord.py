"""A fake Discord: the REST API (v10) and the Gateway, as the official documentation
describes them, with the controls tests need to make them misbehave.

    with FakeDiscord() as discord:
        channel = discord.add_channel("support")            # a text channel (or kind="forum")
        settings = {"discord_api_url": discord.api_url}
        ...
        discord.post_as_user(thread_id, "Hi!", name="Sarah")  # an operator answers in a thread
        discord.fail_next(status=429, retry_after=2.5)         # the next request is rate limited
        discord.gateway.drop()                                 # the Gateway connection is cut

Everything the bot does is recorded (``requests``, ``messages(channel_id)``); tests wait
for it with ``await discord.wait_until(...)``. REST lives in ``discord_rest``, the Gateway
in ``discord_gateway``.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pocketping_testkit.fakes.harness import FakeHarness

# Permission bits (https://discord.com/developers/docs/topics/permissions).
ADMINISTRATOR = 1 << 3
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
READ_MESSAGE_HISTORY = 1 << 16
MANAGE_THREADS = 1 << 34
CREATE_PUBLIC_THREADS = 1 << 35
SEND_MESSAGES_IN_THREADS = 1 << 38
BRIDGE_PERMISSIONS = (VIEW_CHANNEL | SEND_MESSAGES | READ_MESSAGE_HISTORY | MANAGE_THREADS
                      | CREATE_PUBLIC_THREADS | SEND_MESSAGES_IN_THREADS)

# Application flags: message content enabled (verified app / the Developer Portal toggle).
MAX_UPLOAD = 10 * 1024 * 1024  # attachments per message, without a boosted server
FLAG_MESSAGE_CONTENT = 1 << 18
FLAG_MESSAGE_CONTENT_LIMITED = 1 << 19

# Channel types.
GUILD_TEXT, GUILD_VOICE, GUILD_CATEGORY, GUILD_ANNOUNCEMENT = 0, 2, 4, 5
PUBLIC_THREAD, PRIVATE_THREAD, GUILD_FORUM = 11, 12, 15
THREAD_TYPES = (10, PUBLIC_THREAD, PRIVATE_THREAD)
KINDS = {"text": GUILD_TEXT, "forum": GUILD_FORUM, "voice": GUILD_VOICE, "announcement": GUILD_ANNOUNCEMENT,
         "category": GUILD_CATEGORY}

DISCORD_EPOCH_MS = 1420070400000
NONCE_WINDOW_SECONDS = 300.0


def iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass
class Fault:
    """An injected failure for the next matching request(s)."""

    status: int = 500
    method: str | None = None
    path: str | None = None  # a regular expression searched in the path after /api/v10
    retry_after: float = 1.0
    global_: bool = False
    hang: bool = False  # never answer (until the fake stops): the client times out
    after: bool = False  # do the work, then fail or hang: the answer is lost, the effect is not
    count: int = 1
    skip: int = 0  # let this many matching requests through first

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method:
            return False
        return self.path is None or re.search(self.path, path) is not None


@dataclass
class Recorded:
    method: str
    path: str
    body: Any
    headers: dict[str, str]
    status: int = 0
    at: float = field(default_factory=time.monotonic)


class FakeDiscord(FakeHarness):
    def __init__(self, *, token: str = "fake-discord-bot-token",  # noqa: S107 - a fake's token
                 heartbeat_interval: float = 41.25,
                 message_content_intent: bool = True, bucket_limit: int = 50, bucket_window: float = 1.0,
                 global_limit: int = 1000) -> None:
        super().__init__()
        self.token = token
        self.heartbeat_interval = heartbeat_interval  # seconds, sent in HELLO as milliseconds
        self.bucket_limit = bucket_limit
        self.bucket_window = bucket_window
        self.global_limit = global_limit
        self._next_id = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
        self.guild_id = self.snowflake()
        self.bot = self._user("PocketPing", bot=True)
        self.application: dict[str, Any] = {
            "id": self.snowflake(), "name": "PocketPing", "bot_public": True, "bot_require_code_grant": False,
            "flags": FLAG_MESSAGE_CONTENT_LIMITED if message_content_intent else 0,
            "bot": self.bot,
        }
        self.owner = self._user("owner")
        self.bot_role_id = self.snowflake()
        self.roles: dict[str, dict[str, Any]] = {
            self.guild_id: {"id": self.guild_id, "name": "@everyone", "position": 0,
                            "permissions": str(VIEW_CHANNEL | SEND_MESSAGES | READ_MESSAGE_HISTORY
                                               | SEND_MESSAGES_IN_THREADS | CREATE_PUBLIC_THREADS)},
            self.bot_role_id: {"id": self.bot_role_id, "name": "PocketPing", "position": 1, "managed": True,
                               "permissions": str(BRIDGE_PERMISSIONS)},
        }
        self.users: dict[str, dict[str, Any]] = {}  # operators by display name
        self.members: dict[str, dict[str, Any]] = {self.bot["id"]: self._member(self.bot, [self.bot_role_id])}
        self.channels: dict[str, dict[str, Any]] = {}
        self.deleted: set[str] = set()
        self.deleted_messages: list[tuple[str, str]] = []  # (channel id, message id) deleted over REST
        self._messages: dict[str, list[dict[str, Any]]] = {}
        self._nonces: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}
        self.requests: list[Recorded] = []
        self.faults: list[Fault] = []
        self.rate_limited: list[Recorded] = []  # every 429 the fake answered on its own (not injected)
        self.buckets: dict[tuple[str, str], list[float]] = {}  # (bucket, major id) -> [count, reset_at]
        self.global_window: list[float] = [0, 0.0]
        self.api_url = ""
        self.cdn: dict[str, tuple[str, bytes]] = {}  # attachment id -> (content type, bytes)
        self.release_hung = asyncio.Event()
        from pocketping_testkit.fakes.discord_gateway import FakeGateway

        self.gateway = FakeGateway(self)

    # -- life cycle -------------------------------------------------------------------------------

    async def startup(self) -> None:
        from pocketping_testkit.fakes.discord_rest import build_app

        self.release_hung = asyncio.Event()  # bound to the fake's own loop
        await self.gateway.start()
        port = await self.serve_http(build_app(self))
        self.api_url = f"http://127.0.0.1:{port}/api/v10"

    async def shutdown(self) -> None:
        self.release_hung.set()
        await self.gateway.stop()

    # -- ids and objects ----------------------------------------------------------------------------

    def snowflake(self) -> str:
        with self.lock:
            self._next_id += 1 << 12
            return str(self._next_id)

    def _user(self, name: str, *, bot: bool = False, display: str | None = None) -> dict[str, Any]:
        user: dict[str, Any] = {"id": self.snowflake(), "username": name.lower().replace(" ", "_"),
                                "discriminator": "0", "global_name": display if display is not None else name,
                                "avatar": None}
        if bot:
            user["bot"] = True
            user["global_name"] = None
        return user

    def _member(self, user: dict[str, Any], roles: list[str], nick: str | None = None) -> dict[str, Any]:
        return {"user": user, "nick": nick, "roles": roles, "joined_at": iso_now(), "deaf": False, "mute": False,
                "flags": 0}

    def operator(self, name: str, *, nick: str | None = None, bot: bool = False) -> dict[str, Any]:
        """A guild member (created on first use) whose display name is ``name``."""
        with self.lock:
            user = self.users.get(name)
            if user is None:
                user = self._user(name, bot=bot)
                self.users[name] = user
                self.members[user["id"]] = self._member(user, [], nick)
            return user

    # -- the bot's view of permissions ----------------------------------------------------------------

    def permissions(self, channel: dict[str, Any], user_id: str | None = None) -> int:
        """Computed as the documentation's algorithm says: base roles, then overwrites."""
        user_id = user_id or self.bot["id"]
        if channel.get("type") in THREAD_TYPES:
            channel = self.channels[channel["parent_id"]]
        member = self.members[user_id]
        if user_id == self.owner["id"]:
            return (1 << 53) - 1
        perms = int(self.roles[self.guild_id]["permissions"])
        for role_id in member["roles"]:
            perms |= int(self.roles[role_id]["permissions"])
        if perms & ADMINISTRATOR:
            return (1 << 53) - 1
        overwrites = {o["id"]: o for o in channel.get("permission_overwrites", [])}
        everyone = overwrites.get(self.guild_id)
        if everyone:
            perms = (perms & ~int(everyone["deny"])) | int(everyone["allow"])
        allow = deny = 0
        for role_id in member["roles"]:
            if role_id in overwrites:
                allow |= int(overwrites[role_id]["allow"])
                deny |= int(overwrites[role_id]["deny"])
        perms = (perms & ~deny) | allow
        mine = overwrites.get(user_id)
        if mine:
            perms = (perms & ~int(mine["deny"])) | int(mine["allow"])
        return perms

    def set_bot_permissions(self, permissions: int) -> None:
        with self.lock:
            self.roles[self.bot_role_id]["permissions"] = str(permissions)
            self.roles[self.guild_id]["permissions"] = "0"
        self.changed()

    def set_overwrite(self, channel_id: str, target_id: str, *, allow: int = 0, deny: int = 0) -> None:
        """A channel permission overwrite for a role (the guild id is @everyone) or a member."""
        with self.lock:
            channel = self.channels[channel_id]
            kind = 1 if target_id in self.members else 0
            rest = [o for o in channel["permission_overwrites"] if o["id"] != target_id]
            channel["permission_overwrites"] = [*rest, {"id": target_id, "type": kind, "allow": str(allow),
                                                        "deny": str(deny)}]
        self.changed()

    def set_message_content_intent(self, enabled: bool) -> None:
        with self.lock:
            self.application["flags"] = FLAG_MESSAGE_CONTENT_LIMITED if enabled else 0
        self.changed()

    # -- channels and threads ----------------------------------------------------------------------

    def add_channel(self, name: str = "support", kind: str = "text") -> str:
        """A guild channel the bot can see (``kind``: text, forum, voice, announcement, category)."""
        with self.lock:
            channel_id = self.snowflake()
            self.channels[channel_id] = {
                "id": channel_id, "type": KINDS[kind], "guild_id": self.guild_id, "name": name, "position": 0,
                "permission_overwrites": [], "parent_id": None, "nsfw": False, "topic": None,
                "last_message_id": None, "rate_limit_per_user": 0, "flags": 0,
                "default_auto_archive_duration": 4320,
            }
            if kind == "forum":
                self.channels[channel_id].update({"available_tags": [], "default_reaction_emoji": None,
                                                  "default_sort_order": None, "default_forum_layout": 0})
            self._messages[channel_id] = []
        self.changed()
        return channel_id

    def new_thread(self, parent_id: str, name: str, *, thread_id: str | None = None,
                   auto_archive_duration: int = 10080, owner_id: str | None = None) -> dict[str, Any]:
        with self.lock:
            thread_id = thread_id or self.snowflake()
            thread = {
                "id": thread_id, "type": PUBLIC_THREAD, "guild_id": self.guild_id, "parent_id": parent_id,
                "name": name, "owner_id": owner_id or self.bot["id"], "last_message_id": None,
                "message_count": 0, "member_count": 1, "total_message_sent": 0, "rate_limit_per_user": 0,
                "flags": 0,
                "thread_metadata": {"archived": False, "auto_archive_duration": auto_archive_duration,
                                    "archive_timestamp": iso_now(), "locked": False,
                                    "create_timestamp": iso_now()},
            }
            self.channels[thread_id] = thread
            self._messages[thread_id] = []
            return thread

    def threads(self, parent_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(c) for c in self.channels.values() if c.get("parent_id") == parent_id
                    and c["type"] in THREAD_TYPES]

    def thread(self, thread_id: str) -> dict[str, Any]:
        with self.lock:
            return dict(self.channels[thread_id])

    def archive_thread(self, thread_id: str, *, locked: bool = False) -> None:
        """As if a moderator (or Discord's inactivity timer) archived the thread."""
        with self.lock:
            meta = self.channels[thread_id]["thread_metadata"]
            meta.update({"archived": True, "locked": locked, "archive_timestamp": iso_now()})
            thread = dict(self.channels[thread_id])
        self.gateway.dispatch("THREAD_UPDATE", thread)
        self.changed()

    def delete_thread(self, thread_id: str) -> None:
        """As if someone deleted the thread in Discord."""
        with self.lock:
            thread = self.channels.pop(thread_id)
            self._messages.pop(thread_id, None)
            self.deleted.add(thread_id)
        self.gateway.dispatch("THREAD_DELETE", {"id": thread_id, "guild_id": self.guild_id,
                                                "parent_id": thread["parent_id"], "type": thread["type"]})
        self.changed()

    # -- messages -------------------------------------------------------------------------------------

    def messages(self, channel_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(m) for m in self._messages.get(channel_id, [])]

    def bot_messages(self, channel_id: str) -> list[str]:
        """The contents the bot posted in a channel or thread, in order."""
        with self.lock:
            return [m["content"] for m in self._messages.get(channel_id, []) if m["author"]["id"] == self.bot["id"]]

    def store_message(self, channel_id: str, author: dict[str, Any], content: str, *,
                      allowed_mentions: dict[str, Any] | None = None, nonce: str | int | None = None,
                      message_id: str | None = None, message_type: int = 0,
                      files: list[tuple[str, str, bytes]] | None = None) -> dict[str, Any]:
        """Create a message as Discord does (mentions resolved against ``allowed_mentions``)."""
        with self.lock:
            message_id = message_id or self.snowflake()
            parse = (allowed_mentions or {}).get("parse", ["users", "roles", "everyone"]) \
                if allowed_mentions is not None else ["users", "roles", "everyone"]
            explicit_users = (allowed_mentions or {}).get("users", [])
            mentioned = re.findall(r"<@!?(\d+)>", content)
            users = [u for u in mentioned if "users" in parse or u in explicit_users]
            roles = [r for r in re.findall(r"<@&(\d+)>", content)
                     if "roles" in parse or r in (allowed_mentions or {}).get("roles", [])]
            message: dict[str, Any] = {
                "id": message_id, "channel_id": channel_id, "type": message_type, "content": content,
                "author": author, "timestamp": iso_now(), "edited_timestamp": None, "tts": False,
                "mention_everyone": bool(re.search(r"@(everyone|here)", content)) and "everyone" in parse,
                "mentions": [{"id": u} for u in users], "mention_roles": roles,
                "attachments": [self._attachment(channel_id, f) for f in files or ()], "embeds": [],
                "pinned": False, "flags": 0, "components": [],
            }
            if nonce is not None:
                message["nonce"] = nonce
            self._messages.setdefault(channel_id, []).append(message)
            channel = self.channels.get(channel_id)
            if channel is not None:
                channel["last_message_id"] = message_id
                if channel["type"] in THREAD_TYPES:
                    channel["message_count"] += 1
                    channel["total_message_sent"] += 1
        event = dict(message, guild_id=self.guild_id, member=self._partial_member(author["id"]))
        self.gateway.dispatch("MESSAGE_CREATE", event)
        self.changed()
        return message

    def _attachment(self, channel_id: str, file: tuple[str, str, bytes]) -> dict[str, Any]:
        """An attachment as Discord describes it, served at its CDN ``url``."""
        name, content_type, data = file
        attachment_id = self.snowflake()
        self.cdn[attachment_id] = (content_type, data)
        base = self.api_url.rsplit("/api/", 1)[0]
        url = f"{base}/attachments/{channel_id}/{attachment_id}/{name}"
        return {"id": attachment_id, "filename": name, "size": len(data), "content_type": content_type,
                "url": url + "?ex=0&is=0&hm=fake", "proxy_url": url}

    def files_in(self, channel_id: str) -> list[tuple[str, bytes]]:
        """Every attachment posted in a channel or thread: (filename, bytes)."""
        with self.lock:
            return [(a["filename"], self.cdn[a["id"]][1]) for m in self._messages.get(channel_id, [])
                    for a in m["attachments"]]

    def _partial_member(self, user_id: str) -> dict[str, Any]:
        member = self.members.get(user_id) or {}
        return {k: v for k, v in member.items() if k != "user"}

    def post_as_user(self, channel_id: str, text: str, *, name: str = "Sarah", nick: str | None = None,
                     bot: bool = False, files: list[tuple[str, str, bytes]] | None = None) -> dict[str, Any]:
        """A person (``name`` is their display name) writes in a channel or thread, with
        ``files`` as (filename, content type, bytes) attachments."""
        user = self.operator(name, bot=bot)
        with self.lock:
            self.members[user["id"]]["nick"] = nick  # their server nickname, as of this message
        self.unarchive_on_message(channel_id)
        return self.store_message(channel_id, user, text, files=files)

    def unarchive_on_message(self, channel_id: str) -> None:
        """Sending a message unarchives a thread (the fake's people are moderators: even a locked one)."""
        with self.lock:
            thread = self.channels.get(channel_id)
            if thread is None or thread["type"] not in THREAD_TYPES or not thread["thread_metadata"]["archived"]:
                return
            thread["thread_metadata"].update({"archived": False, "archive_timestamp": iso_now()})
            snapshot = dict(thread)
        self.gateway.dispatch("THREAD_UPDATE", snapshot)

    def edit_as_user(self, channel_id: str, message_id: str, text: str) -> dict[str, Any]:
        with self.lock:
            message = next(m for m in self._messages[channel_id] if m["id"] == message_id)
            message["content"] = text
            message["edited_timestamp"] = iso_now()
            event = dict(message, guild_id=self.guild_id, member=self._partial_member(message["author"]["id"]))
        self.gateway.dispatch("MESSAGE_UPDATE", event)
        self.changed()
        return message

    def delete_as_user(self, channel_id: str, message_id: str) -> None:
        with self.lock:
            self._messages[channel_id] = [m for m in self._messages[channel_id] if m["id"] != message_id]
        self.gateway.dispatch("MESSAGE_DELETE", {"id": message_id, "channel_id": channel_id,
                                                 "guild_id": self.guild_id})
        self.changed()

    def typing_as_user(self, channel_id: str, *, name: str = "Sarah") -> None:
        user = self.operator(name)
        self.gateway.dispatch("TYPING_START", {
            "channel_id": channel_id, "guild_id": self.guild_id, "user_id": user["id"],
            "timestamp": int(time.time()), "member": self.members[user["id"]],
        })

    def find_nonce(self, author_id: str, nonce: str | int) -> dict[str, Any] | None:
        now = time.monotonic()
        with self.lock:
            found = self._nonces.get((author_id, str(nonce)))
            if found and now - found[0] < NONCE_WINDOW_SECONDS:
                return found[1]
        return None

    def remember_nonce(self, author_id: str, nonce: str | int, message: dict[str, Any]) -> None:
        with self.lock:
            self._nonces[(author_id, str(nonce))] = (time.monotonic(), message)

    # -- injected failures ---------------------------------------------------------------------------

    def fail_next(self, status: int = 500, *, method: str | None = None, path: str | None = None,
                  retry_after: float = 1.0, global_: bool = False, count: int = 1, after: bool = False,
                  skip: int = 0) -> Fault:
        """The next ``count`` matching requests (after ``skip`` of them) fail with ``status``
        (a 429 says ``retry_after``; ``global_`` makes it the global limit)."""
        fault = Fault(status=status, method=method, path=path, retry_after=retry_after, global_=global_,
                      count=count, after=after, skip=skip)
        with self.lock:
            self.faults.append(fault)
        return fault

    def hang_next(self, *, method: str | None = None, path: str | None = None, count: int = 1,
                  after: bool = False, skip: int = 0) -> Fault:
        """The next matching requests (after ``skip`` of them) never get an answer: the client's
        timeout fires. With ``after`` the request takes effect first (a lost answer)."""
        fault = Fault(hang=True, method=method, path=path, count=count, after=after, skip=skip)
        with self.lock:
            self.faults.append(fault)
        return fault

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.count > 0 and fault.matches(method, path):
                    if fault.skip > 0:
                        fault.skip -= 1
                        return None
                    fault.count -= 1
                    if fault.count == 0:
                        self.faults.remove(fault)
                    return fault
        return None

    # -- inspection ------------------------------------------------------------------------------------

    def calls(self, method: str, pattern: str) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.method == method and re.search(pattern, r.path)]
