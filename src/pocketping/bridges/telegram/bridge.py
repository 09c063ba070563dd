"""Telegram: one forum topic per conversation in a forum-enabled supergroup.

Outgoing: ``createForumTopic`` (card first), ``sendMessage`` with ``message_thread_id``
(HTML-escaped), ``closeForumTopic``/``reopenForumTopic``, ``sendChatAction``. Paced at about
one message a second and 20 a minute per group, shared by all of its topics.
Incoming: ``getUpdates`` long polling, or a webhook with a secret token (see inbound.py).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from typing import Any, Literal

from pocketping.bridges.base import (
    Erased,
    Finding,
    InboundSink,
    Outgoing,
    OutgoingFile,
    Posted,
    SessionCard,
    Throttled,
    WebhookAnswer,
)
from pocketping.bridges.deps import DEFAULT_HTTP, BridgeDeps, HttpClientFactory
from pocketping.bridges.pacing import Limit, Pacer
from pocketping.bridges.telegram import format as fmt
from pocketping.bridges.telegram.api import TelegramApi, TelegramError
from pocketping.bridges.telegram.config import TelegramConfig, uses_webhook, webhook_url
from pocketping.bridges.telegram.doctor import run_checks
from pocketping.bridges.telegram.inbound import Receiver
from pocketping.clock import Clock
from pocketping.core.models import BridgeRecord
from pocketping.errors import DeliveryError

log = logging.getLogger(__name__)

# Telegram: "no more than 20 messages per minute in the same group"; in one chat "avoid more
# than one message per second; short bursts may go over".
GROUP_LIMIT = Limit(rate=1.0, burst=3, per_window=20, window=60.0)
PHOTO_BYTES = 10 * 1024 * 1024  # sendPhoto takes photos up to 10 MB; bigger images go as documents


class TelegramBridge:
    type = "telegram"
    label = "Telegram"
    max_file_bytes = 50 * 1024 * 1024  # what bots may send; bigger files go as links
    caption_chars = fmt.MAX_CAPTION - 100

    def __init__(self, record: BridgeRecord, *, api_url: str, clock: Clock, pacer: Pacer,
                 mode: Literal["auto", "polling", "webhook"] = "auto", public_url: str | None = None,
                 max_wait: float = 30.0, http: HttpClientFactory = DEFAULT_HTTP) -> None:
        self.id = record.id
        self.project_id = record.project_id
        self.config = TelegramConfig.from_dict(record.config)
        self.chat_id = self.config.chat_id
        self.api = TelegramApi(api_url, self.config.bot_token, http=http)
        self.pacer = pacer
        self.pace_key = f"telegram:{self.chat_id}"
        self.max_wait = max_wait  # longer than this, a delivery gives its outbox lease back
        self.webhook = uses_webhook(mode, public_url)
        self.webhook_url = webhook_url(public_url, self.id)
        self.receiver = Receiver(self.id, self.config, self.api, clock, webhook=self.webhook,
                                 webhook_url=self.webhook_url,
                                 last_update_id=int(record.state.get("last_update_id", 0)))

    # --- lifecycle ---------------------------------------------------------------------
    async def start(self, sink: InboundSink) -> None:
        await self.receiver.start(sink)

    async def stop(self) -> None:
        await self.receiver.stop()
        with contextlib.suppress(Exception):
            await self.api.close()

    # --- outgoing ------------------------------------------------------------------------
    async def _send(self, method: str, params: dict[str, Any], *, thread_id: str | None = None,
                    unchanged_ok: bool = False, paced: bool = True,
                    files: dict[str, tuple[str, bytes, str]] | None = None) -> Any:
        if paced:
            await self.pacer.wait(self.pace_key, GROUP_LIMIT, max_wait=self.max_wait)
        try:
            return await self.api.send(method, {"chat_id": self.chat_id, **params}, thread_id=thread_id,
                                       unchanged_ok=unchanged_ok, files=files)
        except Throttled as exc:
            self.pacer.penalize(self.pace_key, exc.retry_after)  # the whole group waits it out
            raise

    async def open_thread(self, card: SessionCard) -> Posted:
        topic = await self._send("createForumTopic", {"name": fmt.topic_name(card)})
        thread_id = int(topic["message_thread_id"])
        posted = await self._send("sendMessage", {"message_thread_id": thread_id, "text": fmt.card_html(card),
                                                  "parse_mode": "HTML",
                                                  "link_preview_options": {"is_disabled": True}})
        return Posted(thread_id=str(thread_id), message_ids=(str(posted["message_id"]),))

    def parts(self, item: Outgoing) -> list[Outgoing]:
        return fmt.split(item)

    async def post(self, thread_id: str, item: Outgoing) -> Posted:
        ids: list[str] = []
        for part in fmt.split(item):
            sent = await self._send("sendMessage", {
                "message_thread_id": int(thread_id), "text": fmt.message_html(part), "parse_mode": "HTML",
                "link_preview_options": {"is_disabled": True}}, thread_id=thread_id)
            ids.append(str(sent["message_id"]))
        return Posted(message_ids=tuple(ids))

    async def edit_message(self, thread_id: str, external_id: str, item: Outgoing) -> None:
        await self._send("editMessageText", {"message_id": int(external_id), "text": fmt.message_html(item),
                                             "parse_mode": "HTML", "link_preview_options": {"is_disabled": True}},
                         thread_id=thread_id, unchanged_ok=True)

    async def delete_message(self, thread_id: str, external_id: str) -> None:
        """``deleteMessage`` (refused after 48 hours: the relay then edits the copy instead)."""
        await self.pacer.wait(self.pace_key, GROUP_LIMIT, max_wait=self.max_wait)
        try:
            await self.api.delete_message(self.chat_id, int(external_id))
        except Throttled as exc:
            self.pacer.penalize(self.pace_key, exc.retry_after)
            raise

    async def post_file(self, thread_id: str, item: Outgoing, file: OutgoingFile) -> Posted:
        """``sendPhoto`` for an image (up to 10 MB), else ``sendDocument``, the text as the caption."""
        photo = file.is_image and file.size <= PHOTO_BYTES
        field = "photo" if photo else "document"
        sent = await self._send("sendPhoto" if photo else "sendDocument", {
            "message_thread_id": int(thread_id), "caption": fmt.caption_html(item), "parse_mode": "HTML"},
            thread_id=thread_id, files={field: (file.name, file.data, file.content_type)})
        return Posted(message_ids=(str(sent["message_id"]),))

    async def _topic(self, method: str, thread_id: str, **params: Any) -> None:
        # "Not modified" (already closed, already open, the same name) is no failure.
        await self._send(method, {"message_thread_id": int(thread_id), **params}, thread_id=thread_id,
                         unchanged_ok=True)

    async def rename_thread(self, thread_id: str, card: SessionCard) -> None:
        await self._topic("editForumTopic", thread_id, name=fmt.topic_name(card))

    async def close_thread(self, thread_id: str) -> None:
        await self._topic("closeForumTopic", thread_id)

    async def reopen_thread(self, thread_id: str) -> None:
        await self._topic("reopenForumTopic", thread_id)

    async def erase_thread(self, thread_id: str, message_ids: list[str]) -> Erased:
        """``deleteForumTopic`` (the topic and all its messages). Refused (no right to manage
        topics), the messages we posted are deleted one by one and the topic reported as kept."""
        try:
            existed = await self.api.delete_forum_topic(self.chat_id, int(thread_id))
        except TelegramError as exc:
            if exc.error_code == 429 or exc.error_code >= 500:
                raise  # busy or down: tried again later
            return await self._delete_each(message_ids, f"the topic: Telegram refused deleteForumTopic "
                                                        f"({exc.description})")
        return Erased(deleted={"topics": 1 if existed else 0})

    async def _delete_each(self, message_ids: list[str], why: str) -> Erased:
        deleted, refused = 0, 0
        for external_id in message_ids:
            try:
                await self.api.call("deleteMessage", {"chat_id": self.chat_id, "message_id": int(external_id)})
                deleted += 1
            except TelegramError as exc:
                if exc.error_code == 429 or exc.error_code >= 500:
                    raise
                refused += 1
        kept = [why] + ([f"{refused} message(s): Telegram refused deleteMessage"] if refused else [])
        return Erased(deleted={"messages": deleted}, kept=kept)

    async def typing(self, thread_id: str) -> None:
        # Chat actions are not messages and do not use the group's message budget; but after
        # a 429 nothing goes to the group until the time is up.
        if self.pacer.penalized(self.pace_key):
            return
        with contextlib.suppress(DeliveryError):
            await self._send("sendChatAction", {"message_thread_id": int(thread_id), "action": "typing"},
                             paced=False)

    # --- incoming ------------------------------------------------------------------------
    async def handle_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookAnswer:
        return await self.receiver.handle_webhook(headers, body)

    # --- doctor ----------------------------------------------------------------------------
    async def check(self) -> list[Finding]:
        return await run_checks(self.api, project_id=self.project_id, bridge_id=self.id, chat_id=self.chat_id,
                                webhook=self.webhook, webhook_url=self.webhook_url)


def create(record: BridgeRecord, deps: BridgeDeps) -> TelegramBridge:
    settings = deps.settings
    return TelegramBridge(record, api_url=settings.telegram_api_url, clock=deps.clock, pacer=deps.pacer,
                          mode=settings.telegram_mode, public_url=settings.public_url,
                          max_wait=settings.max_pacing_wait, http=deps.http)


__all__ = ["TelegramBridge", "create"]
