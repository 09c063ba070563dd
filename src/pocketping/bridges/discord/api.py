"""A small Discord REST client: ``Authorization: Bot``, per-route rate-limit buckets learnt
from the response headers, the global limit, and Discord's errors as exceptions.

Buckets follow the documentation: a route's bucket is named by ``X-RateLimit-Bucket`` and
counted per top-level resource (channel, guild, webhook). Before a request we wait for a
bucket that is known to be empty (a short wait inline; a long one is reported to the
caller as ``RateLimited`` with the time to wait), so the bot stays clear of 429s, which
count towards Discord's invalid-request ban.

``request`` answers or raises ``DiscordError``; the calls a delivery makes (``create_thread``,
``send_message``, ``archive`` ...) are the one place Discord's errors become the relay's
(``delivery_error``; a deleted thread is ``ThreadGone``).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from pocketping.bridges.base import DeleteRefused, ThreadGone, Throttled
from pocketping.bridges.deps import DEFAULT_HTTP, HttpClientFactory
from pocketping.bridges.discord.gateway import BAD_CREDENTIALS, GatewayRefused
from pocketping.bridges.download import check_host, read_limited
from pocketping.errors import DeliveryError

log = logging.getLogger(__name__)

USER_AGENT = "DiscordBot (https://github.com/pocketping/pocketping, 0.1)"
_MAJOR = re.compile(r"^/(channels|guilds|webhooks)/(\d+)")
_ID = re.compile(r"/\d{5,}")
UNKNOWN_CHANNEL = 10003
UNKNOWN_MESSAGE = 10008
ARCHIVED_THREAD = 50083


CDN_HOSTS = ("cdn.discordapp.com", "media.discordapp.net")


class DiscordError(Exception):
    """Discord answered with an error, or could not be reached."""

    def __init__(self, message: str, *, status: int = 0, code: int = 0, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status  # 0: no answer (network error, timeout)
        self.code = code  # Discord's JSON error code (10003 Unknown Channel, 50013 Missing Permissions ...)
        self.retry_after = retry_after

    @property
    def transient(self) -> bool:
        return self.status == 0 or self.status == 429 or self.status >= 500


class RateLimited(DiscordError):
    pass


@dataclass
class _Bucket:
    remaining: int | None = None
    reset_at: float = 0.0


def route_key(method: str, path: str) -> tuple[str, str]:
    """(route, major): the route with ids other than the top-level resource's replaced."""
    path = path.split("?", 1)[0]
    major_match = _MAJOR.match(path)
    major = major_match.group(2) if major_match else ""
    rest = path[major_match.end():] if major_match else path
    prefix = f"/{major_match.group(1)}/:major" if major_match else ""
    return f"{method} {prefix}{_ID.sub('/:id', rest)}", major


def delivery_error(exc: DiscordError) -> DeliveryError:
    """What a failed call means to a delivery, when nothing more particular applies."""
    if exc.status == 429 and exc.retry_after is not None:
        return Throttled(exc.message, retry_after=exc.retry_after)
    if exc.transient:
        return DeliveryError(exc.message, retry_after=exc.retry_after)
    if exc.status == 401:
        return DeliveryError("Discord rejected the bot token; run `pocketping doctor`", retry_after=300.0)
    if exc.status == 403:
        return DeliveryError(f"{exc.message}; run `pocketping doctor` to see which permission is missing",
                             retry_after=60.0)
    return DeliveryError(exc.message, permanent=True)


def _channel_error(exc: DiscordError, channel_id: str, gone: str) -> DeliveryError:
    if exc.code == UNKNOWN_CHANNEL:
        return DeliveryError(f"the Discord channel {channel_id} {gone}; run `pocketping doctor`", retry_after=300.0)
    return delivery_error(exc)


