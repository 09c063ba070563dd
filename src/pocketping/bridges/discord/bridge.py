"""The Discord bridge: one thread per session in the configured channel (a public thread in
a text channel, a post in a forum channel), operator replies from the Gateway.

Outgoing: every message is sent with ``allowed_mentions: {"parse": []}`` (visitor text may
say @everyone; it pings no one), Markdown escaped, split at 2,000 characters, with a
``nonce`` + ``enforce_nonce`` so a retried post is never shown twice. The api turns errors
into ``DeliveryError`` (with Discord's ``retry_after``) or ``ThreadGone`` (a deleted thread).

Incoming: see ``inbound``.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

from pocketping.bridges.base import (
    Erased,
    Finding,
    InboundSink,
    Outgoing,
    OutgoingFile,
    Posted,
    SessionCard,
    ThreadGone,
)
from pocketping.bridges.deps import DEFAULT_HTTP, BridgeDeps, HttpClientFactory
from pocketping.bridges.discord import format as fmt
from pocketping.bridges.discord.api import DiscordApi
from pocketping.bridges.discord.config import DiscordConfig
from pocketping.bridges.discord.doctor import FORUM, MEDIA, run_checks
from pocketping.bridges.discord.gateway import GatewayClient
from pocketping.bridges.discord.inbound import Inbound
from pocketping.core.models import BridgeRecord
from pocketping.errors import DeliveryError

AUTO_ARCHIVE_MINUTES = 10080  # the longest: a conversation stays in the channel list for a week
TYPING_EVERY_SECONDS = 8.0  # Discord shows "is typing" for about 10 s after each call


class DiscordBridge:
    type = "discord"
    label = "Discord"
    max_file_bytes = 10 * 1024 * 1024  # without a boosted server; bigger files go as links
    caption_chars = 1800

    def __init__(self, record: BridgeRecord, api_url: str, *, timeout: float = 10.0,
                 gateway_options: dict[str, Any] | None = None, http: HttpClientFactory = DEFAULT_HTTP) -> None:
        self.id = record.id
        self.project_id = record.project_id
        config = DiscordConfig.from_dict(record.config)
        self.channel_id = config.channel_id
        self.token = config.bot_token
        self.api = DiscordApi(api_url, self.token, timeout=timeout, http=http)
        state = record.state or {}
        self.inbound = Inbound(self.id, self.channel_id, self.api, state)
        self.gateway = GatewayClient(self.token, get_url=self.api.gateway_url, on_dispatch=self.inbound.handle,
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

    # -- outgoing --------------------------------------------------------------------------------------

    async def open_thread(self, card: SessionCard) -> Posted:
        channel_type = await self._parent_type()
        name = fmt.thread_name(card.title)
        content = fmt.render_card(card)
        if channel_type in (FORUM, MEDIA):
            message = self._message_body(content, None)
            thread = await self.api.create_thread(self.channel_id, {
                "name": name, "auto_archive_duration": AUTO_ARCHIVE_MINUTES, "message": message})
            self.inbound.remember(str(thread["id"]), self.channel_id)
            starter = thread.get("message") or {}
            return Posted(thread_id=str(thread["id"]), message_ids=(str(starter.get("id", thread["id"])),))
        # A text channel: the thread first, then the card in it. Remember a thread made for a
        # session whose card did not go through, so a retry does not open a second one.
        thread_id = self._opened.get(card.session.id)
        if thread_id is None:
            thread = await self.api.create_thread(self.channel_id, {
                "name": name, "type": 11, "auto_archive_duration": AUTO_ARCHIVE_MINUTES})
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
        key = (thread_id, item.ref)
        done = self._progress.setdefault(key, [])
        self._progress.move_to_end(key)
        while len(self._progress) > 1000:
            self._progress.popitem(last=False)
        for index, content in enumerate(contents):
            if index < len(done):
                continue  # posted by an earlier attempt
            # The nonce names this very part: a retry after a lost answer gets the same message back.
            message = await self._send(thread_id, content, fmt.nonce(item.ref, thread_id, index, content))
            done.append(str(message["id"]))
        self._progress.pop(key, None)
        return Posted(message_ids=tuple(done))

    async def edit_message(self, thread_id: str, external_id: str, item: Outgoing) -> None:
        await self.api.edit_message(thread_id, external_id, self._message_body(fmt.render_item(item), None))

    async def delete_message(self, thread_id: str, external_id: str) -> None:
        await self.api.delete_message(thread_id, external_id)

    async def post_file(self, thread_id: str, item: Outgoing, file: OutgoingFile) -> Posted:
        """A message with the file as a multipart attachment, who sent it (and the text) as its content."""
        content = fmt.render_item(item) if item.text else f"**{item.author}**"
        body = self._message_body(content, fmt.nonce(item.ref, thread_id, "file", file.id))
        body["attachments"] = [{"id": 0, "filename": file.name}]
        message = await self.api.send_message(thread_id, body, files=[(file.name, file.data, file.content_type)])
        return Posted(message_ids=(str(message["id"]),))

    async def close_thread(self, thread_id: str) -> None:
        await self.api.archive(thread_id)

    async def reopen_thread(self, thread_id: str) -> None:
        await self.api.unarchive(thread_id)

    async def erase_thread(self, thread_id: str, message_ids: list[str]) -> Erased:
        """``DELETE /channels/{thread_id}``: the thread and every message in it."""
        try:
            existed = await self.api.delete_channel(thread_id)
        except DeliveryError as exc:
            if not exc.permanent:
                raise
            return Erased(kept=[f"the thread: {exc.message}"])
        return Erased(deleted={"threads": 1 if existed else 0})

    async def typing(self, thread_id: str) -> None:
        now = time.monotonic()
        if now - self._typing_at.get(thread_id, -TYPING_EVERY_SECONDS) < TYPING_EVERY_SECONDS:
            return
        self._typing_at[thread_id] = now
        await self.api.typing(thread_id)

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
        return await self.api.send_message(thread_id, self._message_body(content, nonce))

    async def _parent_type(self) -> int:
        if self.inbound.channel_type is None:
            self.inbound.channel_type = await self.api.channel_type(self.channel_id)
        return self.inbound.channel_type


def create(record: BridgeRecord, deps: BridgeDeps) -> DiscordBridge:
    return DiscordBridge(record, deps.settings.discord_api_url, http=deps.http)
