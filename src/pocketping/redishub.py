"""The hub on Redis pub/sub, for several nodes on one database (``POCKETPING_REDIS_URL``).

Each node holds one subscription (to ``<prefix>events``) and routes what arrives to its own
sockets and workers, like ``LocalHub`` does for what is published in the process. Events
published here reach local listeners at once and the other nodes through Redis.

Pub/sub is fast but not complete: a node that was away (a restart, a Redis blip) misses
messages. Timeline events therefore carry the session ``seq``; per session the hub hands
listeners each seq once and in order, and when it sees a gap (a seq further on than the next
one), or after it reconnected, it reads what is missing from the database (``catch_up``)
before going on. The database stays the source of truth; Redis only makes it fast.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from pocketping.clock import Clock
from pocketping.hub import Event, LocalHub
from pocketping.ratelimit import RateLimiter

log = logging.getLogger(__name__)

# Events that add an item to a session's timeline, and where their seq is.
SEQ_EVENTS: dict[str, str] = {"message.created": "message", "notice.created": "message",
                              "event.triggered": "event", "event.emitted": "event"}

PUBLISH_BATCH = 500

# (session_id, after_seq, up_to_seq or None for "everything") -> the timeline events, in seq order.
CatchUp = Callable[[str, int, int | None], Awaitable[list[Event]]]


def event_seq(event: Event) -> int | None:
    key = SEQ_EVENTS.get(event.type)
    if key is None or event.session_id is None:
        return None
    item = event.data.get(key)
    seq = item.get("seq") if isinstance(item, dict) else None
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else None


def encode(event: Event, node_id: str) -> bytes:
    return orjson.dumps({"n": node_id, "t": event.type, "p": event.project_id, "s": event.session_id,
                         "d": event.data, "w": event.widget_frame, "o": event.origin, "b": event.broadcast})


def decode(raw: bytes | str) -> tuple[str, Event]:
    body = orjson.loads(raw)
    return str(body["n"]), Event(body["t"], body["p"], body.get("s"), data=body.get("d") or {},
                                 widget_frame=body.get("w"), origin=body.get("o"), broadcast=bool(body.get("b")))


def new_node_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{os.urandom(3).hex()}"


class _SessionOrder:
    """What listeners of one session have been given: the last seq, and events held while a
    catch-up from the database is under way."""

    __slots__ = ("held", "last")

    def __init__(self, last: int) -> None:
        self.last = last
        self.held: list[Event] | None = None


class RedisHub(LocalHub):
    """``Hub`` over Redis pub/sub; start it inside the event loop that will use it."""

    def __init__(self, url: str, *, prefix: str = "pocketping:", node_id: str | None = None,
                 catch_up: CatchUp | None = None, remember_sessions: int = 100_000,
                 queue_limit: int = 100_000) -> None:
        super().__init__()
        self.url = url
        self.prefix = prefix
        self.channel = f"{prefix}events"
        self.node_id = node_id or new_node_id()
        self.catch_up = catch_up
        self.remember_sessions = remember_sessions
        self._order: OrderedDict[str, _SessionOrder] = OrderedDict()
        self._outgoing: asyncio.Queue[bytes] | None = None
        self._queue_limit = queue_limit
        self._tasks: list[asyncio.Task[None]] = []
        self._client: Any = None
        self._up: asyncio.Event | None = None
        self._catching: set[asyncio.Task[None]] = set()
        self.reconnects = 0
        self.dropped = 0
        self._unsent: list[bytes] = []

    # --- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        import redis.asyncio as aioredis

        self._client = aioredis.Redis.from_url(self.url, socket_connect_timeout=3, socket_timeout=None,
                                               health_check_interval=5)
        self._up = asyncio.Event()
        self._outgoing = asyncio.Queue(self._queue_limit)
        subscribed = asyncio.Event()
        self._tasks = [asyncio.create_task(self._listen(subscribed), name="redis-hub-listen"),
                       asyncio.create_task(self._send(), name="redis-hub-send")]
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await subscribed.wait()

    async def stop(self) -> None:
        for task in [*self._tasks, *self._catching]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._catching, return_exceptions=True)
        self._tasks.clear()
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.aclose()
            self._client = None

    async def flush(self) -> None:
        """For a process that never started the hub (the CLI): tell the running nodes of the
        configuration changes it made, at once (they also poll the database)."""
        if not self._unsent or self._client is not None:
            return
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(self.url, socket_connect_timeout=2, socket_timeout=2)
        try:
            await client.publish(self.channel, self._unsent[-1])
            self._unsent.clear()
        except Exception as exc:
            log.warning("could not tell the running nodes through Redis (%s); they will see it within "
                        "POCKETPING_CONFIG_POLL_SECONDS", exc)
        finally:
            with contextlib.suppress(Exception):
                await client.aclose()

    async def ping(self) -> None:
        """Raises unless Redis answers (for /readyz)."""
        if self._client is None:
            raise ConnectionError("the Redis hub is not started")
        async with asyncio.timeout(2):
            await self._client.ping()
        if self._up is None or not self._up.is_set():
            raise ConnectionError("not subscribed to Redis")

    @property
    def client(self) -> Any:
        """The Redis client (shared state such as rate limits uses it too)."""
        return self._client

    # --- publishing -----------------------------------------------------------------------
    def publish(self, event: Event) -> None:
        self._route(event)
        if self._outgoing is None:  # not started (a CLI command): ``flush`` sends what matters
            if event.type == "config.changed" and len(self._unsent) < 100:
                self._unsent.append(encode(event, self.node_id))
            return
        try:
            self._outgoing.put_nowait(encode(event, self.node_id))
        except asyncio.QueueFull:  # Redis is away for long: the others catch up from the database
            self.dropped += 1

    async def _send(self) -> None:
        assert self._outgoing is not None and self._up is not None
        while True:
            batch = [await self._outgoing.get()]
            while not self._outgoing.empty() and len(batch) < PUBLISH_BATCH:
                batch.append(self._outgoing.get_nowait())
            delay = 0.1
            while True:
                await self._up.wait()  # the subscription is up: Redis is back
                try:
                    # What queued up meanwhile goes in one round trip, in order.
                    async with self._client.pipeline(transaction=False) as pipe:
                        for data in batch:
                            pipe.publish(self.channel, data)
                        await pipe.execute()
                    break
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("publishing to Redis failed (%s); retrying", exc)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 2.0)

    # --- receiving ------------------------------------------------------------------------
    async def _listen(self, subscribed: asyncio.Event) -> None:
        assert self._up is not None
        delay = 0.1
        first = True
        while True:
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self._up.set()
                subscribed.set()
                if not first:
                    self.reconnects += 1
                    log.warning("reconnected to Redis; catching up from the database")
                    self._catch_up_all()
                first = False
                delay = 0.1
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    try:
                        origin_node, event = decode(message["data"])
                    except Exception:
                        log.warning("ignoring an undecodable hub message")
                        continue
                    if origin_node != self.node_id:
                        self._route(event)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._up.is_set():
                    log.warning("lost the Redis subscription (%s); reconnecting", exc)
                self._up.clear()
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    # --- once and in order, per session -------------------------------------------------------
    def _route(self, event: Event) -> None:
        seq = event_seq(event)
        if seq is None:
            super().publish(event)
            return
        assert event.session_id is not None
        order = self._order.get(event.session_id)
        if order is None:
            self._remember(event.session_id, _SessionOrder(seq))
            super().publish(event)
            return
        self._order.move_to_end(event.session_id)
        if order.held is not None:
            order.held.append(event)
        elif seq <= order.last:
            return  # already given (from the database, or by this node)
        elif seq == order.last + 1 or self.catch_up is None or not self._watched(event):
            order.last = seq
            super().publish(event)
        else:
            order.held = [event]
            self._start_catch_up(event.session_id, order, seq)

    def _watched(self, event: Event) -> bool:
        """Someone here shows this session's timeline (a widget, an inbox): worth a catch-up."""
        return event.session_id in self._sessions or event.project_id in self._projects

    def _remember(self, session_id: str, order: _SessionOrder) -> None:
        self._order[session_id] = order
        while len(self._order) > self.remember_sessions:
            self._order.popitem(last=False)

    def _start_catch_up(self, session_id: str, order: _SessionOrder, upto: int | None) -> None:
        task = asyncio.get_running_loop().create_task(self._fill(session_id, order, upto))
        self._catching.add(task)
        task.add_done_callback(self._catching.discard)

    def _catch_up_all(self) -> None:
        if self.catch_up is None:
            return
        for session_id, order in list(self._order.items()):
            if order.held is None and session_id in self._sessions:
                order.held = []
                self._start_catch_up(session_id, order, None)

    async def _fill(self, session_id: str, order: _SessionOrder, upto: int | None) -> None:
        assert self.catch_up is not None
        missing: list[Event] = []
        for attempt in range(5):
            try:
                missing = await self.catch_up(session_id, order.last, upto)
                break
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("catching up session %s from the database failed", session_id)
                await asyncio.sleep(0.2 * (attempt + 1))
        held, order.held = order.held or [], None
        for event in sorted([*missing, *held], key=lambda e: event_seq(e) or 0):
            seq = event_seq(event) or 0
            if seq > order.last:
                order.last = seq
                super().publish(event)


class SharedRateLimiter(RateLimiter):
    """``per_minute`` events per key counted across every node in Redis (one counter per key
    and minute, ``take``); while Redis is away, the node's own bucket decides (``hit``)."""

    def __init__(self, hub: RedisHub, name: str, per_minute: int, clock: Clock, max_keys: int = 100_000) -> None:
        super().__init__(per_minute, clock, max_keys=max_keys)
        self.hub = hub
        self.name = name

    async def take(self, key: str) -> float | None:
        client = self.hub.client
        if self.per_minute <= 0 or client is None or self.hub._up is None or not self.hub._up.is_set():
            return self.hit(key)
        now = self.clock.now().timestamp()
        minute = int(now // 60)
        name = f"{self.hub.prefix}rate:{self.name}:{minute}:{key}"
        try:
            async with asyncio.timeout(1.0):
                async with client.pipeline(transaction=True) as pipe:
                    pipe.incr(name)
                    pipe.expire(name, 120)
                    total, _ = await pipe.execute()
        except Exception:
            return self.hit(key)
        if int(total) > self.per_minute:
            return max(0.001, 60.0 - (now % 60.0))
        return None
