"""The Discord bridge: one thread per session in the configured channel (a public thread in
a text channel, a post in a forum channel), operator replies from the Gateway.

Outgoing: every message is sent with ``allowed_mentions: {"parse": []}`` (visitor text may
say @everyone; it pings no one), Markdown escaped, split at 2,000 characters, with a
``nonce`` + ``enforce_nonce`` so a retried post is never shown twice. Errors become
``DeliveryError`` (with Discord's ``retry_after``) or ``ThreadGone`` (a deleted thread).

Incoming: only messages in threads whose parent is the configured channel, from people (not
bots, not ourselves), become operator replies; edits, deletions and typing follow.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from typing import Any

from pocketping.bridges.base import Finding, InboundReply, InboundSink, Outgoing, Posted, SessionCard, ThreadGone
from pocketping.bridges.discord import format as fmt
from pocketping.bridges.discord.doctor import FORUM, MEDIA, run_checks
from pocketping.bridges.discord.gateway import GatewayClient
from pocketping.bridges.discord.rest import DiscordError, DiscordRest
from pocketping.core.models import Bridge as BridgeRecord
from pocketping.errors import DeliveryError

log = logging.getLogger(__name__)

UNKNOWN_CHANNEL = 10003
ARCHIVED_THREAD = 50083
AUTO_ARCHIVE_MINUTES = 10080  # the longest: a conversation stays in the channel list for a week
TYPING_EVERY_SECONDS = 8.0  # Discord shows "is typing" for about 10 s after each call
# A server that cannot take a reply now (its database restarting) gets it later: the
# dispatches wait in order, for about five minutes, before one is given up.
SINK_RETRIES = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 60.0, 60.0, 60.0)
BACKFILL_PAGE = 100
MESSAGE_TYPES = (0, 19)  # a plain message and a reply; joins, pins, thread notices are not replies


class DiscordBridge:
    type = "discord"
    label = "Discord"

    def __init__(self, record: BridgeRecord, api_url: str, *, timeout: float = 10.0,
                 gateway_options: dict[str, Any] | None = None) -> None:
        self.id = record.id
        self.project_id = record.project_id
        self.channel_id = str(record.config["channel_id"])
        self.token = str(record.config["bot_token"])
        self.api = DiscordRest(api_url, self.token, timeout=timeout)
        state = record.state or {}
        self.gateway = GatewayClient(self.token, get_url=self._gateway_url, on_dispatch=self._on_dispatch,
                                     on_status=self._on_status, session=state.get("gateway"),
                                     name=f"discord {self.id}", **(gateway_options or {}))
        # The newest reply handled so far: after a session that could not be resumed, what
        # came later is fetched over REST, so a long outage or a restart loses no reply.
        self._last_message_id: str | None = state.get("last_message_id")
        self._backfill_from: str | None = None
        self._sink: InboundSink | None = None
        self._channel_type: int | None = None
        self._parents: dict[str, str | None] = {}  # thread id -> parent channel id (None: not a thread)
        self._opened: dict[str, str] = {}  # session id -> thread created, card not posted yet
        self._progress: OrderedDict[tuple[str, str], list[str]] = OrderedDict()  # parts already posted
        self._typing_at: dict[str, float] = {}
        self._content_warned = False

    # -- life cycle ------------------------------------------------------------------------------------

    async def start(self, sink: InboundSink) -> None:
        self._sink = sink
        self.gateway.start()

    async def stop(self) -> None:
        await self.gateway.stop()
        await self._save_state(self.gateway.session())
        await self.api.aclose()

    async def _gateway_url(self) -> str:
        data = await self.api.request("GET", "/gateway/bot")
        return str(data["url"])

    # -- outgoing --------------------------------------------------------------------------------------

    async def open_thread(self, card: SessionCard) -> Posted:
        channel_type = await self._parent_type()
        name = fmt.thread_name(card.title)
        content = fmt.render_card(card)
        if channel_type in (FORUM, MEDIA):
            message = self._message_body(content, None)
            thread = await self._call("POST", f"/channels/{self.channel_id}/threads",
                                      {"name": name, "auto_archive_duration": AUTO_ARCHIVE_MINUTES, "message": message})
            self._parents[str(thread["id"])] = self.channel_id
            starter = thread.get("message") or {}
            return Posted(thread_id=str(thread["id"]), message_ids=(str(starter.get("id", thread["id"])),))
        # A text channel: the thread first, then the card in it. Remember a thread made for a
        # session whose card did not go through, so a retry does not open a second one.
        thread_id = self._opened.get(card.session.id)
        if thread_id is None:
            thread = await self._call("POST", f"/channels/{self.channel_id}/threads",
                                      {"name": name, "type": 11, "auto_archive_duration": AUTO_ARCHIVE_MINUTES})
            thread_id = str(thread["id"])
            self._parents[thread_id] = self.channel_id
            self._opened[card.session.id] = thread_id
        try:
            posted = await self._send(thread_id, content, fmt.nonce("card", card.session.id, thread_id))
        except ThreadGone as exc:
            self._opened.pop(card.session.id, None)
            raise DeliveryError("the new Discord thread was deleted before its first message",
                                retry_after=1.0) from exc
        self._opened.pop(card.session.id, None)
        return Posted(thread_id=thread_id, message_ids=(str(posted["id"]),))

    def parts(self, item: Outgoing) -> list[Outgoing]:
        """Items over Discord's 2,000 characters become several, each posted (and recorded) alone."""
        return fmt.split_item(item)

    async def post(self, thread_id: str, item: Outgoing) -> Posted:
        contents = [fmt.render_item(part) for part in fmt.split_item(item)]
        key = (thread_id, item.message.id)
        done = self._progress.setdefault(key, [])
        self._progress.move_to_end(key)
        while len(self._progress) > 1000:
            self._progress.popitem(last=False)
        for index, content in enumerate(contents):
            if index < len(done):
                continue  # posted by an earlier attempt
            # The nonce names this very part: a retry after a lost answer gets the same message back.
            message = await self._send(thread_id, content, fmt.nonce(item.message.id, thread_id, index, content))
            done.append(str(message["id"]))
        self._progress.pop(key, None)
        return Posted(message_ids=tuple(done))

    async def close_thread(self, thread_id: str) -> None:
        try:
            await self.api.request("PATCH", f"/channels/{thread_id}", json={"archived": True})
        except DiscordError as exc:
            if exc.code in (UNKNOWN_CHANNEL, ARCHIVED_THREAD):
                return  # gone or already archived: nothing left to close
            raise self._delivery_error(exc) from exc

    async def reopen_thread(self, thread_id: str) -> None:
        try:
            await self.api.request("PATCH", f"/channels/{thread_id}", json={"archived": False, "locked": False})
        except DiscordError as exc:
            if exc.status == 403:  # no Manage Threads: unarchiving our own thread is still allowed
                try:
                    await self.api.request("PATCH", f"/channels/{thread_id}", json={"archived": False})
                    return
                except DiscordError as again:
                    exc = again
            if exc.code == UNKNOWN_CHANNEL:
                raise ThreadGone(thread_id) from exc
            raise self._delivery_error(exc) from exc

    async def typing(self, thread_id: str) -> None:
        now = time.monotonic()
        if now - self._typing_at.get(thread_id, -TYPING_EVERY_SECONDS) < TYPING_EVERY_SECONDS:
            return
        self._typing_at[thread_id] = now
        try:
            await self.api.request("POST", f"/channels/{thread_id}/typing")
        except DiscordError as exc:  # typing is a hint: never worth a retry
            log.debug("discord typing in %s failed: %s", thread_id, exc)

    async def check(self) -> list[Finding]:
        findings = await run_checks(self.api, self.channel_id)
        if self.gateway.problem:
            findings.append(Finding(False, "Gateway", self.gateway.problem))
        return findings

    # -- outgoing helpers -------------------------------------------------------------------------------

    def _message_body(self, content: str, nonce: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {"content": content, "allowed_mentions": fmt.NO_MENTIONS,
                                "flags": fmt.SUPPRESS_EMBEDS}
        if nonce is not None:
            body["nonce"] = nonce
            body["enforce_nonce"] = True
        return body

    async def _send(self, thread_id: str, content: str, nonce: str) -> dict[str, Any]:
        body = self._message_body(content, nonce)
        for attempt in range(2):
            try:
                result: dict[str, Any] = await self.api.request("POST", f"/channels/{thread_id}/messages", json=body)
                return result
            except DiscordError as exc:
                if exc.code == UNKNOWN_CHANNEL:
                    raise ThreadGone(thread_id) from exc
                if exc.code == ARCHIVED_THREAD and attempt == 0:
                    await self.reopen_thread(thread_id)  # archived and locked: unarchive, then post again
                    continue
                raise self._delivery_error(exc) from exc
        raise DeliveryError("the Discord thread stays archived", retry_after=30.0)

    async def _call(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            result: dict[str, Any] = await self.api.request(method, path, json=body)
            return result
        except DiscordError as exc:
            if exc.code == UNKNOWN_CHANNEL:
                raise DeliveryError(f"the Discord channel {self.channel_id} does not exist any more; run "
                                    "`pocketping doctor`", retry_after=300.0) from exc
            raise self._delivery_error(exc) from exc

    async def _parent_type(self) -> int:
        if self._channel_type is None:
            try:
                channel = await self.api.request("GET", f"/channels/{self.channel_id}")
            except DiscordError as exc:
                if exc.code == UNKNOWN_CHANNEL:
                    raise DeliveryError(f"the Discord channel {self.channel_id} does not exist; run "
                                        "`pocketping doctor`", retry_after=300.0) from exc
                raise self._delivery_error(exc) from exc
            self._channel_type = int(channel.get("type", 0))
        return self._channel_type

    def _delivery_error(self, exc: DiscordError) -> DeliveryError:
        if exc.transient:
            return DeliveryError(exc.message, retry_after=exc.retry_after)
        if exc.status == 401:
            return DeliveryError("Discord rejected the bot token; run `pocketping doctor`", retry_after=300.0)
        if exc.status == 403:
            return DeliveryError(f"{exc.message}; run `pocketping doctor` to see which permission is missing",
                                 retry_after=60.0)
        return DeliveryError(exc.message, permanent=True)

    # -- incoming ----------------------------------------------------------------------------------------

    async def _on_dispatch(self, event: str, data: dict[str, Any], seq: int | None) -> None:
        if event == "READY":
            self._backfill_from = self._last_message_id  # a new session: events in between are lost
        elif event == "GUILD_CREATE":
            for channel in data.get("channels", []):
                if str(channel.get("id")) == self.channel_id:
                    self._channel_type = int(channel.get("type", 0))
            for thread in data.get("threads", []):
                self._parents[str(thread["id"])] = _str_or_none(thread.get("parent_id"))
            if self._backfill_from is not None:
                since, self._backfill_from = self._backfill_from, None
                await self._backfill(str(data.get("id")), data.get("threads", []), since)
        elif event in ("THREAD_CREATE", "THREAD_UPDATE"):
            self._parents[str(data["id"])] = _str_or_none(data.get("parent_id"))
        elif event == "THREAD_LIST_SYNC":
            for thread in data.get("threads", []):
                self._parents[str(thread["id"])] = _str_or_none(thread.get("parent_id"))
        elif event == "MESSAGE_CREATE":
            if await self._on_message(data):
                await self._progress_made(str(data["id"]), seq)
        elif event == "MESSAGE_UPDATE":
            await self._on_edit(data)
        elif event == "MESSAGE_DELETE":
            if await self._ours(str(data.get("channel_id"))):
                await self._to_sink("deletion", lambda s: s.deleted(self.id, str(data["channel_id"]), str(data["id"])))
        elif event == "TYPING_START":
            await self._on_typing(data)

    def _from_person(self, author: dict[str, Any], data: dict[str, Any]) -> bool:
        return not (author.get("bot") or data.get("webhook_id") or str(author.get("id")) == self.gateway.user_id)

    async def _on_message(self, data: dict[str, Any]) -> bool:
        """Hand an operator's message to the sink; True if it was one."""
        author = data.get("author") or {}
        if not self._from_person(author, data) or data.get("type", 0) not in MESSAGE_TYPES:
            return False
        if not data.get("guild_id") or not await self._ours(str(data["channel_id"])):
            return False
        text = str(data.get("content") or "")
        files = [str(a["url"]) for a in data.get("attachments", []) if a.get("url")]
        text = "\n".join([text, *files]).strip()
        if not text:
            if not self._content_warned:
                self._content_warned = True
                log.warning("discord %s: a reply arrived without text: is the Message Content intent on? "
                            "Run `pocketping doctor`.", self.id)
            return False
        reply = InboundReply(bridge_id=self.id, thread_id=str(data["channel_id"]), text=text,
                             operator_name=fmt.display_name(data.get("member"), author),
                             external_id=str(data["id"]), platform_label=self.label,
                             extra={"user_id": str(author.get("id"))})
        await self._to_sink("reply", lambda s: s.reply(reply))
        return True

    async def _progress_made(self, message_id: str, seq: int | None) -> None:
        """Remember, durably, how far replies were handled (for a resume or a backfill later)."""
        if self._last_message_id is None or int(message_id) > int(self._last_message_id):
            self._last_message_id = message_id
        session = self.gateway.session()
        if session is not None and seq is not None:
            session["seq"] = seq
        await self._save_state(session)

    async def _save_state(self, session: dict[str, Any] | None) -> None:
        save = getattr(self._sink, "save_state", None)
        if save is None:
            return
        try:
            await save(self.id, {"gateway": session, "last_message_id": self._last_message_id})
        except Exception:
            log.warning("discord %s: could not save the Gateway state", self.id, exc_info=True)

    async def _on_status(self, status: str, detail: str | None) -> None:
        report = getattr(self._sink, "report", None)
        if report is not None:
            await report(self.id, status, detail)

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
                    log.warning("discord %s: could not fetch missed replies in %s: %s", self.id, thread["id"], exc)
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
            await self._to_sink("edit", lambda s: s.edited(self.id, str(data["channel_id"]), str(data["id"]),
                                                            str(data["content"])))

    async def _on_typing(self, data: dict[str, Any]) -> None:
        member = data.get("member") or {}
        user = member.get("user") or {}
        if str(data.get("user_id")) == self.gateway.user_id or user.get("bot"):
            return
        if self._sink is not None and await self._ours(str(data.get("channel_id"))):
            try:
                await self._sink.typing(self.id, str(data["channel_id"]), fmt.display_name(member, user))
            except Exception:
                log.debug("discord typing signal dropped", exc_info=True)

    async def _ours(self, channel_id: str) -> bool:
        """Is this a thread of the configured channel? Asked of Discord once per unknown channel."""
        if channel_id == self.channel_id:
            return False
        if channel_id not in self._parents:
            try:
                channel = await self.api.request("GET", f"/channels/{channel_id}")
                self._parents[channel_id] = _str_or_none(channel.get("parent_id"))
            except DiscordError as exc:
                if exc.transient:
                    log.warning("discord %s: cannot tell where channel %s belongs: %s", self.id, channel_id, exc)
                    return False
                self._parents[channel_id] = None
        return self._parents.get(channel_id) == self.channel_id

    async def _to_sink(self, what: str, call: Any) -> None:
        """Hand something to the sink, retrying a few times if the server cannot take it now."""
        for delay in (*SINK_RETRIES, None):
            if self._sink is None:
                return
            try:
                await call(self._sink)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                if delay is None:
                    log.exception("discord %s: an operator %s could not be handled", self.id, what)
                    return
                log.warning("discord %s: handling an operator %s failed; retrying", self.id, what, exc_info=True)
                await asyncio.sleep(delay)


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
