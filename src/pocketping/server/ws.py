"""The widget protocol at ``/ws`` (see docs/protocol.md for every frame).

Memory per idle connection is what limits how many visitors one process holds, so a
connection keeps only ids and a few counters, no writer task while idle (a short-lived
one drains the outgoing frames when there are any), and it is served as a raw ASGI
endpoint, outside the HTTP middleware stack.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import Any

import orjson
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from pocketping.actions import messages as message_actions
from pocketping.actions import ratings
from pocketping.actions import sessions as session_actions
from pocketping.actions.access import access_project_by_public_key
from pocketping.actions.projects import get_project
from pocketping.actions.requests import Sent
from pocketping.actions.services import Services
from pocketping.core.rules import origin_allowed
from pocketping.ephemeral import typing_event
from pocketping.errors import InvalidInput, PocketPingError, RateLimited
from pocketping.hub import Event
from pocketping.store import sessions as session_repo

log = logging.getLogger(__name__)

PROTOCOL_VERSION = 1
REPLAY_PAGE = 200
TYPING_MIN_INTERVAL = 2.0

# Close codes (4000-4999 are ours; see docs/protocol.md).
CLOSE_INVALID_KEY = 4001
CLOSE_ORIGIN = 4003
CLOSE_AUTH_TIMEOUT = 4008
CLOSE_RATE_LIMITED = 4029


def _frame(data: dict[str, Any]) -> bytes:
    return orjson.dumps(data)


def error_frame(code: str, message: str, **extra: Any) -> bytes:
    return _frame({"type": "error", "code": code, "message": message, **extra})


def ack_frame(sent: Sent) -> bytes:
    m = sent.message
    return _frame({"type": "ack", "clientId": m.client_id, "id": m.id, "seq": m.seq,
                   "createdAt": m.to_api()["createdAt"], "duplicate": sent.duplicate})


class _Closed(Exception):
    pass


class WidgetConnection:
    __slots__ = ("_buffer", "_flushing", "_out", "_replayed_to", "_typing_at", "_unsubscribe", "project_id",
                 "session_id", "svc", "ws")

    def __init__(self, ws: WebSocket, svc: Services) -> None:
        self.ws = ws
        self.svc = svc
        self.project_id = ""
        self.session_id = ""
        self._out: deque[bytes | Event] = deque()
        self._flushing = False
        self._replayed_to = 0
        self._typing_at = 0.0
        self._unsubscribe: list[Any] = []
        # Live events that arrive while the replay is read wait here, to keep seq order.
        self._buffer: list[Event] | None = []

    # --- sending (one short-lived task drains the queue; none while idle) ------------------
    def send(self, item: bytes | Event) -> None:
        self._out.append(item)
        if not self._flushing:
            self._flushing = True
            asyncio.get_running_loop().create_task(self._flush())

    def _on_event(self, event: Event) -> None:
        if event.widget_frame is None:
            return
        if self._buffer is not None:
            self._buffer.append(event)
        else:
            self.send(event)

    async def _flush(self) -> None:
        try:
            while self._out:
                item = self._out.popleft()
                if isinstance(item, Event):
                    seq = _seq_of(item.widget_frame or {})
                    if seq is not None and seq <= self._replayed_to:
                        continue  # already sent by the replay
                    data = item.widget_bytes()
                    if data is None:
                        continue
                else:
                    data = item
                await self.ws.send_text(data.decode())
        except Exception:  # the peer went away; the receive loop will notice
            self._out.clear()
        finally:
            self._flushing = False

    # --- receiving -----------------------------------------------------------------------
    async def _receive(self) -> dict[str, Any] | None:
        """The next frame as a dict; None after an error frame was queued for a bad one."""
        message = await self.ws.receive()
        if message["type"] == "websocket.disconnect":
            raise _Closed
        limit = self.svc.settings.max_frame_bytes
        text = message.get("text")
        if text is None:
            raw = message.get("bytes") or b""
            if len(raw) > limit:
                self.send(error_frame("frame_too_large", f"frames are limited to {limit} bytes", limit=limit))
                return None
            try:
                text = raw.decode()
            except UnicodeDecodeError:
                self.send(error_frame("invalid_json", "frames must be UTF-8 JSON text"))
                return None
        if len(text) > limit or (len(text) * 4 > limit and len(text.encode()) > limit):
            self.send(error_frame("frame_too_large", f"frames are limited to {limit} bytes", limit=limit))
            return None
        try:
            frame = orjson.loads(text)
        except orjson.JSONDecodeError:
            self.send(error_frame("invalid_json", "the frame is not valid JSON"))
            return None
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            self.send(error_frame("invalid_frame", "a frame is a JSON object with a string 'type'"))
            return None
        return frame

    async def run(self) -> None:
        try:
            hint = await self._authenticate()
            if hint is None:
                return
            await self._replay(hint)
            while True:
                frame = await self._receive()
                if frame is not None:
                    await self._dispatch(frame)
        except (_Closed, WebSocketDisconnect):
            pass
        finally:
            for unsubscribe in self._unsubscribe:
                unsubscribe()

    async def _close(self, code: int, frame: bytes) -> None:
        with contextlib.suppress(Exception):
            await self.ws.send_text(frame.decode())
            await self.ws.close(code)

    async def _authenticate(self) -> int | None:
        """Wait for ``hello``; returns the replay starting point, or None if the connection was refused."""
        svc = self.svc
        while True:
            try:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation.
                async with asyncio.timeout(svc.settings.auth_timeout_seconds):
                    frame = await self._receive()
            except TimeoutError:
                await self._close(CLOSE_AUTH_TIMEOUT, error_frame("auth_timeout", "send a 'hello' frame first"))
                return None
            if frame is None:
                continue  # the error frame is on its way
            if frame["type"] != "hello":
                self.send(error_frame("not_authenticated", "the first frame must be 'hello'"))
                continue
            break
        try:
            project = await access_project_by_public_key(svc, frame.get("publicKey"))
        except PocketPingError as exc:
            await self._close(CLOSE_INVALID_KEY, error_frame(exc.code, exc.message))
            return None
        origin = self.ws.headers.get("origin")
        if not origin_allowed(origin, project.allowed_origins):
            await self._close(CLOSE_ORIGIN, error_frame(
                "origin_not_allowed", f"origin {origin!r} is not allowed for this project"))
            return None
        headers = self.ws.headers
        connected = await session_actions.connect_visitor(
            svc, project, frame.get("token"), frame.get("metadata"), user_agent=headers.get("user-agent"),
            ip=self.ws.client.host if self.ws.client else None,
            country=headers.get("cf-ipcountry") or headers.get("x-country-code"))
        session = connected.session
        self.project_id = project.id
        self.session_id = session.id
        # Subscribe before reading the replay, so nothing falls between the two.
        self._unsubscribe.append(svc.hub.subscribe_session(session.id, self._on_event))
        self._unsubscribe.append(svc.hub.subscribe_widgets(project.id, self._on_event))
        self.send(_frame({
            "type": "welcome",
            "protocol": PROTOCOL_VERSION,
            "sessionId": session.id,
            "visitorId": session.visitor_id,
            "token": connected.token,
            "status": session.status,
            "lastSeq": session.last_seq,
            "visitorReadSeq": session.visitor_read_seq,
            "operatorReadSeq": session.operator_read_seq,
            "settings": project.widget.to_public(),
            "online": session_actions.presence_frame(project, svc)["online"],
            "identity": session.identity.to_api() if session.identity else None,
            "rated": session.rating is not None,
            "limits": {"maxTextChars": svc.settings.max_text_chars, "maxFrameBytes": svc.settings.max_frame_bytes},
        }))
        hint = frame.get("lastSeq")
        if isinstance(hint, int) and not isinstance(hint, bool) and hint >= 0 and not connected.created:
            return min(hint, session.last_seq)
        return 0  # a hint from another (or an erased) session means nothing here

    async def _replay(self, after: int) -> None:
        """Queue every item after ``after``, then ``synced``, then the live events held back meanwhile."""
        async with self.svc.db.read() as tx:
            while True:
                page = await session_repo.list_items(tx, self.session_id, after_seq=after, limit=REPLAY_PAGE,
                                                     exclude_visitor_events=True)
                for item in page:
                    self.send(_frame(message_actions.widget_frame_for(item)))
                if page:
                    after = page[-1].seq
                if len(page) < REPLAY_PAGE:
                    break
        # Seqs are allocated under a row lock, so everything up to `after` was in what we read.
        self._replayed_to = after
        self.send(_frame({"type": "synced", "lastSeq": after}))
        held, self._buffer = self._buffer or [], None
        for event in held:
            self.send(event)

    # --- frames --------------------------------------------------------------------------
    async def _dispatch(self, frame: dict[str, Any]) -> None:
        handler = _HANDLERS.get(frame["type"])
        if handler is None:
            self.send(error_frame("unknown_type", f"unknown frame type {frame['type'][:40]!r}"))
            return
        try:
            await handler(self, frame)
        except PocketPingError as exc:
            extra: dict[str, Any] = {}
            if isinstance(frame.get("clientId"), str):
                extra["clientId"] = frame["clientId"][:64]
            self.send(_frame({"type": "error", **exc.to_dict(), **extra}))

    def _rate_check(self) -> None:
        retry = self.svc.visitor_limiter.hit(self.session_id)
        if retry is not None:
            raise RateLimited("too many messages; slow down", retry_after=retry)

    async def on_message(self, frame: dict[str, Any]) -> None:
        self._rate_check()
        sent = await message_actions.send_visitor_message(self.svc, self.project_id, self.session_id,
                                                          frame.get("text"), frame.get("clientId"))
        self.send(ack_frame(sent))

    async def on_event(self, frame: dict[str, Any]) -> None:
        self._rate_check()
        sent = await message_actions.trigger_event(self.svc, self.project_id, self.session_id, frame.get("name"),
                                                   frame.get("data"), frame.get("clientId"))
        self.send(ack_frame(sent))

    async def on_typing(self, frame: dict[str, Any]) -> None:
        active = bool(frame.get("active", True))
        now = self.svc.clock.now().timestamp()
        if active and now - self._typing_at < TYPING_MIN_INTERVAL:
            return
        self._typing_at = now if active else 0.0
        self.svc.hub.publish(typing_event(self.project_id, self.session_id, sender="visitor", active=active,
                                          origin="widget"))

    async def on_read(self, frame: dict[str, Any]) -> None:
        seq = frame.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
            raise InvalidInput("read needs a non-negative integer 'seq'", code="invalid_seq")
        await session_actions.mark_read_ids(self.svc, self.project_id, self.session_id, by="visitor", seq=seq)

    async def on_identify(self, frame: dict[str, Any]) -> None:
        self._rate_check()
        project = await get_project(self.svc, self.project_id)
        session = await session_actions.identify(self.svc, project, self.session_id, frame)
        self.send(_frame({"type": "identified", "identity": session.identity.to_api() if session.identity else None}))

    async def on_contact(self, frame: dict[str, Any]) -> None:
        self._rate_check()
        project = await get_project(self.svc, self.project_id)
        session = await session_actions.leave_contact(self.svc, project, self.session_id, frame.get("email"))
        self.send(_frame({"type": "contact", "email": session.identity.email if session.identity else None}))

    async def on_rate(self, frame: dict[str, Any]) -> None:
        self._rate_check()
        project = await get_project(self.svc, self.project_id)
        await ratings.rate_session(self.svc, project, self.session_id, frame.get("score"), frame.get("comment"))

    async def on_ping(self, frame: dict[str, Any]) -> None:
        self.send(_frame({"type": "pong", "t": frame.get("t")}))

    async def on_hello(self, frame: dict[str, Any]) -> None:
        raise InvalidInput("already authenticated", code="already_authenticated")


_HANDLERS = {
    "message": WidgetConnection.on_message,
    "event": WidgetConnection.on_event,
    "typing": WidgetConnection.on_typing,
    "read": WidgetConnection.on_read,
    "identify": WidgetConnection.on_identify,
    "contact": WidgetConnection.on_contact,
    "rate": WidgetConnection.on_rate,
    "ping": WidgetConnection.on_ping,
    "hello": WidgetConnection.on_hello,
}


def _seq_of(frame: dict[str, Any]) -> int | None:
    if frame.get("type") == "message":
        seq = frame["message"].get("seq")
        return seq if isinstance(seq, int) else None
    if frame.get("type") == "event":
        seq = frame.get("seq")
        return seq if isinstance(seq, int) else None
    return None


async def widget_socket(ws: WebSocket) -> None:
    svc: Services = ws.app.state.svc
    ip = ws.client.host if ws.client else "unknown"
    await ws.accept()
    retry = svc.connection_limiter.hit(ip)
    if retry is not None:
        with contextlib.suppress(Exception):
            await ws.send_text(error_frame("rate_limited", "too many connections from this address",
                                           retryAfter=round(retry, 3)).decode())
            await ws.close(CLOSE_RATE_LIMITED)
        return
    try:
        await WidgetConnection(ws, svc).run()
    except Exception:
        log.exception("widget connection failed")
    finally:
        if ws.client_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await ws.close()


async def widget_asgi(app: Any, scope: Scope, receive: Receive, send: Send) -> None:
    """``/ws`` as a bare ASGI endpoint (no routing or middleware frames held per connection)."""
    scope["app"] = app
    await widget_socket(WebSocket(scope, receive, send))
