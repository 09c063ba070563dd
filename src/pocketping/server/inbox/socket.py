"""The operator WebSocket at ``/inbox/ws``: live updates for the inbox page.

Authenticated by the sign-in cookie; the ``Origin`` header must be our own (a page on
another site cannot open it with the operator's cookie). It carries only the events of the
operator's projects, counts as operator presence while open, and is closed with 4001 when
the sign-in ends (sign-out, password reset, operator removed). Changes go through the
JSON API, with its CSRF token; the only frames a page sends here are ``typing`` and ``ping``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect

from pocketping.actions import inbox as inbox_actions
from pocketping.actions.logins import find_login, find_signed_in
from pocketping.actions.services import Services
from pocketping.core.operators import InboxLogin
from pocketping.errors import PocketPingError
from pocketping.hub import Event
from pocketping.server.inbox import security
from pocketping.server.inbox.sockets import InboxSockets
from pocketping.server.inbox.views import session_json
from pocketping.server.state import edges_of
from pocketping.store import inbox as inbox_repo

log = logging.getLogger(__name__)

CLOSE_SIGNED_OUT = 4001
CLOSE_ORIGIN = 4003
CLOSE_BACKLOG = 4009  # the page does not read what we send; it reconnects and reloads what it shows
MAX_FRAME = 4096
# Bytes (events estimated by their widget frame) waiting for a page that does not read them.
MAX_QUEUED_BYTES = 256 << 10
PING_T_MAX_CHARS = 64
TYPING_MIN_INTERVAL = 2.0

_SESSION_EVENTS = {"session.closed", "session.reopened", "session.ai_changed", "visitor.identified",
                   "session.assigned", "session.rated"}
_MESSAGE_EVENTS = {"message.created", "notice.created", "note.created"}
_EVENT_EVENTS = {"event.triggered", "event.emitted"}


class OperatorSocket:
    def __init__(self, ws: WebSocket, svc: Services, login: InboxLogin, sockets: InboxSockets) -> None:
        self.ws = ws
        self.svc = svc
        self.sockets = sockets
        self.login = login
        self.queue: asyncio.Queue[Event | bytes | None] = asyncio.Queue()
        self.queued_bytes = 0
        self.abandoned = False
        self.names: dict[str, str] = {}
        self._subscriptions: dict[str, Callable[[], None]] = {}
        self._typing_at: dict[str, float] = {}
        self.closed = asyncio.Event()

    # --- subscriptions -------------------------------------------------------------------
    def _on_event(self, event: Event) -> None:
        self._put(event)

    def _put(self, item: Event | bytes) -> None:
        if self.abandoned or self.closed.is_set():
            return
        self.queued_bytes += _size(item)
        if self.queued_bytes <= MAX_QUEUED_BYTES:
            self.queue.put_nowait(item)
            return
        log.info("closing an inbox socket of operator %s: it does not read what it is sent", self.login.operator.id)
        self.abandoned = True
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queued_bytes = 0
        asyncio.get_running_loop().create_task(self._close(CLOSE_BACKLOG, "too much unread"))

    async def _subscribe(self) -> None:
        wanted = set(self.login.project_ids)
        for project_id in list(self._subscriptions):
            if project_id not in wanted:
                self._subscriptions.pop(project_id)()
        for project_id in wanted - set(self._subscriptions):
            self._subscriptions[project_id] = self.svc.hub.subscribe_project(project_id, self._on_event)
        async with self.svc.db.read() as tx:
            self.names = await inbox_repo.project_names(tx, self.login.project_ids)

    def _unsubscribe(self) -> None:
        for unsubscribe in self._subscriptions.values():
            unsubscribe()
        self._subscriptions.clear()

    async def refresh(self) -> None:
        """Re-read the sign-in: close if it ended, follow changes to the operator's projects."""
        login = await find_login(self.svc, self.login.id)
        if login is None:
            await self._close(CLOSE_SIGNED_OUT, "signed out")
            return
        self.login = login
        await self._subscribe()

    # --- translation ---------------------------------------------------------------------
    def _frame(self, event: Event) -> dict[str, Any] | None:
        if event.project_id not in self.names:
            return None  # not (or no longer) one of the operator's projects
        name = self.names[event.project_id]
        data = event.data
        if event.type in _MESSAGE_EVENTS:
            return {"type": "message", "session": session_json(data["session"], name), "message": data["message"]}
        if event.type in _EVENT_EVENTS:
            return {"type": "message", "session": session_json(data["session"], name),
                    "message": {**data["event"], "kind": "event", "source": event.origin or "api"}}
        if event.type in _SESSION_EVENTS:
            return {"type": "session", "session": session_json(data["session"], name)}
        if event.type == "read":
            return {"type": "read", "sessionId": event.session_id, "by": data.get("by"), "seq": data.get("seq")}
        if event.type == "typing" and data.get("sender") == "visitor":
            return {"type": "typing", "sessionId": event.session_id, "active": bool(data.get("active"))}
        if event.type.startswith("message.") and isinstance(data.get("message"), dict):
            return {"type": "message_changed", "sessionId": event.session_id, "message": data["message"]}
        return None

    async def _write_loop(self) -> None:
        while True:
            item = await self.queue.get()
            if item is None:
                return
            if self.abandoned:
                continue  # closing (with its own code): nothing more goes out
            self.queued_bytes -= _size(item)
            event = item if isinstance(item, Event) else None
            if event is not None:
                frame = self._frame(event)
                if frame is None:
                    continue
                data = orjson.dumps(frame)
            else:
                assert isinstance(item, bytes)
                data = item
            try:
                await self.ws.send_text(data.decode())
            except Exception:
                self.closed.set()
                return
            if event is not None and event.type == "message.created":
                self.sockets.delivered(event)

    # --- presence ------------------------------------------------------------------------
    async def _heartbeat(self) -> None:
        # Often enough that presence never lapses while the inbox is open.
        interval = max(1.0, min(60.0, self.svc.settings.presence_timeout_seconds / 3))
        while True:
            try:
                await inbox_actions.operator_active(self.svc, self.login.project_ids)
            except Exception:
                log.exception("could not record operator presence")
            await self.svc.clock.sleep(interval)
            await self.refresh()

    # --- receiving -----------------------------------------------------------------------
    async def _read_loop(self) -> None:
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text") or ""
            if len(text) > MAX_FRAME:
                continue
            try:
                frame = orjson.loads(text)
            except orjson.JSONDecodeError:
                continue
            if not isinstance(frame, dict):
                continue
            if frame.get("type") == "ping":
                t = frame.get("t")
                if t is None or isinstance(t, int | float) or (isinstance(t, str) and len(t) <= PING_T_MAX_CHARS):
                    self._put(orjson.dumps({"type": "pong", "t": t}))
            elif frame.get("type") == "typing":
                await self._typing(frame)

    async def _typing(self, frame: dict[str, Any]) -> None:
        session_id, active = frame.get("sessionId"), bool(frame.get("active", True))
        if not isinstance(session_id, str):
            return
        now = self.svc.clock.now().timestamp()
        if active and now - self._typing_at.get(session_id, 0.0) < TYPING_MIN_INTERVAL:
            return
        self._typing_at[session_id] = now if active else 0.0
        try:
            session = await inbox_actions.access_session(self.svc, self.login, session_id)
        except PocketPingError:
            return
        inbox_actions.typing(self.svc, self.login, session, active)

    async def _close(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close(code, reason)
        self.closed.set()

    async def run(self) -> None:
        await self._subscribe()
        self._put(orjson.dumps({"type": "ready", "operator": self.login.operator.to_api(),
                                            "projects": [{"id": p, "name": n} for p, n in self.names.items()]}))
        tasks = [asyncio.create_task(self._write_loop()), asyncio.create_task(self._heartbeat()),
                 asyncio.create_task(self._read_loop()), asyncio.create_task(self.closed.wait())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        except WebSocketDisconnect:
            pass
        finally:
            self._unsubscribe()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


def _size(item: Event | bytes) -> int:
    return len(item) if isinstance(item, bytes) else len(item.widget_bytes() or b"") + 256


async def operator_socket(ws: WebSocket) -> None:
    svc: Services = ws.app.state.svc
    if not security.origin_ok(ws, required=True):
        await ws.close(CLOSE_ORIGIN)  # before accepting: the handshake is refused (HTTP 403)
        return
    await ws.accept()
    login = await find_signed_in(svc, security.read_cookie(ws, security.SESSION_COOKIE))
    if login is None:
        with contextlib.suppress(Exception):
            await ws.close(CLOSE_SIGNED_OUT, "sign in first")
        return
    sockets = edges_of(ws.app).inbox
    sock = OperatorSocket(ws, svc, login, sockets)
    sockets.add(sock)
    try:
        await sock.run()
    finally:
        sockets.discard(sock)
        with contextlib.suppress(Exception):
            await ws.close()
