"""A small Telegram Bot API client: JSON requests, answers unwrapped, errors translated.

Every answer is ``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code",
"description", "parameters": {"retry_after"}}``; we turn the second into ``TelegramError``
(a ``DeliveryError``, so the outbox retries it, after ``retry_after`` when given).
``send`` is how the bridge calls: it is the one place Telegram's errors become the relay's
(``delivery_error``: a deleted topic is ``ThreadGone``, a 429 is ``Throttled``).
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from pocketping.bridges.base import DeleteRefused, ThreadGone, Throttled
from pocketping.bridges.deps import DEFAULT_HTTP, HttpClientFactory
from pocketping.bridges.download import read_limited
from pocketping.errors import DeliveryError

GONE_MARKERS = ("message thread not found", "topic_deleted", "topic_id_invalid", "thread not found")
UNCHANGED_MARKERS = ("topic_not_modified", "message is not modified")
# deleteMessage's refusals: "message can't be deleted" (for everyone) after 48 hours or without the right.
DELETE_REFUSALS = ("message can't be deleted", "not enough rights", "message_delete_forbidden")


class TelegramError(DeliveryError):
    def __init__(self, error_code: int, description: str, *, retry_after: float | None = None) -> None:
        # 400s other than a missing chat or missing rights will fail the same way again.
        lowered = description.lower()
        permanent = error_code == 400 and not any(x in lowered for x in (
            "chat not found", "not enough rights", "admin", "thread not found", "topic", "too many"))
        super().__init__(f"Telegram answered {error_code}: {description}", retry_after=retry_after,
                         permanent=permanent)
        self.error_code = error_code
        self.description = description

    @property
    def thread_gone(self) -> bool:
        return self.error_code == 400 and any(m in self.description.lower() for m in GONE_MARKERS)

    @property
    def unchanged(self) -> bool:
        return self.error_code == 400 and any(m in self.description.lower() for m in UNCHANGED_MARKERS)

    @property
    def bad_token(self) -> bool:
        return self.error_code in (401, 404)


def delivery_error(exc: TelegramError, *, thread_id: str | None = None) -> DeliveryError | ThreadGone:
    """What a failed call means to the relay: the deleted topic ``thread_id`` (Telegram says 400
    "message thread not found") is ``ThreadGone``; a 429 with ``retry_after`` is ``Throttled``;
    anything else stays a ``TelegramError`` (permanent for a 400 that will fail again)."""
    if thread_id is not None and exc.thread_gone:
        return ThreadGone(thread_id)
    if exc.error_code == 429 and exc.retry_after:
        return Throttled(exc.message, retry_after=exc.retry_after)
    return exc


class TelegramApi:
    def __init__(self, base_url: str, token: str, *, timeout: float = 20.0,
                 http: HttpClientFactory = DEFAULT_HTTP) -> None:
        self.base_url = base_url
        self.token = token
        self._base = f"{base_url.rstrip('/')}/bot{token}/"
        self._client = http(timeout=httpx.Timeout(timeout, connect=10.0), headers={"User-Agent": "PocketPing"})

    def _clean(self, text: str) -> str:
        # Transport errors may quote the URL, and the URL holds the token.
        return text.replace(self.token, "<token>")

    async def call(self, method: str, params: dict[str, Any] | None = None, *,
                   timeout: float | None = None, files: dict[str, tuple[str, bytes, str]] | None = None) -> Any:
        """One Bot API call: JSON, or ``multipart/form-data`` when it uploads ``files``."""
        body = {k: v for k, v in (params or {}).items() if v is not None}
        wait = timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT
        try:
            if files:
                # Multipart fields are strings: objects go as JSON, as the Bot API documents.
                form = {k: v if isinstance(v, str) else orjson.dumps(v).decode() for k, v in body.items()}
                response = await self._client.post(self._base + method, data=form, files=files,
                                                   timeout=timeout if timeout is not None else 120.0)
            else:
                response = await self._client.post(self._base + method, json=body, timeout=wait)
        except httpx.TimeoutException as exc:
            raise DeliveryError(f"Telegram did not answer {method} in time") from exc
        except httpx.HTTPError as exc:
            raise DeliveryError(self._clean(f"cannot reach Telegram ({type(exc).__name__}: {exc})")) from exc
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            retry = _header_retry_after(response)
            raise DeliveryError(f"Telegram answered HTTP {response.status_code} to {method} without a JSON body",
                                retry_after=retry)
        if answer.get("ok") is True:
            return answer.get("result")
        parameters = answer.get("parameters") or {}
        retry_after = parameters.get("retry_after") if isinstance(parameters, dict) else None
        if retry_after is None:
            retry_after = _header_retry_after(response)
        code = answer.get("error_code") or response.status_code
        raise TelegramError(int(code), str(answer.get("description") or "no description"),
                            retry_after=float(retry_after) if retry_after is not None else None)

    async def download(self, file_id: str, limit: int) -> bytes:
        """A file someone shared: ``getFile`` for its path, then ``/file/bot<token>/<path>``,
        read up to ``limit`` bytes (bots may download files up to 20 MB)."""
        info = await self.call("getFile", {"file_id": file_id})
        if int(info.get("file_size") or 0) > limit:
            raise DeliveryError(f"the file is larger than {limit} bytes")
        url = f"{self.base_url.rstrip('/')}/file/bot{self.token}/{info['file_path']}"
        try:
            return await read_limited(self._client, url, limit, platform="Telegram")
        except DeliveryError as exc:
            raise DeliveryError(self._clean(exc.message), permanent=exc.permanent) from exc

    async def send(self, method: str, params: dict[str, Any], *, thread_id: str | None = None,
                   unchanged_ok: bool = False, files: dict[str, tuple[str, bytes, str]] | None = None) -> Any:
        """``call`` for a delivery, its errors mapped by ``delivery_error`` (``thread_id``: the
        topic the call is about). ``unchanged_ok``: "not modified" (a topic already closed, a
        name already set) is success, answered with None."""
        try:
            return await self.call(method, params, files=files)
        except TelegramError as exc:
            if unchanged_ok and exc.unchanged:
                return None
            mapped = delivery_error(exc, thread_id=thread_id)
            if mapped is exc:
                raise
            raise mapped from exc

    async def delete_forum_topic(self, chat_id: int | str, message_thread_id: int) -> bool:
        """``deleteForumTopic``: the topic and every message in it. False when it was already gone."""
        try:
            await self.call("deleteForumTopic", {"chat_id": chat_id, "message_thread_id": message_thread_id})
        except TelegramError as exc:
            if exc.thread_gone:
                return False
            raise
        return True

    async def delete_message(self, chat_id: int | str, message_id: int) -> None:
        """``deleteMessage``. A message already gone is no error; Telegram's refusal (a message older
        than 48 hours, no right to delete it: 400 "message can't be deleted") is ``DeleteRefused``."""
        try:
            await self.call("deleteMessage", {"chat_id": chat_id, "message_id": message_id})
        except TelegramError as exc:
            lowered = exc.description.lower()
            if exc.error_code == 400 and "message to delete not found" in lowered:
                return
            if exc.error_code == 400 and any(m in lowered for m in DELETE_REFUSALS):
                raise DeleteRefused(f"Telegram refused deleteMessage ({exc.description})") from exc
            mapped = delivery_error(exc)
            if mapped is exc:
                raise
            raise mapped from exc

    async def close(self) -> None:
        await self._client.aclose()


def _header_retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
