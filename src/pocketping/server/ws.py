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
import time
from collections import deque
from typing import Any

import orjson
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from pocketping import logs
from pocketping.actions import consent as consent_actions
from pocketping.actions import edits, ratings
from pocketping.actions import mail as mail_actions
from pocketping.actions import messages as message_actions
from pocketping.actions import sessions as session_actions
from pocketping.actions.prechat import check_prechat_answers, fill_prechat, prechat_mode
from pocketping.actions.projects import get_project
from pocketping.actions.requests import PrechatFirst, Sent
from pocketping.actions.services import Services
from pocketping.core.hours import is_open
from pocketping.core.mail import consent_mode
from pocketping.core.models import iso
from pocketping.core.widget_text import visitor_locale, widget_text
from pocketping.ephemeral import typing_event
from pocketping.errors import InvalidInput, PocketPingError, RateLimited
from pocketping.hub import Event
from pocketping.store import sessions as session_repo

log = logging.getLogger(__name__)

PROTOCOL_VERSION = 1
TYPING_MIN_INTERVAL = 2.0

# Close codes (4000-4999 are ours; see docs/protocol.md).
CLOSE_INVALID_KEY = 4001
CLOSE_ORIGIN = 4003
CLOSE_AUTH_TIMEOUT = 4008
CLOSE_BACKLOG = 4009  # the client does not read what we send; it reconnects and resumes by seq
CLOSE_RATE_LIMITED = 4029

# A client that never reads must not make us hold its frames without bound: past this many
# largest frames (POCKETPING_MAX_FRAME_BYTES: 1 MiB by default) waiting to be written, the
# replay on connect aside, the connection is closed.
QUEUED_FRAMES_BOUND = 16
# ``ping`` and ``read`` frames (cheap to send, answered or written for each one) share a
# token bucket per connection: this many at once, refilled at this rate (real time).
CONTROL_BURST = 30
CONTROL_PER_SECOND = 2.0
PING_T_MAX_CHARS = 64
# Read receipts of one connection are written at most this often (the highest seq wins).
READ_COALESCE_SECONDS = 1.0
MAX_DEPTH = 16  # how deeply a frame's objects and arrays may nest (identify traits, event data)
# The largest value an integer column takes on every backend (PostgreSQL's INTEGER).
MAX_INT32 = 2**31 - 1


def _frame(data: dict[str, Any]) -> bytes:
    return orjson.dumps(data)


def error_frame(code: str, message: str, **extra: Any) -> bytes:
    return _frame({"type": "error", "code": code, "message": message, **extra})


def ack_frame(sent: Sent) -> bytes:
    m = sent.message
    return _frame({"type": "ack", "clientId": m.client_id, "id": m.id, "seq": m.seq,
                   "createdAt": iso(m.created_at), "duplicate": sent.duplicate})


class _Closed(Exception):
    pass


