"""The Discord bridge: one thread per session in the configured channel (a public thread in
a text channel, a post in a forum channel), operator replies from the Gateway.

Outgoing: every message is sent with ``allowed_mentions: {"parse": []}`` (visitor text may
say @everyone; it pings no one), Markdown escaped, split at 2,000 characters, with a
``nonce`` + ``enforce_nonce`` so a retried post is never shown twice. Errors become
``DeliveryError`` (with Discord's ``retry_after``) or ``ThreadGone`` (a deleted thread).

Incoming: see ``inbound``.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from typing import Any

from pocketping.bridges.base import Finding, InboundSink, Outgoing, Posted, SessionCard, ThreadGone
from pocketping.bridges.discord import format as fmt
from pocketping.bridges.discord.doctor import FORUM, MEDIA, run_checks
from pocketping.bridges.discord.gateway import BAD_CREDENTIALS, GatewayClient, GatewayRefused
from pocketping.bridges.discord.inbound import Inbound
from pocketping.bridges.discord.rest import DiscordError, DiscordRest
from pocketping.core.models import Bridge as BridgeRecord
from pocketping.errors import DeliveryError

log = logging.getLogger(__name__)

UNKNOWN_CHANNEL = 10003
ARCHIVED_THREAD = 50083
AUTO_ARCHIVE_MINUTES = 10080  # the longest: a conversation stays in the channel list for a week
TYPING_EVERY_SECONDS = 8.0  # Discord shows "is typing" for about 10 s after each call


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
        self.inbound = Inbound(self.id, self.channel_id, self.api, state)
        self.gateway = GatewayClient(self.token, get_url=self._gateway_url, on_dispatch=self.inbound.handle,
                                     on_status=self.inbound.report, session=state.get("gateway"),
                                     name=f"discord {self.id}", **(gateway_options or {}))
        self.inbound.gateway = self.gateway
        self._opened: dict[str, str] = {}  # session id -> thread created, card not posted yet
        self._progress: OrderedDict[tuple[str, str], list[str]] = OrderedDict()  # parts already posted
        self._typing_at: dict[str, float] = {}

    # -- life cycle ------------------------------------------------------------------------------------

    async def start(self, sink: InboundSink) -> None:
        self.inbound.sink = sink
        self.gateway.start()

    async def stop(self) -> None:
        await self.gateway.stop()
        await self.inbound.save_state(self.gateway.session())
        await self.api.aclose()

    async def _gateway_url(self) -> str:
        try:
            data = await self.api.request("GET", "/gateway/bot")
        except DiscordError as exc:
            if exc.status == 401:
                raise GatewayRefused(BAD_CREDENTIALS) from exc
            raise
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
            self.inbound.remember(str(thread["id"]), self.channel_id)
            starter = thread.get("message") or {}
            return Posted(thread_id=str(thread["id"]), message_ids=(str(starter.get("id", thread["id"])),))
        # A text channel: the thread first, then the card in it. Remember a thread made for a
        # session whose card did not go through, so a retry does not open a second one.
        thread_id = self._opened.get(card.session.id)
        if thread_id is None:
            thread = await self._call("POST", f"/channels/{self.channel_id}/threads",
                                      {"name": name, "type": 11, "auto_archive_duration": AUTO_ARCHIVE_MINUTES})
            thread_id = str(thread["id"])
            self.inbound.remember(thread_id, self.channel_id)
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
        return await run_checks(self.api, self.channel_id, self.token)

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
        if self.inbound.channel_type is None:
            try:
                channel = await self.api.request("GET", f"/channels/{self.channel_id}")
            except DiscordError as exc:
                if exc.code == UNKNOWN_CHANNEL:
                    raise DeliveryError(f"the Discord channel {self.channel_id} does not exist; run "
                                        "`pocketping doctor`", retry_after=300.0) from exc
                raise self._delivery_error(exc) from exc
            self.inbound.channel_type = int(channel.get("type", 0))
        return self.inbound.channel_type

    def _delivery_error(self, exc: DiscordError) -> DeliveryError:
        if exc.transient:
            return DeliveryError(exc.message, retry_after=exc.retry_after)
        if exc.status == 401:
            return DeliveryError("Discord rejected the bot token; run `pocketping doctor`", retry_after=300.0)
        if exc.status == 403:
            return DeliveryError(f"{exc.message}; run `pocketping doctor` to see which permission is missing",
                                 retry_after=60.0)
        return DeliveryError(exc.message, permanent=True)
