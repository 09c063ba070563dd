"""How the fake gets events to apps: signed Events API POSTs, or Socket Mode envelopes.

Events API: ``POST`` to the app's Request URL with ``X-Slack-Request-Timestamp`` and
``X-Slack-Signature: v0=HMAC-SHA256(signing secret, "v0:{ts}:{body}")``. Anything but a 2xx
within 3 seconds is retried up to 3 times with ``X-Slack-Retry-Num`` and
``X-Slack-Retry-Reason`` (``http_timeout``, ``http_error``, ``connection_failed``), unless the
answer carries ``X-Slack-No-Retry: 1``.

Socket Mode: ``{"envelope_id", "type": "events_api", "payload", "retry_attempt",
"retry_reason", "accepts_response_payload"}`` on a live connection; an envelope not
acknowledged within 3 seconds is sent again (up to 3 times).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect

from pocketping_testkit.fakes.slack.state import Attempt, Delivery, FakeApp

if TYPE_CHECKING:
    from pocketping_testkit.fakes.slack import FakeSlack

MAX_RETRIES = 3


def signature(secret: str, timestamp: str, body: bytes) -> str:
    return "v0=" + hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()


@dataclass
class SocketConn:
    ws: WebSocket
    app: FakeApp
    live: bool = True  # False once told to disconnect
    acks: dict[str, asyncio.Future[None]] = field(default_factory=dict)

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send_text(orjson.dumps(message).decode())


class Deliverer:
    def __init__(self, fake: FakeSlack) -> None:
        self.fake = fake
        self.client = httpx.AsyncClient()
        self.sockets: list[SocketConn] = []
        self.sockets_changed = asyncio.Condition()
        self._closing: set[asyncio.Future[None]] = set()

    async def aclose(self) -> None:
        await self.client.aclose()
        for conn in list(self.sockets):
            with contextlib.suppress(Exception):
                await conn.ws.close()

    async def deliver(self, app: FakeApp, payload: dict[str, Any]) -> Delivery:
        delivery = Delivery(app.app_id, str(payload["event_id"]), payload)
        with self.fake.lock:
            app.deliveries.append(delivery)
        try:
            if app.socket_mode:
                await self._socket(app, delivery)
            elif app.request_url:
                await self._http(app, delivery)
        finally:
            self.fake.changed()
        return delivery

    # --- Events API -------------------------------------------------------------------------

    def signed_headers(self, app: FakeApp, body: bytes, *, timestamp: str | None = None) -> dict[str, str]:
        ts = timestamp or str(int(self.fake.clock.now().timestamp()))
        return {"Content-Type": "application/json", "X-Slack-Request-Timestamp": ts,
                "X-Slack-Signature": signature(app.signing_secret, ts, body)}

    async def _http(self, app: FakeApp, delivery: Delivery) -> None:
        body = orjson.dumps(delivery.payload)
        reason = ""
        for retry in range(MAX_RETRIES + 1):
            if retry:
                await self.fake._retry_pause(retry)
            headers = self.signed_headers(app, body)
            if retry:
                headers.update({"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": reason})
            attempt = Attempt(delivery.event_id, "http", retry, reason)
            delivery.attempts.append(attempt)
            assert app.request_url is not None
            try:
                response = await self.client.post(app.request_url, content=body, headers=headers,
                                                  timeout=self.fake.event_timeout)
            except httpx.TimeoutException:
                reason = "http_timeout"
                continue
            except httpx.TransportError:
                reason = "connection_failed"
                continue
            attempt.status = response.status_code
            if 200 <= response.status_code < 300:
                delivery.ok = True
                return
            reason = "http_error"
            if response.headers.get("x-slack-no-retry") == "1":
                return

    async def verify_url(self, app: FakeApp, url: str | None = None) -> httpx.Response:
        """What Slack does when a Request URL is entered: a signed ``url_verification`` challenge."""
        body = orjson.dumps({"token": app.verification_token, "challenge": uuid.uuid4().hex,
                             "type": "url_verification"})
        target = url or app.request_url
        assert target is not None
        return await self.client.post(target, content=body, headers=self.signed_headers(app, body), timeout=10)

    # --- Socket Mode ------------------------------------------------------------------------

    async def accept(self, ws: WebSocket) -> None:
        app = self.fake._redeem_ticket(ws.query_params.get("ticket", ""))
        if app is None:
            await ws.close(code=1008)
            return
        await ws.accept()
        conn = SocketConn(ws, app)
        async with self.sockets_changed:
            self.sockets.append(conn)
        with self.fake.lock:
            app.hellos += 1
            count = sum(1 for c in self.sockets if c.app is app)
        await conn.send({"type": "hello", "num_connections": count,
                         "debug_info": {"host": "applink-fake-1", "build_number": 1,
                                        "approximate_connection_time": 18060},
                         "connection_info": {"app_id": app.app_id}})
        async with self.sockets_changed:
            self.sockets_changed.notify_all()
        self.fake.changed()
        # Connections told to go are closed once their successor is up.
        for old in [c for c in self.sockets if c.app is app and not c.live]:
            asyncio.get_running_loop().call_later(self.fake.disconnect_grace, self._close_soon, old)
        try:
            while True:
                raw = await ws.receive_text()
                try:
                    message = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    continue
                future = conn.acks.pop(str(message.get("envelope_id", "")), None)
                if future is not None and not future.done():
                    future.set_result(None)
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            async with self.sockets_changed:
                if conn in self.sockets:
                    self.sockets.remove(conn)
                self.sockets_changed.notify_all()

    def _close_soon(self, conn: SocketConn) -> None:
        if conn in self.sockets:
            task = asyncio.ensure_future(self._close(conn))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def _close(self, conn: SocketConn, code: int = 1000) -> None:
        with contextlib.suppress(Exception):
            await conn.ws.close(code=code)

    async def live_socket(self, app: FakeApp, timeout: float) -> SocketConn | None:
        def pick() -> SocketConn | None:
            live = [c for c in self.sockets if c.app is app and c.live]
            return live[-1] if live else None

        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout), self.sockets_changed:
                await self.sockets_changed.wait_for(lambda: pick() is not None)
        return pick()

    async def _socket(self, app: FakeApp, delivery: Delivery) -> None:
        reason = ""
        for retry in range(MAX_RETRIES + 1):
            conn = await self.live_socket(app, self.fake.socket_wait)
            if conn is None:
                reason = "no_connection"
                delivery.attempts.append(Attempt(delivery.event_id, "socket", retry, reason))
                continue
            envelope_id = str(uuid.uuid4())
            attempt = Attempt(delivery.event_id, "socket", retry, reason, envelope_id=envelope_id)
            delivery.attempts.append(attempt)
            acked: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            conn.acks[envelope_id] = acked
            try:
                await conn.send({"envelope_id": envelope_id, "type": "events_api", "payload": delivery.payload,
                                 "accepts_response_payload": False, "retry_attempt": retry,
                                 "retry_reason": reason})
                async with asyncio.timeout(self.fake.event_timeout):
                    await acked
            except (TimeoutError, WebSocketDisconnect, RuntimeError):
                conn.acks.pop(envelope_id, None)
                reason = "timeout"
                continue
            attempt.acked = True
            delivery.ok = True
            return

    async def disconnect(self, app: FakeApp, reason: str) -> int:
        """Ask the app's live connections to go (``refresh_requested``, ``warning``, ``link_disabled``)."""
        told = 0
        for conn in [c for c in self.sockets if c.app is app and c.live]:
            conn.live = False
            with contextlib.suppress(Exception):
                await conn.send({"type": "disconnect", "reason": reason,
                                 "debug_info": {"host": "applink-fake-1"}})
                told += 1
        return told

    async def drop(self, app: FakeApp) -> int:
        """Close the app's connections without warning (a network failure, a Slack restart)."""
        conns = [c for c in self.sockets if c.app is app]
        for conn in conns:
            await self._close(conn, code=1011)
        return len(conns)