class WidgetConnection:
    __slots__ = (
        "_buffer",
        "_consent_answer",
        "_ctl_at",
        "_ctl_tokens",
        "_ctl_warned",
        "_flushing",
        "_free_items",
        "_out",
        "_out_bytes",
        "_overflowed",
        "_read_at",
        "_read_pending",
        "_read_seq",
        "_read_task",
        "_replayed_to",
        "_replaying",
        "_typing_at",
        "_unsubscribe",
        "project_id",
        "session_id",
        "svc",
        "ws",
    )

    def __init__(self, ws: WebSocket, svc: Services) -> None:
        self.ws = ws
        self.svc = svc
        self.project_id = ""
        self.session_id = ""
        self._out: deque[bytes | Event] = deque()
        self._out_bytes = 0  # of the queued items that count against MAX_QUEUED_BYTES
        self._free_items = 0  # items at the queue's head that do not (the welcome and the replay)
        self._overflowed = False
        self._replaying = False
        self._flushing = False
        self._ctl_tokens = float(CONTROL_BURST)
        self._ctl_at = 0.0
        self._ctl_warned = False
        self._read_seq = 0  # the highest read seq written or about to be
        self._read_at = -READ_COALESCE_SECONDS
        self._read_pending = 0
        self._read_task: asyncio.Task[None] | None = None
        self._replayed_to = 0
        self._typing_at = 0.0
        self._unsubscribe: list[Any] = []
        self._consent_answer: bool | None = None  # a consent frame sent during the pre-chat form
        # Live events that arrive while the replay is read wait here, to keep seq order.
        self._buffer: list[Event] | None = []

    # --- sending (one short-lived task drains the queue; none while idle) ------------------
    def send(self, item: bytes | Event) -> None:
        if self._overflowed:
            return
        self._out.append(item)
        if self._replaying:
            self._free_items += 1  # the welcome and the replay: the client asked for them, it reads them
        else:
            self._out_bytes += _size(item)
            if self._out_bytes > QUEUED_FRAMES_BOUND * self.svc.settings.max_frame_bytes:
                self._overflow()
                return
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

    def _overflow(self) -> None:
        """Drop what waits and close: the widget reconnects and replays from its last seq."""
        self._overflowed = True
        self._out.clear()
        self._out_bytes = self._free_items = 0
        log.info("closing the widget connection of session %s: it does not read what it is sent", self.session_id)
        asyncio.get_running_loop().create_task(self._abandon())

    async def _abandon(self) -> None:
        if self.ws.application_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await self.ws.close(CLOSE_BACKLOG, "too much unread")

    async def _flush(self) -> None:
        try:
            while self._out:
                item = self._out.popleft()
                if self._free_items:
                    self._free_items -= 1
                else:
                    self._out_bytes -= _size(item)
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
            self._out_bytes = self._free_items = 0
        finally:
            self._flushing = False

    # --- receiving -----------------------------------------------------------------------
    async def _receive(self) -> dict[str, Any] | None:
        """The next frame as a dict; None after an error frame was queued for a bad one."""
        message = await self.ws.receive()
        if message["type"] == "websocket.disconnect":
            raise _Closed
        if self._overflowed:
            await self._abandon()  # (before the connection's end closes it with 1000)
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
        problem = _unacceptable(frame, MAX_DEPTH)
        if problem:
            self.send(error_frame("invalid_frame", problem))
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
            await self._last_read()

    async def _close(self, code: int, frame: bytes) -> None:
        with contextlib.suppress(Exception):
            await self.ws.send_text(frame.decode())
            await self.ws.close(code)

    def _where(self) -> dict[str, Any]:
        """The connection's user agent, address and country (kept only as the project allows)."""
        headers = self.ws.headers
        return {"user_agent": headers.get("user-agent"), "ip": self.ws.client.host if self.ws.client else None,
                "country": headers.get("cf-ipcountry") or headers.get("x-country-code")}

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
        answers = None
        where = self._where()
        try:
            # The project lookup, the origin check and the session share one group commit.
            connected = await session_actions.open_widget(
                svc, frame.get("publicKey"), self.ws.headers.get("origin"), frame.get("token"), frame.get("metadata"),
                prechat_first=True, **where)
        except PrechatFirst as first:
            # No session before the required pre-chat form is filled: the widget shows it, then sends `prechat`.
            answers = await self._prechat_gate(first.project, frame.get("metadata"))
            if answers is None:
                return None
            connected = await session_actions.connect_visitor(svc, first.project, None, frame.get("metadata"),
                                                              **where)
        except PocketPingError as exc:
            code = CLOSE_ORIGIN if exc.code == "origin_not_allowed" else CLOSE_INVALID_KEY
            await self._close(code, error_frame(exc.code, exc.message))
            return None
        assert connected.project is not None
        project = connected.project
        session = connected.session
        if self._consent_answer is not None:  # given while the pre-chat form was open
            session = await consent_actions.answer_consent(svc, project, session.id, self._consent_answer)
        if answers is not None:
            session = await fill_prechat(svc, project, session.id, answers)
            session = await session_actions.get_session(svc, project.id, session.id)
        self.project_id = project.id
        self.session_id = session.id
        logs.bind(session_id=session.id)
        # Subscribe before reading the replay, so nothing falls between the two.
        self._unsubscribe.append(svc.hub.subscribe_session(session.id, self._on_event))
        self._unsubscribe.append(svc.hub.subscribe_widgets(project.id, self._on_event))
        self._replaying = True
        inside = is_open(project.extra, svc.clock.now())
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
            "settings": self._settings(project, inside, session.metadata),
            "online": session_actions.presence_frame(project, svc)["online"],
            "identity": session.identity.to_api() if session.identity else None,
            "consent": session.consent,  # the visitor's stored answer to the consent text, if any
            "prechat": self._prechat_info(project, session.metadata),
            # The server sends mail: the label of "Email me this conversation", else null.
            "mail": widget_text(visitor_locale(project, session.metadata), "transcript")
            if svc.settings.mail_ready() else None,
            "rated": session.rating is not None,
            "limits": {"maxTextChars": svc.settings.max_text_chars, "maxFrameBytes": svc.settings.max_frame_bytes},
        }))
        hint = frame.get("lastSeq")
        if connected.created and session.last_seq == 0:
            # A session made by this very page view, empty at its commit: no one else knew its id
            # before the welcome, so there is nothing to read back (live events are subscribed).
            return -1
        if isinstance(hint, int) and not isinstance(hint, bool) and hint >= 0 and not connected.created:
            return min(hint, session.last_seq)
        return 0  # a hint from another (or an erased) session means nothing here

    def _settings(self, project: Any, inside: bool, metadata: object = None) -> dict[str, Any]:
        """The widget's settings, with the consent line under its email fields and the consent mode
        (with ``required``, a default text if the project has none, and the button's label); outside
        office hours: "away" with the away message and the email field, whatever the presence."""
        settings: dict[str, Any] = project.widget.to_public()
        mode = consent_mode(project.extra)
        text = project.extra.get("consent_text")
        locale = visitor_locale(project, metadata if isinstance(metadata, dict) else {})
        if mode == "required" and not text:
            text = widget_text(locale, "consent")
        settings["consent"] = mode
        if text:
            settings["consentText"] = text
        if text and mode != "off":  # the widget shows the text with this button until it is clicked
            settings["consentButton"] = widget_text(locale, "accept" if mode == "required" else "ok")
        if not inside:
            settings |= {"offlineForm": True, "awayMessage": project.extra.get("away_message") or None}
        return settings

    def _prechat_info(self, project: Any, metadata: object) -> dict[str, str] | None:
        """The form's mode and the labels the widget's own strings lack, in the visitor's language."""
        mode = prechat_mode(project)
        if mode == "off":
            return None
        locale = visitor_locale(project, metadata if isinstance(metadata, dict) else {})
        return {"mode": mode, "name": widget_text(locale, "name"), "start": widget_text(locale, "start")}

    async def _prechat_gate(self, project: Any, metadata: object) -> dict[str, Any] | None:
        """Wait for valid pre-chat answers (bad ones get an error and another try)."""
        self.send(_frame({"type": "prechat", **(self._prechat_info(project, metadata) or {}),
                          "settings": self._settings(project, True),
                          "online": session_actions.presence_frame(project, self.svc)["online"]}))
        while True:
            try:
                async with asyncio.timeout(PRECHAT_TIMEOUT_SECONDS):  # a form left open for long: come back later
                    frame = await self._receive()
            except TimeoutError:
                await self._close(CLOSE_AUTH_TIMEOUT, error_frame("auth_timeout", "the pre-chat form was not sent"))
                return None
            if frame is None:
                continue
            if frame["type"] == "ping":
                self.send(_frame({"type": "pong", "t": frame.get("t")}))
            elif frame["type"] == "consent" and isinstance(frame.get("accepted"), bool):
                self._consent_answer = frame["accepted"]  # recorded once the session exists
            elif frame["type"] != "prechat":
                self.send(error_frame("prechat_required", "fill in the pre-chat form first (a 'prechat' frame)"))
            else:
                try:
                    answers = check_prechat_answers(project, frame, self.svc.settings.max_text_chars)
                except PocketPingError as exc:
                    self.send(error_frame(exc.code, exc.message))
                    continue
                if answers["email"] and consent_mode(project.extra) == "required" and self._consent_answer is not True:
                    self.send(error_frame("consent_required", "accept the consent text first (a 'consent' frame)"))
                    continue
                return answers

    async def _replay(self, after: int) -> None:
        """Queue the latest items after ``after`` (at most POCKETPING_REPLAY_LIMIT; none to read
        for -1: a new, empty session), then ``synced``, then the live events held back meanwhile."""
        if after < 0:
            self._finish_replay(0)
            return
        async with self.svc.db.read() as tx:
            page, more = await session_repo.widget_page(tx, self.session_id, after_seq=after,
                                                        limit=self.svc.settings.replay_limit)
        for item in page:
            self.send(_frame(message_actions.widget_frame_for(item)))
        # Seqs are allocated under a row lock, so everything up to the last one was in what we read.
        self._finish_replay(page[-1].seq if page else after, page[0].seq if page else None, more)

    def _finish_replay(self, after: int, first: int | None = None, more: bool = False) -> None:
        self._replayed_to = after
        # replayFrom: the first seq sent; more: items between the client's lastSeq and it were
        # left out (the client pages back with `history` frames).
        self.send(_frame({"type": "synced", "lastSeq": after, "replayFrom": first, "more": more}))
        self._replaying = False
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

    async def _rate_check(self) -> None:
        retry = await self.svc.visitor_limiter.take(self.session_id)
        if retry is not None:
            raise RateLimited("too many messages; slow down", retry_after=retry)

    async def on_message(self, frame: dict[str, Any]) -> None:
        started = time.perf_counter()
        await self._rate_check()
        sent = await message_actions.send_visitor_message(self.svc, self.project_id, self.session_id,
                                                          frame.get("text"), frame.get("clientId"),
                                                          attachments=frame.get("attachments"))
        self.send(ack_frame(sent))
        self.svc.metrics.ack(time.perf_counter() - started)

    async def on_event(self, frame: dict[str, Any]) -> None:
        await self._rate_check()
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

    def _take_control(self) -> float | None:
        """One token of the ping/read/history bucket: None, or the seconds until there is one."""
        now = asyncio.get_running_loop().time()
        self._ctl_tokens = min(float(CONTROL_BURST), self._ctl_tokens + (now - self._ctl_at) * CONTROL_PER_SECOND)
        self._ctl_at = now
        if self._ctl_tokens < 1.0:
            return round((1.0 - self._ctl_tokens) / CONTROL_PER_SECOND, 3)
        self._ctl_tokens -= 1.0
        self._ctl_warned = False
        return None

    def _control_allowed(self) -> bool:
        """One token of the bucket; False (after one error frame) when it is empty."""
        retry = self._take_control()
        if retry is None:
            return True
        if not self._ctl_warned:
            self._ctl_warned = True
            self.send(error_frame("rate_limited", "too many ping and read frames; slow down", retryAfter=retry))
        return False

    async def on_read(self, frame: dict[str, Any]) -> None:
        seq = frame.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq <= MAX_INT32:
            raise InvalidInput(f"read needs an integer 'seq' from 0 to {MAX_INT32}", code="invalid_seq")
        if not self._control_allowed() or seq <= self._read_seq:
            return  # refused, or already written (or about to be): nothing to do
        self._read_seq = seq
        wait = self._read_at + READ_COALESCE_SECONDS - asyncio.get_running_loop().time()
        if wait <= 0:
            await self._write_read(seq)
        else:
            self._read_pending = seq
            if self._read_task is None:
                self._read_task = asyncio.get_running_loop().create_task(self._write_read_later(wait))

    async def _write_read(self, seq: int) -> None:
        self._read_at = asyncio.get_running_loop().time()
        await session_actions.mark_read_ids(self.svc, self.project_id, self.session_id, by="visitor", seq=seq)

    async def _write_read_later(self, wait: float) -> None:
        # Real time, not the injected clock: this only spaces writes out (with a fake clock that
        # never moves, a receipt would otherwise wait for ever).
        await asyncio.sleep(wait)
        self._read_task = None
        seq, self._read_pending = self._read_pending, 0
        if seq:
            with contextlib.suppress(Exception):
                await self._write_read(seq)

    async def _last_read(self) -> None:
        """On close: write a receipt still waiting for its turn."""
        task, self._read_task = self._read_task, None
        if task is not None:
            task.cancel()
        seq, self._read_pending = self._read_pending, 0
        if seq:
            try:
                await self._write_read(seq)
            except Exception:
                log.exception("could not record the last read receipt of session %s", self.session_id)

    async def on_history(self, frame: dict[str, Any]) -> None:
        """Older items, on demand: ``{"type": "history", "beforeSeq", "limit"}`` answers the
        latest ``limit`` items (at most POCKETPING_REPLAY_LIMIT) before ``beforeSeq`` (absent:
        before the end), oldest first, and whether there are older ones still."""
        before, limit = frame.get("beforeSeq"), frame.get("limit")
        most = self.svc.settings.replay_limit
        if before is not None and not _is_int(before, 1, MAX_INT32 + 1):
            raise InvalidInput(f"history's 'beforeSeq' is an integer from 1 to {MAX_INT32 + 1}",
                               code="invalid_history", field="beforeSeq")
        if limit is not None and not _is_int(limit, 1, MAX_INT32):
            raise InvalidInput(f"history's 'limit' is an integer from 1 (at most {most} are sent)",
                               code="invalid_history", field="limit")
        retry = self._take_control()
        if retry is not None:
            raise RateLimited("too many history frames; slow down", retry_after=retry)
        async with self.svc.db.read() as tx:
            page, more = await session_repo.widget_page(tx, self.session_id, before_seq=before,
                                                        limit=min(limit or most, most))
        # One answer stays well inside what may wait to be written (QUEUED_FRAMES_BOUND frames):
        # past a quarter of it, the oldest items are left for the next request (more: true).
        items = [message_actions.widget_frame_for(item) for item in page]
        room, kept = QUEUED_FRAMES_BOUND * self.svc.settings.max_frame_bytes // 4, len(items)
        while kept > 1 and len(_frame({"items": items[len(items) - kept:]})) > room:
            kept = kept * 3 // 4
        self.send(_frame({"type": "history", "beforeSeq": before, "items": items[len(items) - kept:],
                          "more": more or kept < len(items)}))

    async def on_identify(self, frame: dict[str, Any]) -> None:
        await self._rate_check()
        project = await get_project(self.svc, self.project_id)
        session = await session_actions.identify(self.svc, project, self.session_id, frame)
        self.send(_frame({"type": "identified", "identity": session.identity.to_api() if session.identity else None}))

    async def on_contact(self, frame: dict[str, Any]) -> None:
        await self._rate_check()
        project = await get_project(self.svc, self.project_id)
        session = await session_actions.leave_contact(self.svc, project, self.session_id, frame.get("email"))
        self.send(_frame({"type": "contact", "email": session.identity.email if session.identity else None}))

    async def on_transcript(self, frame: dict[str, Any]) -> None:
        """"Email me this conversation": mailed when it closes (at once if it is closed)."""
        await self._rate_check()
        address = await mail_actions.request_transcript(self.svc, self.project_id, self.session_id)
        self.send(_frame({"type": "transcript", "email": address}))

    async def on_prechat(self, frame: dict[str, Any]) -> None:
        """The form with ``--prechat optional`` (the session exists): identity, then the first message."""
        await self._rate_check()
        project = await get_project(self.svc, self.project_id)
        answers = check_prechat_answers(project, frame, self.svc.settings.max_text_chars)
        session = await fill_prechat(self.svc, project, self.session_id, answers)
        self.send(_frame({"type": "contact", "email": session.identity.email if session.identity else None}))

    async def on_consent(self, frame: dict[str, Any]) -> None:
        """The visitor's answer to the consent text: ``{"type": "consent", "accepted": true}``."""
        await self._rate_check()
        project = await get_project(self.svc, self.project_id)
        session = await consent_actions.answer_consent(self.svc, project, self.session_id, frame.get("accepted"))
        self.send(_frame({"type": "consent", "accepted": session.consent == "accepted"}))

    async def on_metadata(self, frame: dict[str, Any]) -> None:
        """The page metadata held back from ``hello`` (consent unknown or not yet given):
        ``{"type": "metadata", "metadata": {...}}``; refused while the session awaits consent."""
        await self._rate_check()
        project = await get_project(self.svc, self.project_id)
        await consent_actions.store_metadata(self.svc, project, self.session_id, frame.get("metadata"),
                                             **self._where())

    async def on_rate(self, frame: dict[str, Any]) -> None:
        await self._rate_check()
        project = await get_project(self.svc, self.project_id)
        await ratings.rate_session(self.svc, project, self.session_id, frame.get("score"), frame.get("comment"))

    async def on_edit(self, frame: dict[str, Any]) -> None:
        """The visitor corrects their own message (within 5 minutes): ``{"type": "edit", "id", "text"}``."""
        await self._rate_check()
        await edits.edit_visitor_message(self.svc, self.project_id, self.session_id, frame.get("id"),
                                         frame.get("text"), origin="widget")

    async def on_ping(self, frame: dict[str, Any]) -> None:
        t = frame.get("t")
        if not (t is None or isinstance(t, int | float) or (isinstance(t, str) and len(t) <= PING_T_MAX_CHARS)):
            raise InvalidInput(f"a ping's 't' is a number or a string of at most {PING_T_MAX_CHARS} characters",
                               code="invalid_ping")
        if isinstance(t, int) and not isinstance(t, bool) and not -(2**53) <= t <= 2**53:
            raise InvalidInput("a ping's 't' is a number or a short string", code="invalid_ping")
        if self._control_allowed():
            self.send(_frame({"type": "pong", "t": t}))

    async def on_hello(self, frame: dict[str, Any]) -> None:
        raise InvalidInput("already authenticated", code="already_authenticated")


