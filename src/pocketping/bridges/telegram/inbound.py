"""Replies from Telegram: ``getUpdates`` long polling, or a webhook with a secret token.

Either way the durable position is the last handled ``update_id`` (kept with the bridge's
state): an update at or below it is a repeat and is skipped. Handling is idempotent (a
reply is stored under the Telegram message id), so an update handled again after a crash,
before the position was saved, changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import Mapping
from typing import Any

import orjson

from pocketping.bridges.base import InboundFile, InboundReply, InboundSink, WebhookAnswer
from pocketping.bridges.telegram.api import TelegramApi, TelegramError
from pocketping.bridges.telegram.config import TelegramConfig
from pocketping.clock import Clock
from pocketping.errors import DeliveryError

log = logging.getLogger(__name__)

POLL_TIMEOUT = 30
ALLOWED_UPDATES = ["message", "edited_message"]
MAX_ATTEMPTS_PER_UPDATE = 5
SECRET_HEADER = "x-telegram-bot-api-secret-token"  # noqa: S105  (a header name)


def operator_name(user: dict[str, Any]) -> str:
    name = " ".join(str(p) for p in (user.get("first_name"), user.get("last_name")) if p).strip()
    return (name or str(user.get("username") or "Operator"))[:100]


class Receiver:
    """What one bridge hears from Telegram (``webhook``: Telegram calls ``webhook_url``; else
    long polling), handed to the sink."""

    def __init__(self, bridge_id: str, config: TelegramConfig, api: TelegramApi, clock: Clock, *, webhook: bool,
                 webhook_url: str | None, last_update_id: int = 0) -> None:
        self.bridge_id = bridge_id
        self.config = config
        self.api = api
        self.clock = clock
        self.webhook = webhook
        self.webhook_url = webhook_url
        self.sink: InboundSink | None = None
        self.bot_id: int | None = None
        self.last_update_id = last_update_id
        self._task: asyncio.Task[None] | None = None
        self._status: tuple[str, str | None] | None = None
        self._lock = asyncio.Lock()
        self._failures: dict[int, int] = {}

    async def start(self, sink: InboundSink) -> None:
        self.sink = sink
        self._task = asyncio.create_task(self._run(), name=f"telegram-{self.bridge_id}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    async def report(self, status: str, detail: str | None = None) -> None:
        if self.sink is None or self._status == (status, detail):
            return
        self._status = (status, detail)
        with contextlib.suppress(Exception):
            await self.sink.report(self.bridge_id, status, detail)

    # --- connecting ----------------------------------------------------------------------
    async def _run(self) -> None:
        delay = 1.0
        while True:
            try:
                me = await self.api.call("getMe")
                self.bot_id = int(me["id"])
                if self.webhook:
                    await self._set_webhook()
                    return  # Telegram calls us from now on
                await self._poll()
                return  # another process holds this bot (several nodes): this one stopped receiving
            except asyncio.CancelledError:
                raise
            except TelegramError as exc:
                if exc.bad_token:
                    await self.report("error", "Telegram rejected the bot token: copy it again from @BotFather "
                                               "and run pocketping bridge update")
                    delay = 60.0
                else:
                    await self.report("error", exc.message)
            except DeliveryError as exc:
                await self.report("error", exc.message)
            except Exception as exc:
                log.exception("telegram bridge %s failed", self.bridge_id)
                await self.report("error", f"{type(exc).__name__}: {exc}")
            await self.clock.sleep(delay)
            delay = min(delay * 2, 60.0)

    async def _set_webhook(self) -> None:
        url = self.webhook_url
        if url is None:
            raise DeliveryError("POCKETPING_TELEGRAM_MODE=webhook needs POCKETPING_PUBLIC_URL: Telegram cannot "
                                "send replies to a server without a public URL")
        await self.api.call("setWebhook", {
            "url": url, "secret_token": self.config.webhook_secret, "allowed_updates": ALLOWED_UPDATES,
            "max_connections": 1})
        await self.report("active", f"webhook {url}")

    async def _poll(self) -> None:
        info = await self.api.call("getWebhookInfo")
        if isinstance(info, dict) and info.get("url"):
            # A webhook set earlier (webhook mode, another tool) would make getUpdates answer 409.
            await self.api.call("deleteWebhook", {"drop_pending_updates": False})
        await self.report("active", "polling")  # Telegram knows the bot; no need to wait for a first update
        conflicts = 0
        while True:
            try:
                updates = await self.api.call(
                    "getUpdates", {"offset": self.last_update_id + 1 if self.last_update_id else None,
                                   "timeout": POLL_TIMEOUT, "allowed_updates": ALLOWED_UPDATES},
                    timeout=POLL_TIMEOUT + 15)
            except TelegramError as exc:
                if exc.error_code != 409:
                    raise
                if "webhook" in exc.description.lower():
                    await self.api.call("deleteWebhook", {"drop_pending_updates": False})
                    continue
                lost = getattr(self.sink, "lost_connection", None)
                if lost is not None and await lost(self.bridge_id):
                    return  # lost leadership: the node that holds the lease polls
                conflicts += 1
                await self.report("error", "another program is reading this bot's updates (a second PocketPing "
                                           "server or another bot using the same token); use webhook mode "
                                           "(POCKETPING_PUBLIC_URL) when several servers run")
                await self.clock.sleep(min(2.0 * conflicts, 30.0))
                continue
            conflicts = 0
            await self.report("active", "polling")
            if isinstance(updates, list) and updates and not await self._handle_batch(updates):
                await self.clock.sleep(1.0)

    async def _handle_batch(self, updates: list[dict[str, Any]]) -> bool:
        """Handle updates in order; False when one failed and must be fetched again."""
        ok = True
        async with self._lock:
            start = self.last_update_id
            for update in sorted(updates, key=lambda u: int(u.get("update_id", 0))):
                update_id = int(update.get("update_id", 0))
                if update_id <= self.last_update_id:
                    continue  # a repeat
                try:
                    await self.handle_update(update)
                except Exception:
                    tries = self._failures.get(update_id, 0) + 1
                    self._failures[update_id] = tries
                    if tries < MAX_ATTEMPTS_PER_UPDATE:
                        log.warning("telegram update %s failed (attempt %d); will retry", update_id, tries,
                                    exc_info=True)
                        ok = False
                        break  # keep the position: fetched again on the next call
                    log.exception("telegram update %s failed %d times; skipping it", update_id, tries)
                self._failures.pop(update_id, None)
                self.last_update_id = update_id
            if self.last_update_id != start and self.sink is not None:
                await self.sink.save_state(self.bridge_id, {"last_update_id": self.last_update_id})
        return ok

    # --- webhook -------------------------------------------------------------------------
    async def handle_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookAnswer:
        expected = self.config.webhook_secret.encode()
        given = (headers.get(SECRET_HEADER) or "").encode()
        if not expected or not hmac.compare_digest(given, expected):
            return WebhookAnswer(401, {"error": {"code": "invalid_secret_token",
                                                 "message": "X-Telegram-Bot-Api-Secret-Token does not match"}})
        try:
            update = orjson.loads(body)
        except orjson.JSONDecodeError:
            return WebhookAnswer(400, {"error": {"code": "invalid_json", "message": "the body is not JSON"}})
        if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
            return WebhookAnswer(400, {"error": {"code": "invalid_update", "message": "not a Telegram update"}})
        if self.sink is None:
            return WebhookAnswer(503, {"error": {"code": "not_ready", "message": "the bridge is starting"}})
        # Telegram retries on anything but 2xx: an error here means "deliver it again".
        if not await self._handle_batch([update]):
            return WebhookAnswer(500, {"error": {"code": "retry", "message": "could not handle it yet"}})
        return WebhookAnswer(200, {})

    # --- one update ----------------------------------------------------------------------
    async def handle_update(self, update: dict[str, Any]) -> None:
        sink = self.sink
        assert sink is not None
        edited = "message" not in update and "edited_message" in update
        message = update.get("message") or update.get("edited_message")
        if not isinstance(message, dict):
            return
        chat = message.get("chat") or {}
        if chat.get("id") != self.config.chat_id:
            return
        user = message.get("from") or {}
        if user.get("is_bot") or message.get("sender_chat"):
            return  # our own posts (and other bots, anonymous admins' channel posts)
        text = message.get("text") if "text" in message else message.get("caption")
        files = self._files(message)
        if files and not isinstance(text, str):
            text = ""
        if "forum_topic_closed" in message or "forum_topic_reopened" in message:
            # Someone closed or reopened the topic in Telegram: the conversation follows.
            text = "/close" if "forum_topic_closed" in message else "/reopen"
        thread = message.get("message_thread_id")
        if (not isinstance(text, str) or (not text.strip() and not files) or thread is None
                or not message.get("is_topic_message")):
            return  # service messages, stickers and such, the General topic
        external = str(message["message_id"])
        if edited:
            await sink.edited(self.bridge_id, str(thread), external, text)
            return
        await sink.reply(InboundReply(bridge_id=self.bridge_id, thread_id=str(thread), text=text,
                                      operator_name=operator_name(user), external_id=external,
                                      platform_label="Telegram", extra={"update_id": update.get("update_id")},
                                      files=files))

    def _files(self, message: dict[str, Any]) -> list[InboundFile]:
        """A photo (its largest size) or a document shared in the topic: fetched with getFile."""
        api = self.api
        photos = message.get("photo")
        document = message.get("document")
        if isinstance(photos, list) and photos and isinstance(photos[-1], dict):
            best = photos[-1]
            file_id, size = str(best.get("file_id")), best.get("file_size")
            name = f"photo_{message.get('message_id')}.jpg"
        elif isinstance(document, dict) and document.get("file_id"):
            file_id, size = str(document["file_id"]), document.get("file_size")
            name = str(document.get("file_name") or "file")
        else:
            return []

        async def fetch(limit: int, file_id: str = file_id) -> bytes:
            return await api.download(file_id, limit)

        return [InboundFile(name=name, fetch=fetch, size=int(size) if isinstance(size, int) else None)]
