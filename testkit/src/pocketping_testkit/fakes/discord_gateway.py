"""The fake Discord Gateway: a WebSocket server speaking the real opcodes.

HELLO (10) with ``heartbeat_interval``; IDENTIFY (2) checked for token and intents (close
codes 4004, 4013, 4014); HEARTBEAT (1) answered by ACK (11); DISPATCH (0) with ``s`` and
``t`` (READY, GUILD_CREATE, MESSAGE_*, TYPING_START, THREAD_*), filtered by intents, with
message content emptied without the MESSAGE_CONTENT intent; RESUME (6) replays what the
session missed, then RESUMED; RECONNECT (7); INVALID_SESSION (9). A client closing with
1000/1001 ends its session; a dropped connection keeps it resumable.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

if TYPE_CHECKING:
    from pocketping_testkit.fakes.discord import FakeDiscord

GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_PRESENCES = 1 << 8
GUILD_MESSAGES = 1 << 9
GUILD_MESSAGE_TYPING = 1 << 11
MESSAGE_CONTENT = 1 << 15
ALL_INTENTS = (1 << 26) - 1

EVENT_INTENTS = {
    "GUILD_CREATE": GUILDS, "THREAD_CREATE": GUILDS, "THREAD_UPDATE": GUILDS, "THREAD_DELETE": GUILDS,
    "MESSAGE_CREATE": GUILD_MESSAGES, "MESSAGE_UPDATE": GUILD_MESSAGES, "MESSAGE_DELETE": GUILD_MESSAGES,
    "TYPING_START": GUILD_MESSAGE_TYPING,
}


@dataclass
class GatewaySession:
    id: str
    intents: int
    seq: int = 0
    events: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=10_000))
    conn: Connection | None = None
    disconnected_at: float | None = None


@dataclass
class Connection:
    ws: ServerConnection
    path: str
    queue: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    session: GatewaySession | None = None
    heartbeats: int = 0
    closed: bool = False


class FakeGateway:
    def __init__(self, fake: FakeDiscord, session_ttl: float = 300.0) -> None:
        self.fake = fake
        self.session_ttl = session_ttl  # how long Discord keeps a disconnected session resumable
        self.url = ""
        self.resume_url = ""
        self.sessions: dict[str, GatewaySession] = {}
        self.connections: list[Connection] = []
        self.ack_heartbeats = True
        self.identifies = 0
        self.resumes: list[str] = []  # the path each RESUME came in on
        self.heartbeats = 0
        self.heartbeat_seqs: list[int | None] = []  # the ``d`` of every heartbeat, in order
        self.identify_payloads: list[dict[str, Any]] = []
        self.client_close_codes: list[int | None] = []
        self.server_close_codes: list[int] = []
        self._server: Server | None = None

    async def start(self) -> None:
        self._server = await serve(self._handle, "127.0.0.1", 0, compression=None, max_size=1 << 20)
        port = next(iter(self._server.sockets)).getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}"
        self.resume_url = f"ws://127.0.0.1:{port}/resume"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)

    # -- what tests look at ----------------------------------------------------------------------------

    def live(self) -> list[Connection]:
        """Open connections with an identified or resumed session."""
        with self.fake.lock:
            return [c for c in self.connections if not c.closed and c.session is not None]

    # -- controls (any thread) ---------------------------------------------------------------------------

    def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send a DISPATCH to every session whose intents ask for it (from any thread, in order)."""
        self.fake.soon(lambda: self._dispatch_now(event, data))

    def drop(self) -> None:
        """Cut every connection at the TCP level: no close frame, sessions stay resumable."""
        self._on_loop(lambda c: c.ws.transport.abort())

    def close(self, code: int, reason: str = "") -> None:
        """Close every connection with a Gateway close code (4000 unknown error, 4009 timed out ...)."""
        self._on_loop(lambda c: self._close_later(c, code, reason))

    def stop_acks(self) -> None:
        """Stop answering heartbeats: the connection turns into a zombie."""
        with self.fake.lock:
            self.ack_heartbeats = False

    def resume_acks(self) -> None:
        with self.fake.lock:
            self.ack_heartbeats = True

    def request_heartbeat(self) -> None:
        self._on_loop(lambda c: c.queue.put_nowait({"op": 1, "d": None, "s": None, "t": None}))

    def reconnect(self) -> None:
        """Send RECONNECT (7): the client should reconnect and resume."""
        self._on_loop(lambda c: c.queue.put_nowait({"op": 7, "d": None, "s": None, "t": None}))

    def invalidate(self, resumable: bool = False) -> None:
        """Send INVALID_SESSION (9); unless resumable, the sessions are gone."""
        def send(c: Connection) -> None:
            c.queue.put_nowait({"op": 9, "d": resumable, "s": None, "t": None})
            if not resumable and c.session is not None:
                self.sessions.pop(c.session.id, None)
        self._on_loop(send)

    def expire_sessions(self) -> None:
        """Forget every session (as after a long outage): a RESUME gets INVALID_SESSION."""
        with self.fake.lock:
            self.sessions.clear()

    def _on_loop(self, action: Any) -> None:
        async def run() -> None:
            for conn in self.live():
                action(conn)
        self.fake.call(run())
        self.fake.changed()

    def _close_later(self, conn: Connection, code: int, reason: str) -> None:
        self.server_close_codes.append(code)
        asyncio.get_running_loop().create_task(conn.ws.close(code, reason))

    # -- the protocol ------------------------------------------------------------------------------------

    def _dispatch_now(self, event: str, data: dict[str, Any]) -> None:
        with self.fake.lock:
            now = time.monotonic()
            for session in list(self.sessions.values()):
                if session.disconnected_at is not None and now - session.disconnected_at > self.session_ttl:
                    self.sessions.pop(session.id, None)  # timed out: no longer resumable
                    continue
                intent = EVENT_INTENTS.get(event, 0)
                if intent and not session.intents & intent:
                    continue
                self._send_event(session, event, self._visible(session, event, data))
        self.fake.changed()

    def _visible(self, session: GatewaySession, event: str, data: dict[str, Any]) -> dict[str, Any]:
        if not event.startswith("MESSAGE_") or session.intents & MESSAGE_CONTENT or "content" not in data:
            return data
        if (data.get("author") or {}).get("id") == self.fake.bot["id"]:
            return data
        if any(m.get("id") == self.fake.bot["id"] for m in data.get("mentions", [])):
            return data
        return dict(data, content="", embeds=[], attachments=[], components=[])

    def _send_event(self, session: GatewaySession, event: str, data: dict[str, Any]) -> None:
        session.seq += 1
        frame = {"op": 0, "s": session.seq, "t": event, "d": data}
        session.events.append(frame)
        if session.conn is not None and not session.conn.closed:
            session.conn.queue.put_nowait(frame)

    async def _writer(self, conn: Connection) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                frame = await conn.queue.get()
                await conn.ws.send(json.dumps(frame))

    async def _handle(self, ws: ServerConnection) -> None:
        path = ws.request.path if ws.request is not None else "/"
        conn = Connection(ws, path)
        with self.fake.lock:
            self.connections.append(conn)
        query = parse_qs(urlsplit(path).query)
        if query.get("v") != ["10"]:
            await ws.close(4012, "Invalid API version")
            return
        if query.get("encoding", ["json"]) != ["json"]:
            await ws.close(4002, "Error while decoding payload.")
            return
        writer = asyncio.create_task(self._writer(conn))
        conn.queue.put_nowait({"op": 10, "d": {"heartbeat_interval": int(self.fake.heartbeat_interval * 1000)},
                               "s": None, "t": None})
        try:
            async for raw in ws:
                if not await self._receive(conn, raw):
                    break
        except ConnectionClosed:
            pass
        finally:
            await self._closed(conn, writer)

    async def _receive(self, conn: Connection, raw: str | bytes) -> bool:
        try:
            payload = json.loads(raw)
            op, data = payload["op"], payload.get("d")
        except (ValueError, KeyError, TypeError):
            await self._server_close(conn, 4002, "Error while decoding payload.")
            return False
        if op == 1:
            conn.heartbeats += 1
            with self.fake.lock:
                self.heartbeats += 1
                self.heartbeat_seqs.append(data)
                ack = self.ack_heartbeats
            if ack:
                conn.queue.put_nowait({"op": 11, "d": None, "s": None, "t": None})
            self.fake.changed()
            return True
        if op == 2:
            return await self._identify(conn, data if isinstance(data, dict) else {})
        if op == 6:
            return await self._resume(conn, data if isinstance(data, dict) else {})
        if conn.session is None:
            await self._server_close(conn, 4003, "Not authenticated.")
            return False
        if op in (3, 4, 8):
            return True
        await self._server_close(conn, 4001, "Unknown opcode.")
        return False

    async def _identify(self, conn: Connection, data: dict[str, Any]) -> bool:
        with self.fake.lock:
            self.identify_payloads.append(data)
        if conn.session is not None:
            await self._server_close(conn, 4005, "Already authenticated.")
            return False
        if data.get("token") != self.fake.token:
            await self._server_close(conn, 4004, "Authentication failed.")
            return False
        intents = data.get("intents")
        if not isinstance(intents, int) or isinstance(intents, bool) or not 0 <= intents <= ALL_INTENTS:
            await self._server_close(conn, 4013, "Invalid intent(s).")
            return False
        flags = int(self.fake.application["flags"])
        content_allowed = bool(flags & ((1 << 18) | (1 << 19)))
        if intents & (GUILD_MEMBERS | GUILD_PRESENCES) or (intents & MESSAGE_CONTENT and not content_allowed):
            await self._server_close(conn, 4014, "Disallowed intent(s).")
            return False
        with self.fake.lock:
            self.identifies += 1
            session = GatewaySession(secrets.token_hex(16), intents)
            self.sessions[session.id] = session
            session.conn, conn.session = conn, session
            self._send_event(session, "READY", {
                "v": 10, "user": self.fake.bot, "guilds": [{"id": self.fake.guild_id, "unavailable": True}],
                "session_id": session.id, "resume_gateway_url": self.resume_url, "private_channels": [],
                "application": {"id": self.fake.application["id"], "flags": flags},
            })
            if intents & GUILDS:
                self._send_event(session, "GUILD_CREATE", self._guild_payload())
        self.fake.changed()
        return True

    def _guild_payload(self) -> dict[str, Any]:
        channels = [dict(c) for c in self.fake.channels.values() if c.get("type") not in (10, 11, 12)]
        threads = [dict(c) for c in self.fake.channels.values()
                   if c.get("type") in (10, 11, 12) and not c["thread_metadata"]["archived"]]
        return {"id": self.fake.guild_id, "name": "Support HQ", "unavailable": False, "member_count": 2,
                "owner_id": self.fake.owner["id"], "roles": list(self.fake.roles.values()), "channels": channels,
                "threads": threads, "members": [self.fake.members[self.fake.bot["id"]]], "large": False,
                "joined_at": "2030-01-01T00:00:00.000+00:00"}

    async def _resume(self, conn: Connection, data: dict[str, Any]) -> bool:
        if data.get("token") != self.fake.token:
            await self._server_close(conn, 4004, "Authentication failed.")
            return False
        with self.fake.lock:
            session = self.sessions.get(str(data.get("session_id")))
            if session is not None and session.disconnected_at is not None \
                    and time.monotonic() - session.disconnected_at > self.session_ttl:
                self.sessions.pop(session.id, None)
                session = None
            seq = data.get("seq")
            if session is None:
                conn.queue.put_nowait({"op": 9, "d": False, "s": None, "t": None})
                return True
            if not isinstance(seq, int) or seq > session.seq:
                bad = True
            else:
                bad = False
                old = session.conn
                if old is not None and old is not conn and not old.closed:
                    self._close_later(old, 4000, "Resumed elsewhere")
                session.conn, conn.session = conn, session
                session.disconnected_at = None
                self.resumes.append(urlsplit(conn.path).path)
                for frame in session.events:
                    if frame["s"] > seq:
                        conn.queue.put_nowait(frame)
                self._send_event(session, "RESUMED", {})
        if bad:
            await self._server_close(conn, 4007, "Invalid seq.")
            return False
        self.fake.changed()
        return True

    async def _server_close(self, conn: Connection, code: int, reason: str) -> None:
        with self.fake.lock:
            self.server_close_codes.append(code)
        await conn.ws.close(code, reason)

    async def _closed(self, conn: Connection, writer: asyncio.Task[None]) -> None:
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer
        with contextlib.suppress(Exception):
            await asyncio.wait_for(conn.ws.wait_closed(), 2)
        code = conn.ws.close_code
        with self.fake.lock:
            conn.closed = True
            self.client_close_codes.append(code)
            session = conn.session
            if session is not None and session.conn is conn:
                session.conn = None
                session.disconnected_at = time.monotonic()
                if code in (1000, 1001):
                    self.sessions.pop(session.id, None)  # a clean close ends the session
        self.fake.changed()
