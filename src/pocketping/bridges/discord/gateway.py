"""A Discord Gateway client that keeps one session alive and hands every dispatch on, in order.

It follows the documented life cycle: HELLO, then a first heartbeat after
``heartbeat_interval * jitter`` and one every interval after; IDENTIFY (or RESUME with the
session id and the last sequence on ``resume_gateway_url``); a heartbeat without ACK before
the next one means a zombie connection, closed with a non-1000 code and resumed; RECONNECT
(7) and INVALID_SESSION (9, resumable or not, the latter after a 1-5 s wait) are obeyed;
close codes decide between resuming, identifying again, and stopping (bad token, disallowed
intents), and reconnects back off exponentially with jitter.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake

log = logging.getLogger(__name__)

GUILDS = 1 << 0
GUILD_MESSAGES = 1 << 9
GUILD_MESSAGE_TYPING = 1 << 11
MESSAGE_CONTENT = 1 << 15
INTENTS = GUILDS | GUILD_MESSAGES | GUILD_MESSAGE_TYPING | MESSAGE_CONTENT

# Close codes after which the same session can be resumed, and those that need a new one.
NEW_SESSION_CODES = {4007, 4009}
BAD_CREDENTIALS = (
    "Discord rejected the bot token. Reset the token in the Developer Portal (your application -> Bot -> Reset "
    "Token) and give it to `pocketping bridge update PROJECT_ID BRIDGE_ID --bot-token`.")
FATAL_CODES = {
    4004: f"{BAD_CREDENTIALS} (close code 4004)",
    4010: "Discord says the shard is invalid (close code 4010).",
    4011: "Discord requires sharding for this bot (close code 4011).",
    4012: "Discord does not accept this Gateway version (close code 4012).",
    4013: "Discord says the intents are invalid (close code 4013).",
    4014: "The Message Content intent is not enabled for this bot (close code 4014). In the Developer "
          "Portal open your application -> Bot -> Privileged Gateway Intents, turn on Message Content "
          "Intent and save.",
}
FATAL_RETRY_SECONDS = 600.0

# (event name, data, sequence number): called for every dispatch, one at a time, in order.
Dispatch = Callable[[str, dict[str, Any], int | None], Awaitable[None]]
# (status, detail): "active" when a session is usable, "error" with a plain-words reason.
Status = Callable[[str, str | None], Awaitable[None]]


class _Reconnect(Exception):
    """End this connection; ``resume`` says whether the session can be resumed."""

    def __init__(self, resume: bool, reason: str) -> None:
        super().__init__(reason)
        self.resume = resume


class GatewayClient:
    def __init__(self, token: str, *, get_url: Callable[[], Awaitable[str]], on_dispatch: Dispatch,
                 on_status: Status | None = None, session: dict[str, Any] | None = None,
                 intents: int = INTENTS, name: str = "discord", invalid_session_delay: tuple[float, float] = (1.0, 5.0),
                 max_backoff: float = 60.0, open_timeout: float = 10.0) -> None:
        self.token = token
        self.intents = intents
        self.name = name
        self._get_url = get_url
        self._on_dispatch = on_dispatch
        self._on_status = on_status
        self.invalid_session_delay = invalid_session_delay
        self.max_backoff = max_backoff
        self.open_timeout = open_timeout
        # A session kept from before a restart is resumed, if Discord still has it.
        session = session or {}
        self.session_id: str | None = session.get("session_id")
        self.resume_url: str | None = session.get("resume_url")
        self.seq: int | None = session.get("seq")
        self.user_id: str | None = None
        self.problem: str | None = None  # why the Gateway is not connected, in plain words
        self.ready = asyncio.Event()
        self.failed = asyncio.Event()  # set when Discord refused us for good (token, intents)
        # Counters for tests, logs and `pocketping doctor`.
        self.identifies = 0
        self.resumes = 0
        self.zombies = 0
        self._url: str | None = None
        self._ws: ClientConnection | None = None
        self._acked = True
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        # (event, data, seq, session id): the session id tells a stale entry from a current one.
        self._queue: asyncio.Queue[tuple[str, dict[str, Any], int | None, str | None]] = asyncio.Queue()
        self._reports: set[asyncio.Task[None]] = set()
        self.handled_seq: int | None = self.seq  # the last dispatch fully handled
        self._worker: asyncio.Task[None] | None = None

    # -- life cycle -----------------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._worker = asyncio.create_task(self._deliver(), name=f"{self.name}-dispatch")
            self._task = asyncio.create_task(self._run(), name=f"{self.name}-gateway")

    def session(self) -> dict[str, Any] | None:
        """What a restart needs to resume: the session, and the last dispatch fully handled
        (a resume replays what came after it, so nothing received but unhandled is lost)."""
        if self.session_id is None or self.resume_url is None or self.handled_seq is None:
            return None
        return {"session_id": self.session_id, "resume_url": self.resume_url, "seq": self.handled_seq}

    async def stop(self) -> None:
        self._stopping = True
        if self._ws is not None:
            # Not 1000/1001: those end the session, and a restart should be able to resume it.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._ws.close(4000, "restarting"), 2)
        for task in (self._task, self._worker):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = self._worker = None
        self.ready.clear()

    # -- the connection loop -------------------------------------------------------------------------

    async def _run(self) -> None:
        failures = 0
        while not self._stopping:
            wait = 0.0
            try:
                established = await self._connect_once()
                failures = 0 if established else failures + 1
            except GatewayRefused as exc:
                self.problem = str(exc)
                self.failed.set()
                log.error("%s: %s", self.name, exc)
                self._status("error", self.problem)
                wait = FATAL_RETRY_SECONDS
                failures = 0
            except (OSError, InvalidHandshake, TimeoutError, ConnectionClosed) as exc:
                failures += 1
                self.problem = f"cannot connect to the Discord Gateway ({type(exc).__name__}: {exc})"
                log.warning("%s: %s", self.name, self.problem)
            except Exception as exc:  # the URL lookup (REST) failed, or Discord sent nonsense
                failures += 1
                self.problem = f"Discord Gateway error ({type(exc).__name__}: {exc})"
                log.warning("%s: %s", self.name, self.problem)
            self.ready.clear()
            if failures == 3:
                self._status("error", self.problem)
            if failures >= 2:
                self._url = None  # the cached URL may be stale: ask /gateway/bot again
            if failures:
                wait = max(wait, min(self.max_backoff, 0.5 * 2 ** (failures - 1)) * random.uniform(0.5, 1.0))
            if wait and not self._stopping:
                await asyncio.sleep(wait)

    async def _connect_once(self) -> bool:
        """One connection, from HELLO to its end. True if it got to READY or RESUMED."""
        resume = self.session_id is not None and self.seq is not None and self.resume_url is not None
        if resume:
            assert self.resume_url is not None
            base = self.resume_url
        else:
            if self._url is None:
                self._url = await self._get_url()
            base = self._url
        ws = await websockets.connect(_with_query(base), open_timeout=self.open_timeout, close_timeout=2,
                                      compression=None, max_size=None, ping_interval=None)
        self._ws = ws
        established = False
        heart: asyncio.Task[None] | None = None
        try:
            hello = json.loads(await asyncio.wait_for(ws.recv(), self.open_timeout))
            if hello.get("op") != 10:
                raise _Reconnect(resume, f"expected HELLO, got op {hello.get('op')}")
            interval = float(hello["d"]["heartbeat_interval"]) / 1000.0
            self._acked = True
            heart = asyncio.create_task(self._heartbeat(ws, interval), name=f"{self.name}-heartbeat")
            if resume:
                await self._send(ws, 6, {"token": self.token, "session_id": self.session_id, "seq": self.seq})
            else:
                properties = {"os": "linux", "browser": "pocketping", "device": "pocketping"}
                await self._send(ws, 2, {"token": self.token, "intents": self.intents, "properties": properties})
            async for raw in ws:
                if await self._handle(ws, json.loads(raw)):
                    established = True
            self._after_close(ws.close_code)
        except _Reconnect as exc:
            log.info("%s: reconnecting (%s)", self.name, exc)
            if not exc.resume:
                self._forget_session()
            await _close_quietly(ws, 4000 if exc.resume else 1000)
        except ConnectionClosed:
            self._after_close(ws.close_code)
        finally:
            if heart is not None:
                heart.cancel()
            self._ws = None
            self.ready.clear()
            if ws.close_code is None:
                ws.transport.abort()
        return established

    async def _handle(self, ws: ClientConnection, payload: dict[str, Any]) -> bool:
        """Handle one payload; True when the session became usable (READY or RESUMED)."""
        op = payload.get("op")
        if op == 0:
            if payload.get("s") is not None:
                self.seq = int(payload["s"])
            event, data = str(payload.get("t")), payload.get("d") or {}
            usable = False
            if event == "READY":
                self.session_id = data.get("session_id")
                self.resume_url = data.get("resume_gateway_url") or self._url
                self.user_id = (data.get("user") or {}).get("id")
                self.identifies += 1
                usable = True
            elif event == "RESUMED":
                self.resumes += 1
                usable = True
            if usable:
                self.problem = None
                self.failed.clear()
                self.ready.set()
                log.info("%s: gateway %s", self.name, "ready" if event == "READY" else "resumed")
                self._status("active", None)
            self._queue.put_nowait((event, data, self.seq, self.session_id))
            return usable
        if op == 1:
            await self._beat(ws)
        elif op == 7:
            raise _Reconnect(True, "Discord asked to reconnect")
        elif op == 9:
            if payload.get("d") is True:
                raise _Reconnect(True, "session invalidated, resumable")
            low, high = self.invalid_session_delay
            await asyncio.sleep(random.uniform(low, high))  # the documented 1-5 s before identifying again
            raise _Reconnect(False, "session invalidated")
        elif op == 11:
            self._acked = True
        return False

    def _after_close(self, code: int | None) -> None:
        if self._stopping:
            return
        if code in FATAL_CODES:
            self._forget_session()
            raise GatewayRefused(FATAL_CODES[code])
        if code in NEW_SESSION_CODES:
            self._forget_session()
        log.info("%s: gateway closed (code %s), reconnecting", self.name, code)

    def _forget_session(self) -> None:
        self.session_id = self.seq = self.resume_url = self.handled_seq = None

    # -- heartbeats ----------------------------------------------------------------------------------

    async def _heartbeat(self, ws: ClientConnection, interval: float) -> None:
        await asyncio.sleep(interval * random.random())
        while True:
            if not self._acked:
                # No ACK since the last beat: the connection is a zombie. Drop it without a 1000/1001
                # close (a close handshake would wait on a dead peer) so the session survives, and
                # resume on a fresh connection.
                self.zombies += 1
                log.warning("%s: no heartbeat ACK, reconnecting", self.name)
                ws.transport.abort()
                return
            await self._beat(ws)
            await asyncio.sleep(interval)

    async def _beat(self, ws: ClientConnection) -> None:
        self._acked = False
        with contextlib.suppress(ConnectionClosed):
            await self._send(ws, 1, self.seq)

    async def _send(self, ws: ClientConnection, op: int, data: Any) -> None:
        await ws.send(json.dumps({"op": op, "d": data}))

    # -- dispatches, one at a time, in order --------------------------------------------------------

    async def _deliver(self) -> None:
        while True:
            event, data, seq, session_id = await self._queue.get()
            try:
                await self._on_dispatch(event, data, seq)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s: handling %s failed", self.name, event)
            if session_id is not None and session_id == self.session_id:
                self.handled_seq = seq

    def _status(self, status: str, detail: str | None) -> None:
        """Report in the background: the reader must not wait on the database."""
        if self._on_status is None:
            return
        task = asyncio.create_task(self._report(self._on_status, status, detail))
        self._reports.add(task)
        task.add_done_callback(self._reports.discard)

    async def _report(self, report: Status, status: str, detail: str | None) -> None:
        try:
            await report(status, detail)
        except Exception:
            log.debug("%s: could not report the status", self.name, exc_info=True)


class GatewayRefused(Exception):
    """Discord will not let this bot connect until someone fixes something (the token, the
    intents): retried only every few minutes, and reported in plain words."""


async def probe(token: str, url: str, *, intents: int = INTENTS, timeout: float = 10.0) -> str | None:
    """Identify once, as the bridge does, then leave. None when Discord answers READY, else
    what went wrong in plain words (for ``pocketping doctor``)."""
    try:
        async with websockets.connect(_with_query(url), open_timeout=timeout, close_timeout=2, compression=None,
                                      max_size=None, ping_interval=None) as ws:
            hello = json.loads(await asyncio.wait_for(ws.recv(), timeout))
            if hello.get("op") != 10:
                return f"the Gateway did not say HELLO (op {hello.get('op')})"
            properties = {"os": "linux", "browser": "pocketping", "device": "pocketping"}
            await ws.send(json.dumps({"op": 2, "d": {"token": token, "intents": intents, "properties": properties}}))
            while True:
                payload = json.loads(await asyncio.wait_for(ws.recv(), timeout))
                if payload.get("op") == 0 and payload.get("t") == "READY":
                    await ws.close(1000)  # ends only this probe's session
                    return None
                if payload.get("op") == 9:
                    return "Discord refused a new Gateway session just now (too many at once); try again in a minute."
    except ConnectionClosed as exc:
        code = exc.rcvd.code if exc.rcvd is not None else None
        if code in FATAL_CODES:
            return FATAL_CODES[code]
        return f"Discord closed the Gateway connection (code {code})."
    except (OSError, InvalidHandshake, TimeoutError, ValueError) as exc:
        return f"cannot connect to the Discord Gateway at {url} ({type(exc).__name__}: {exc})"


def _with_query(url: str) -> str:
    """The Gateway URL with the API version and encoding, as the documentation asks."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", urlencode({"v": 10, "encoding": "json"}), ""))


async def _close_quietly(ws: ClientConnection, code: int) -> None:
    try:
        await asyncio.wait_for(ws.close(code), 2)
    except Exception:
        ws.transport.abort()
