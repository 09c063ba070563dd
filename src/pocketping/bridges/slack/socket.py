"""A Socket Mode client: operators' replies over a WebSocket, no public URL needed.

``apps.connections.open`` (app-level ``xapp-`` token) hands out a single-use WebSocket URL;
Slack greets with ``hello``, sends envelopes that must be acknowledged with their
``envelope_id`` within 3 seconds (unacknowledged ones are sent again), and asks us to move
with a ``disconnect`` message now and then. We open the new connection before letting the
old one go, so nothing falls between them; a dropped connection is reopened at once, and
repeated failures back off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson
import websockets
from websockets.asyncio.client import ClientConnection

from pocketping.bridges.deps import DEFAULT_HTTP, HttpClientFactory
from pocketping.bridges.slack.api import SlackApi, SlackError
from pocketping.clock import Clock

log = logging.getLogger(__name__)

OnEvent = Callable[[Mapping[str, Any], int], Awaitable[bool]]  # (payload, retry attempt) -> acknowledge?
OnStatus = Callable[[str, str | None], Awaitable[None]]  # ("active" | "error", plain-words detail)

# apps.connections.open errors the user must fix; said once, in words.
_TOKEN_FIXES = {
    "invalid_auth": "the app-level token (xapp-...) is wrong or was revoked",
    "not_allowed_token_type": "--app-token must be an app-level token (xapp-...), not the bot token",
    "missing_scope": "the app-level token lacks the connections:write scope",
    "socket_mode_not_enabled": "Socket Mode is off in the app's settings: turn it on",
}


class SocketModeClient:
    def __init__(self, api_url: str, app_token: str, on_event: OnEvent, clock: Clock, *, name: str = "slack",
                 timeout: float = 10.0, on_status: OnStatus | None = None,
                 http: HttpClientFactory = DEFAULT_HTTP) -> None:
        self.api = SlackApi(api_url, app_token, timeout=timeout, http=http)
        self.on_event = on_event
        self.on_status = on_status
        self.clock = clock
        self.name = name
        self.timeout = timeout
        self.connected = asyncio.Event()  # a connection said hello and is live
        self.hellos = 0
        self._task: asyncio.Task[None] | None = None
        self._draining: set[ClientConnection] = set()
        self._tasks: set[asyncio.Task[Any]] = set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"slack-socket-{self.name}")

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for ws in list(self._draining):
            with contextlib.suppress(Exception):
                await ws.close()
        self._task = None
        await self.api.aclose()

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                ws = await self._connect()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                delay = min(60.0, 2.0 ** min(failures - 1, 6)) * random.uniform(0.5, 1.0)
                if isinstance(exc, SlackError) and exc.retry_after:
                    delay = max(delay, exc.retry_after)
                log.warning("Slack Socket Mode (%s): could not connect (%s); retrying in %.0fs", self.name, exc, delay)
                fix = _TOKEN_FIXES.get(exc.error) if isinstance(exc, SlackError) else None
                if fix or failures >= 3:
                    await self._status("error", f"Socket Mode cannot connect: {fix or exc}")
                await self.clock.sleep(delay)
                continue
            failures = 0
            await self._status("active", None)
            # The connection Slack asked us to leave may go now that its successor is live.
            for old in list(self._draining):
                self._spawn(old.close())
            try:
                reason = await self._pump(ws, until_disconnect=True)
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await ws.close()
                raise
            self.connected.clear()
            if reason is not None:
                log.info("Slack Socket Mode (%s): Slack asked to reconnect (%s)", self.name, reason)
                self._draining.add(ws)
                self._spawn(self._drain(ws))
            else:
                log.info("Slack Socket Mode (%s): connection dropped; reconnecting", self.name)

    async def _connect(self) -> ClientConnection:
        opened = await self.api.call("apps.connections.open")
        url = str(opened.get("url") or "")
        if not url.startswith(("wss://", "ws://")):
            raise SlackError("apps.connections.open", "no WebSocket URL in the answer")
        ws = await websockets.connect(url, open_timeout=self.timeout, compression=None, max_size=2**24)
        try:
            while True:
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation
                # that arrives as the message does, and stop() would then wait forever.
                async with asyncio.timeout(self.timeout):
                    raw = await ws.recv()
                message = _decode(raw)
                if message.get("type") == "hello":
                    break
                self._dispatch(ws, message)
        except BaseException:
            with contextlib.suppress(Exception):
                await ws.close()
            raise
        self.hellos += 1
        self.connected.set()
        return ws

    async def _pump(self, ws: ClientConnection, *, until_disconnect: bool) -> str | None:
        """Read until the socket closes (None) or, if asked, until Slack says ``disconnect`` (its reason)."""
        try:
            while True:
                message = _decode(await ws.recv())
                if message.get("type") == "disconnect":
                    if until_disconnect:
                        return str(message.get("reason") or "disconnect")
                    continue
                self._dispatch(ws, message)
        except websockets.ConnectionClosed:
            pass
        return None

    async def _drain(self, ws: ClientConnection) -> None:
        try:
            await self._pump(ws, until_disconnect=False)
        finally:
            self._draining.discard(ws)

    def _dispatch(self, ws: ClientConnection, message: dict[str, Any]) -> None:
        if message.get("envelope_id"):
            self._spawn(self._handle(ws, message))

    async def _handle(self, ws: ClientConnection, envelope: dict[str, Any]) -> None:
        if envelope.get("type") == "events_api":
            payload = envelope.get("payload")
            retry = envelope.get("retry_attempt")
            retry = retry if isinstance(retry, int) else 0
            if isinstance(payload, Mapping) and not await self.on_event(payload, retry):
                return  # not acknowledged: Slack sends it again
        with contextlib.suppress(websockets.ConnectionClosed):
            await ws.send(orjson.dumps({"envelope_id": envelope["envelope_id"]}).decode())

    async def _status(self, status: str, detail: str | None) -> None:
        if self.on_status is not None:
            try:
                await self.on_status(status, detail)
            except Exception:
                log.exception("could not report the Socket Mode status")

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _decode(raw: str | bytes) -> dict[str, Any]:
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    return message if isinstance(message, dict) else {}
