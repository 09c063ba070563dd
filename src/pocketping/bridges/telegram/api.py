"""A small Telegram Bot API client: JSON requests, answers unwrapped, errors translated.

Every answer is ``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code",
"description", "parameters": {"retry_after"}}``; we turn the second into ``TelegramError``
(a ``DeliveryError``, so the outbox retries it, after ``retry_after`` when given).
"""

from __future__ import annotations

from typing import Any

import httpx

from pocketping.errors import DeliveryError

GONE_MARKERS = ("message thread not found", "topic_deleted", "topic_id_invalid", "thread not found")
UNCHANGED_MARKERS = ("topic_not_modified", "message is not modified")


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


class TelegramApi:
    def __init__(self, base_url: str, token: str, *, timeout: float = 20.0) -> None:
        self.token = token
        self._base = f"{base_url.rstrip('/')}/bot{token}/"
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=10.0),
                                         headers={"User-Agent": "PocketPing"})

    def _clean(self, text: str) -> str:
        # Transport errors may quote the URL, and the URL holds the token.
        return text.replace(self.token, "<token>")

    async def call(self, method: str, params: dict[str, Any] | None = None, *,
                   timeout: float | None = None) -> Any:
        body = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = await self._client.post(self._base + method, json=body,
                                               timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT)
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

    async def close(self) -> None:
        await self._client.aclose()


def _header_retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
