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
from typing import Any

from pocketping.bridges.base import Finding, InboundSink, Outgoing, Posted, SessionCard, ThreadGone, WebhookAnswer
from pocketping.bridges.pacing import Limit, shared_pacer
from pocketping.bridges.telegram import format as fmt
from pocketping.bridges.telegram.api import TelegramApi, TelegramError
from pocketping.bridges.telegram.doctor import run_checks
from pocketping.bridges.telegram.inbound import Receiver
from pocketping.core.models import Bridge as BridgeRecord

log = logging.getLogger(__name__)

# Telegram: "no more than 20 messages per minute in the same group"; in one chat "avoid more
# than one message per second; short bursts may go over".
GROUP_LIMIT = Limit(rate=1.0, burst=3, per_window=20, window=60.0)


class TelegramBridge:
    type = "telegram"
    label = "Telegram"

    def __init__(self, record: BridgeRecord, services: Any) -> None:
        self.id = record.id
        self.project_id = record.project_id
        self.config = record.config
        self.state = dict(record.state)
        self.settings = services.settings
        self.clock = services.clock
        self.chat_id = int(record.config["chat_id"])
        self.api = TelegramApi(self.settings.telegram_api_url, record.config["bot_token"])
        self.pacer = shared_pacer(services)
        self.pace_key = f"telegram:{self.chat_id}"
        self.max_wait = max(5.0, float(self.settings.outbox_lease_seconds) / 2)
        self.receiver = Receiver(self)
        self.sink: InboundSink | None = None
        self.bot_id: int | None = None

    # --- lifecycle ---------------------------------------------------------------------
    def webhook_mode(self) -> bool:
        mode = self.settings.telegram_mode
        return mode == "webhook" or (mode == "auto" and bool(self.settings.public_url))

    def webhook_url(self) -> str | None:
        base = self.settings.public_base()
        return f"{base}/bridges/telegram/{self.id}" if base else None

    async def start(self, sink: InboundSink) -> None:
        self.sink = sink
        await self.receiver.start(sink)

    async def stop(self) -> None:
        await self.receiver.stop()
        with contextlib.suppress(Exception):
            await self.api.close()

    # --- outgoing ------------------------------------------------------------------------
    async def _send(self, method: str, params: dict[str, Any], *, paced: bool = True) -> Any:
        if paced:
            await self.pacer.wait(self.pace_key, GROUP_LIMIT, max_wait=self.max_wait)
        try:
            return await self.api.call(method, {"chat_id": self.chat_id, **params})
        except TelegramError as exc:
            if exc.error_code == 429 and exc.retry_after:
                self.pacer.penalize(self.pace_key, exc.retry_after)
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
            try:
                sent = await self._send("sendMessage", {
                    "message_thread_id": int(thread_id), "text": fmt.message_html(part), "parse_mode": "HTML",
                    "link_preview_options": {"is_disabled": True}})
            except TelegramError as exc:
                if exc.thread_gone:
                    raise ThreadGone(thread_id) from exc
                raise
            ids.append(str(sent["message_id"]))
        return Posted(message_ids=tuple(ids))

    async def _topic(self, method: str, thread_id: str) -> None:
        try:
            await self._send(method, {"message_thread_id": int(thread_id)})
        except TelegramError as exc:
            if exc.unchanged:
                return  # already closed / already open
            if exc.thread_gone:
                raise ThreadGone(thread_id) from exc
            raise

    async def rename_thread(self, thread_id: str, card: SessionCard) -> None:
        try:
            await self._send("editForumTopic", {"message_thread_id": int(thread_id), "name": fmt.topic_name(card)})
        except TelegramError as exc:
            if exc.unchanged:
                return
            if exc.thread_gone:
                raise ThreadGone(thread_id) from exc
            raise

    async def close_thread(self, thread_id: str) -> None:
        await self._topic("closeForumTopic", thread_id)

    async def reopen_thread(self, thread_id: str) -> None:
        await self._topic("reopenForumTopic", thread_id)

    async def typing(self, thread_id: str) -> None:
        # Chat actions are not messages and do not use the group's message budget; but after
        # a 429 nothing goes to the group until the time is up.
        if self.pacer.penalized(self.pace_key):
            return
        with contextlib.suppress(TelegramError):
            await self._send("sendChatAction", {"message_thread_id": int(thread_id), "action": "typing"},
                             paced=False)

    # --- incoming ------------------------------------------------------------------------
    async def handle_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookAnswer:
        return await self.receiver.handle_webhook(headers, body)

    # --- doctor ----------------------------------------------------------------------------
    async def check(self) -> list[Finding]:
        return await run_checks(self)


def make_bridge(record: BridgeRecord, services: Any) -> TelegramBridge:
    return TelegramBridge(record, services)


__all__ = ["TelegramBridge", "make_bridge"]