PRECHAT_TIMEOUT_SECONDS = 3600.0

_HANDLERS = {
    "message": WidgetConnection.on_message,
    "event": WidgetConnection.on_event,
    "typing": WidgetConnection.on_typing,
    "read": WidgetConnection.on_read,
    "identify": WidgetConnection.on_identify,
    "contact": WidgetConnection.on_contact,
    "transcript": WidgetConnection.on_transcript,
    "prechat": WidgetConnection.on_prechat,
    "rate": WidgetConnection.on_rate,
    "consent": WidgetConnection.on_consent,
    "metadata": WidgetConnection.on_metadata,
    "edit": WidgetConnection.on_edit,
    "ping": WidgetConnection.on_ping,
    "history": WidgetConnection.on_history,
    "hello": WidgetConnection.on_hello,
}


def _unacceptable(value: Any, depth: int) -> str | None:
    """Why a frame's value cannot be taken (nested too deep, a NUL character), or None."""
    if isinstance(value, str):
        return "NUL characters (U+0000) are not accepted" if "\x00" in value else None
    if isinstance(value, dict | list):
        if depth <= 0:
            return f"values are nested at most {MAX_DEPTH} levels deep"
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            problem = _unacceptable(key, depth) or _unacceptable(item, depth - 1)
            if problem:
                return problem
    return None


def _is_int(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _size(item: bytes | Event) -> int:
    return len(item) if isinstance(item, bytes) else len(item.widget_bytes() or b"")


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
    retry = await svc.connection_limiter.take(ip)
    if retry is not None:
        with contextlib.suppress(Exception):
            await ws.send_text(error_frame("rate_limited", "too many connections from this address",
                                           retryAfter=round(retry, 3)).decode())
            await ws.close(CLOSE_RATE_LIMITED)
        return
    svc.metrics.widget_opened()
    try:
        await WidgetConnection(ws, svc).run()
    except Exception:
        log.exception("widget connection failed")
    finally:
        svc.metrics.widget_closed()
        if ws.client_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await ws.close()


async def widget_asgi(app: Any, scope: Scope, receive: Receive, send: Send) -> None:
    """``/ws`` as a bare ASGI endpoint (no routing or middleware frames held per connection)."""
    scope["app"] = app
    await widget_socket(WebSocket(scope, receive, send))