class DiscordApi:
    def __init__(self, base_url: str, token: str, *, timeout: float = 10.0, max_inline_wait: float = 5.0,
                 http: HttpClientFactory = DEFAULT_HTTP) -> None:
        self.base_url = base_url.rstrip("/")
        self.max_inline_wait = max_inline_wait
        self._http = http(base_url=self.base_url, timeout=timeout,
                          headers={"Authorization": f"Bot {token}", "User-Agent": USER_AGENT})
        self._bucket_of_route: dict[str, str] = {}
        self._buckets: dict[str, _Bucket] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._global_until = 0.0

    async def aclose(self) -> None:
        await self._http.aclose()

    def _state_key(self, route: str, major: str) -> str:
        return f"{self._bucket_of_route.get(route, route)}:{major}"

    async def request(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None,
                      files: list[tuple[str, bytes, str]] | None = None) -> Any:
        route, major = route_key(method, path)
        if len(self._locks) > 4096:
            self._prune()
        lock = self._locks.setdefault(f"{route}:{major}", asyncio.Lock())
        async with lock:  # one request at a time per route and resource keeps the count exact
            await self._wait_for_room(route, major)
            try:
                if files:
                    # Attachments: the body as "payload_json", each file as "files[n]" (multipart).
                    parts = {f"files[{i}]": (name, data, ctype) for i, (name, data, ctype) in enumerate(files)}
                    response = await self._http.request(method, path, params=params,
                                                        data={"payload_json": orjson.dumps(json).decode()},
                                                        files=parts, timeout=120.0)
                else:
                    response = await self._http.request(method, path, json=json, params=params)
            except httpx.TimeoutException as exc:
                raise DiscordError(f"Discord did not answer {method} {route} in time") from exc
            except httpx.HTTPError as exc:
                raise DiscordError(f"could not reach Discord ({type(exc).__name__}: {exc})") from exc
            self._learn(route, major, response)
        return self._result(method, route, response)

    def _prune(self) -> None:
        """Forget buckets and locks of resources (old threads) that are idle and reset."""
        now = time.monotonic()
        for key, lock in list(self._locks.items()):
            if not lock.locked():
                del self._locks[key]
        for key, bucket in list(self._buckets.items()):
            if bucket.reset_at < now:
                del self._buckets[key]

    async def _wait_for_room(self, route: str, major: str) -> None:
        now = time.monotonic()
        wait = self._global_until - now
        bucket = self._buckets.get(self._state_key(route, major))
        if bucket is not None and bucket.remaining == 0:
            wait = max(wait, bucket.reset_at - now)
        if wait <= 0:
            return
        if wait > self.max_inline_wait:
            raise RateLimited(f"Discord rate limit for {route}: {wait:.1f}s to wait", status=429, retry_after=wait)
        log.debug("waiting %.3fs for the Discord bucket of %s", wait, route)
        await asyncio.sleep(wait)
        if bucket is not None and bucket.remaining == 0:
            bucket.remaining = None  # reset: unknown until the next answer says

    def _learn(self, route: str, major: str, response: httpx.Response) -> None:
        headers = response.headers
        bucket_id = headers.get("x-ratelimit-bucket")
        if bucket_id:
            self._bucket_of_route[route] = bucket_id
        remaining = headers.get("x-ratelimit-remaining")
        reset_after = headers.get("x-ratelimit-reset-after")
        if remaining is not None and reset_after is not None:
            try:
                bucket = self._buckets.setdefault(self._state_key(route, major), _Bucket())
                bucket.remaining = int(remaining)
                bucket.reset_at = time.monotonic() + float(reset_after)
            except ValueError:
                pass
        if response.status_code == 429:
            retry_after = _retry_after(response)
            if headers.get("x-ratelimit-global", "").lower() == "true" or _json_field(response, "global") is True:
                self._global_until = time.monotonic() + retry_after
            else:
                bucket = self._buckets.setdefault(self._state_key(route, major), _Bucket())
                bucket.remaining = 0
                bucket.reset_at = max(bucket.reset_at, time.monotonic() + retry_after)

    def _result(self, method: str, route: str, response: httpx.Response) -> Any:
        status = response.status_code
        if status == 204:
            return None
        if 200 <= status < 300:
            return response.json()
        if status == 429:
            retry_after = _retry_after(response)
            scope = response.headers.get("x-ratelimit-scope", "user")
            raise RateLimited(f"Discord rate limited {method} {route} ({scope}); retry in {retry_after:.1f}s",
                              status=429, retry_after=retry_after)
        code = _json_field(response, "code")
        message = _json_field(response, "message")
        text = str(message) if message else response.reason_phrase
        errors = _json_field(response, "errors")
        if errors:
            text = f"{text}: {errors}"
        raise DiscordError(f"Discord answered {status} to {method} {route}: {text}", status=status,
                           code=int(code) if isinstance(code, int) else 0)

    # -- what a delivery calls: Discord's errors as the relay's -----------------------------------------

    async def channel_type(self, channel_id: str) -> int:
        try:
            channel = await self.request("GET", f"/channels/{channel_id}")
        except DiscordError as exc:
            raise _channel_error(exc, channel_id, "does not exist") from exc
        return int(channel.get("type", 0))

    async def create_thread(self, channel_id: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            thread: dict[str, Any] = await self.request("POST", f"/channels/{channel_id}/threads", json=body)
        except DiscordError as exc:
            raise _channel_error(exc, channel_id, "does not exist any more") from exc
        return thread

    async def send_message(self, thread_id: str, body: dict[str, Any],
                           files: list[tuple[str, bytes, str]] | None = None) -> dict[str, Any]:
        """Post into a thread (with ``files`` as attachments); an archived (and locked) one is unarchived first."""
        for attempt in range(2):
            try:
                message: dict[str, Any] = await self.request("POST", f"/channels/{thread_id}/messages", json=body,
                                                             files=files)
                return message
            except DiscordError as exc:
                if exc.code == UNKNOWN_CHANNEL:
                    raise ThreadGone(thread_id) from exc
                if exc.code == ARCHIVED_THREAD and attempt == 0:
                    await self.unarchive(thread_id)  # archived and locked: unarchive, then post again
                    continue
                raise delivery_error(exc) from exc
        raise DeliveryError("the Discord thread stays archived", retry_after=30.0)

    async def edit_message(self, thread_id: str, message_id: str, body: dict[str, Any]) -> None:
        try:
            await self.request("PATCH", f"/channels/{thread_id}/messages/{message_id}", json=body)
        except DiscordError as exc:
            raise delivery_error(exc) from exc

    async def delete_message(self, channel_id: str, message_id: str) -> None:
        """``DELETE /channels/{channel_id}/messages/{message_id}`` (someone else's message needs Manage
        Messages). A message or thread already gone is no error; a refusal (403) is ``DeleteRefused``."""
        try:
            await self.request("DELETE", f"/channels/{channel_id}/messages/{message_id}")
        except DiscordError as exc:
            if exc.code in (UNKNOWN_MESSAGE, UNKNOWN_CHANNEL) or exc.status == 404:
                return
            if exc.status == 403:
                raise DeleteRefused(f"Discord refused to delete the message ({exc.message})") from exc
            raise delivery_error(exc) from exc

    async def download(self, url: str, limit: int) -> bytes:
        """An attachment someone posted, from Discord's CDN (or this API's host: a self-hosted or
        fake Discord), at most ``limit`` bytes. No other host is fetched."""
        check_host(url, "Discord", (*CDN_HOSTS, (urlsplit(self.base_url).hostname or "").lower()))
        async with httpx.AsyncClient(timeout=30.0) as client:  # the CDN needs no token: none is sent
            return await read_limited(client, url, limit, platform="Discord")

    async def delete_channel(self, channel_id: str) -> bool:
        """``DELETE /channels/{channel_id}``: for a thread, the thread and its messages (it needs
        Manage Threads). False when it was already gone."""
        try:
            await self.request("DELETE", f"/channels/{channel_id}")
        except DiscordError as exc:
            if exc.code == UNKNOWN_CHANNEL or exc.status == 404:
                return False
            if exc.status == 403:
                raise DeliveryError(f"Discord refused to delete it ({exc.message}): the bot needs Manage Threads",
                                    permanent=True) from exc
            raise delivery_error(exc) from exc
        return True

    async def archive(self, thread_id: str) -> None:
        try:
            await self.request("PATCH", f"/channels/{thread_id}", json={"archived": True})
        except DiscordError as exc:
            if exc.code in (UNKNOWN_CHANNEL, ARCHIVED_THREAD):
                return  # gone or already archived: nothing left to close
            raise delivery_error(exc) from exc

    async def unarchive(self, thread_id: str) -> None:
        try:
            await self.request("PATCH", f"/channels/{thread_id}", json={"archived": False, "locked": False})
        except DiscordError as exc:
            if exc.status == 403:  # no Manage Threads: unarchiving our own thread is still allowed
                try:
                    await self.request("PATCH", f"/channels/{thread_id}", json={"archived": False})
                    return
                except DiscordError as again:
                    exc = again
            if exc.code == UNKNOWN_CHANNEL:
                raise ThreadGone(thread_id) from exc
            raise delivery_error(exc) from exc

    async def typing(self, thread_id: str) -> None:
        try:
            await self.request("POST", f"/channels/{thread_id}/typing")
        except DiscordError as exc:  # typing is a hint: never worth a retry
            log.debug("discord typing in %s failed: %s", thread_id, exc)

    async def gateway_url(self) -> str:
        try:
            data = await self.request("GET", "/gateway/bot")
        except DiscordError as exc:
            if exc.status == 401:
                raise GatewayRefused(BAD_CREDENTIALS) from exc
            raise
        return str(data["url"])


def _json_field(response: httpx.Response, name: str) -> Any:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get(name) if isinstance(body, dict) else None


def _retry_after(response: httpx.Response) -> float:
    value = _json_field(response, "retry_after")
    if isinstance(value, int | float):
        return max(0.0, float(value))
    header = response.headers.get("retry-after")
    if header:
        try:
            return max(0.0, float(header))
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(header).timestamp() - time.time())
            except (TypeError, ValueError):
                pass
    return 1.0
