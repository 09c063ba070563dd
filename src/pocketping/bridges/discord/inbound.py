"""What comes from the Discord Gateway, turned into calls on the bridge manager's sink.

Only messages in threads whose parent is the configured channel, written by people (not
bots, not ourselves), become operator replies; edits, deletions and typing follow. Progress
is saved through the sink (the Gateway session and the newest reply handled), so that after
a restart the session is resumed, and after a session that could not be, the replies
written meanwhile are fetched over REST.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from pocketping.bridges.base import InboundFile, InboundReply, InboundSink
from pocketping.bridges.discord import format as fmt
from pocketping.bridges.discord.api import DiscordApi, DiscordError
from pocketping.bridges.discord.gateway import GatewayClient

log = logging.getLogger(__name__)

MESSAGE_TYPES = (0, 19)  # a plain message and a reply; joins, pins, thread notices are not replies
# A server that cannot take a reply now (its database restarting) gets it later: the
# dispatches wait in order, for about five minutes, before one is given up.
SINK_RETRIES = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 60.0, 60.0, 60.0)
LOOKUP_RETRIES = (0.5, 2.0, 5.0)
BACKFILL_PAGE = 100
MAX_KNOWN_CHANNELS = 50_000
MAX_HANDLED = 10_000
DISCORD_EPOCH_MS = 1_420_070_400_000


class Inbound:
    def __init__(self, bridge_id: str, channel_id: str, api: DiscordApi, state: dict[str, Any]) -> None:
        self.bridge_id = bridge_id
        self.channel_id = channel_id
        self.api = api
        self.sink: InboundSink | None = None
        self.gateway: GatewayClient | None = None
        self.channel_type: int | None = None  # learnt from GUILD_CREATE
        # channel or thread id -> its parent channel id (None: not a thread), most recent last
        self._parents: OrderedDict[str, str | None] = OrderedDict()
        # The newest reply handled so far: after a session that could not be resumed, what
        # came later is fetched over REST, so a long outage or a restart loses no reply.
        self._last_message_id: str | None = state.get("last_message_id")
        self._backfill_from: str | None = None
        self._content_warned = False
        # Replies already handed on: a backfill and the live stream may both bring one.
        self._handled: OrderedDict[str, None] = OrderedDict()

    @property
    def user_id(self) -> str | None:
        return self.gateway.user_id if self.gateway is not None else None

    async def handle(self, event: str, data: dict[str, Any], seq: int | None) -> None:
        """One Gateway dispatch (called in order, one at a time)."""
        if event == "READY":
            self._backfill_from = self._last_message_id  # a new session: events in between are lost
            if self._last_message_id is None:
                # From now on nothing may be missed: a restart resumes this session, or fetches
                # the replies written after this moment (a minute early: the clocks may differ).
                self._last_message_id = snowflake_at(time.time() - 60)
            await self.save_state(self._session_at(seq))
        elif event == "GUILD_CREATE":
            for channel in data.get("channels", []):
                if str(channel.get("id")) == self.channel_id:
                    self.channel_type = int(channel.get("type", 0))
            for thread in data.get("threads", []):
                self.remember(str(thread["id"]), _str_or_none(thread.get("parent_id")))
            if self._backfill_from is not None:
                since, self._backfill_from = self._backfill_from, None
                await self._backfill(str(data.get("id")), data.get("threads", []), since)
        elif event in ("THREAD_CREATE", "THREAD_UPDATE"):
            self.remember(str(data["id"]), _str_or_none(data.get("parent_id")))
        elif event == "THREAD_LIST_SYNC":
            for thread in data.get("threads", []):
                self.remember(str(thread["id"]), _str_or_none(thread.get("parent_id")))
        elif event == "MESSAGE_CREATE":
            if await self._on_message(data):
                await self._progress_made(str(data["id"]), seq)
        elif event == "MESSAGE_UPDATE":
            await self._on_edit(data)
        elif event == "MESSAGE_DELETE":
            thread_id, message_id = str(data.get("channel_id")), str(data.get("id"))
            if await self._ours(thread_id):
                await self._to_sink("deletion", lambda s: s.deleted(self.bridge_id, thread_id, message_id))
        elif event == "TYPING_START":
            await self._on_typing(data)

    def _from_person(self, author: dict[str, Any], data: dict[str, Any]) -> bool:
        return not (author.get("bot") or data.get("webhook_id") or str(author.get("id")) == self.user_id)

    async def _on_message(self, data: dict[str, Any]) -> bool:
        """Hand an operator's message to the sink; True if it was one."""
        author = data.get("author") or {}
        if not self._from_person(author, data) or data.get("type", 0) not in MESSAGE_TYPES:
            return False
        if not data.get("guild_id") or not await self._ours(str(data["channel_id"])):
            return False
        text = str(data.get("content") or "").strip()
        files = self._files(data)
        if not text and not files:
            if not self._content_warned:
                self._content_warned = True
                log.warning("discord %s: a reply arrived without text: is the Message Content intent on? "
                            "Run `pocketping doctor`.", self.bridge_id)
            return False
        if str(data["id"]) in self._handled:
            return False
        reply = InboundReply(bridge_id=self.bridge_id, thread_id=str(data["channel_id"]), text=text,
                             operator_name=fmt.display_name(data.get("member"), author),
                             external_id=str(data["id"]), platform_label="Discord",
                             extra={"user_id": str(author.get("id"))}, files=files)
        await self._to_sink("reply", lambda s: s.reply(reply))
        self._handled[reply.external_id] = None
        while len(self._handled) > MAX_HANDLED:
            self._handled.popitem(last=False)
        return True

    def _files(self, data: dict[str, Any]) -> list[InboundFile]:
        """The message's attachments, downloaded from their CDN URL."""
        api = self.api
        out: list[InboundFile] = []
        for a in data.get("attachments") or ():
            if not isinstance(a, dict) or not a.get("url"):
                continue

            async def fetch(limit: int, url: str = str(a["url"])) -> bytes:
                return await api.download(url, limit)

            size = a.get("size")
            out.append(InboundFile(name=str(a.get("filename") or "file"), fetch=fetch,
                                   size=size if isinstance(size, int) else None))
        return out

    async def _progress_made(self, message_id: str, seq: int | None) -> None:
        """Remember, durably, how far replies were handled (for a resume or a backfill later)."""
        if self._last_message_id is None or int(message_id) > int(self._last_message_id):
            self._last_message_id = message_id
        await self.save_state(self._session_at(seq))

    def _session_at(self, seq: int | None) -> dict[str, Any] | None:
        """The Gateway session to resume after a restart, from the dispatch ``seq`` (handled)."""
        gateway = self.gateway
        if gateway is None:
            return None
        if seq is None:
            return gateway.session()
        if gateway.session_id is None or gateway.resume_url is None:
            return None
        return {"session_id": gateway.session_id, "resume_url": gateway.resume_url, "seq": seq}

    async def save_state(self, session: dict[str, Any] | None) -> None:
        save = getattr(self.sink, "save_state", None)
        if save is None:
            return
        try:
            await save(self.bridge_id, {"gateway": session, "last_message_id": self._last_message_id})
        except Exception:
            log.warning("discord %s: could not save the Gateway state", self.bridge_id, exc_info=True)

    async def report(self, status: str, detail: str | None) -> None:
        report = getattr(self.sink, "report", None)
        if report is not None:
            await report(self.bridge_id, status, detail)

    async def _backfill(self, guild_id: str, threads: list[dict[str, Any]], since: str) -> None:
        """Fetch the replies written in this channel's active threads while no session was
        listening (the sink stores each once, whatever was already seen)."""
        for thread in threads:
            last = thread.get("last_message_id")
            if _str_or_none(thread.get("parent_id")) != self.channel_id or not last or int(last) <= int(since):
                continue
            after = since
            while True:
                try:
                    page = await self.api.request("GET", f"/channels/{thread['id']}/messages",
                                                  params={"after": after, "limit": BACKFILL_PAGE})
                except DiscordError as exc:
                    log.warning("discord %s: could not fetch missed replies in %s: %s", self.bridge_id,
                                thread["id"], exc)
                    break
                messages = sorted(page, key=lambda m: int(m["id"]))
                for message in messages:
                    if await self._on_message(dict(message, guild_id=guild_id)):
                        await self._progress_made(str(message["id"]), None)
                if len(page) < BACKFILL_PAGE:
                    break
                after = str(messages[-1]["id"])

    async def _on_edit(self, data: dict[str, Any]) -> None:
        author = data.get("author") or {}
        if "content" not in data or not self._from_person(author, data):
            return
        if await self._ours(str(data.get("channel_id"))):
            await self._to_sink("edit", lambda s: s.edited(self.bridge_id, str(data["channel_id"]), str(data["id"]),
                                                            str(data["content"])))

    async def _on_typing(self, data: dict[str, Any]) -> None:
        member = data.get("member") or {}
        user = member.get("user") or {}
        if str(data.get("user_id")) == self.user_id or user.get("bot"):
            return
        if self.sink is not None and await self._ours(str(data.get("channel_id"))):
            try:
                await self.sink.typing(self.bridge_id, str(data["channel_id"]), fmt.display_name(member, user))
            except Exception:
                log.debug("discord typing signal dropped", exc_info=True)

    def remember(self, channel_id: str, parent_id: str | None) -> None:
        self._parents[channel_id] = parent_id
        self._parents.move_to_end(channel_id)
        while len(self._parents) > MAX_KNOWN_CHANNELS:
            self._parents.popitem(last=False)

    async def _ours(self, channel_id: str) -> bool:
        """Is this a thread of the configured channel? Asked of Discord once per unknown channel."""
        if channel_id == self.channel_id:
            return False
        for delay in (*LOOKUP_RETRIES, None):
            if channel_id in self._parents:
                break
            try:
                channel = await self.api.request("GET", f"/channels/{channel_id}")
                self.remember(channel_id, _str_or_none(channel.get("parent_id")))
            except DiscordError as exc:
                if not exc.transient:
                    self.remember(channel_id, None)  # not ours to see: not ours
                elif delay is None:
                    log.warning("discord %s: cannot tell where channel %s belongs: %s", self.bridge_id, channel_id,
                                exc)
                    return False
                else:
                    await asyncio.sleep(delay)
        return self._parents.get(channel_id) == self.channel_id

    async def _to_sink(self, what: str, call: Callable[[InboundSink], Awaitable[None]]) -> None:
        """Hand something to the sink, retrying a few times if the server cannot take it now."""
        for delay in (*SINK_RETRIES, None):
            if self.sink is None:
                return
            try:
                await call(self.sink)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                if delay is None:
                    log.exception("discord %s: an operator %s could not be handled", self.bridge_id, what)
                    return
                log.warning("discord %s: handling an operator %s failed; retrying", self.bridge_id, what, exc_info=True)
                await asyncio.sleep(delay)


def snowflake_at(seconds: float) -> str:
    """The smallest Discord id of that moment (ids start with milliseconds since 2015)."""
    return str(max(0, int(seconds * 1000) - DISCORD_EPOCH_MS) << 22)


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
