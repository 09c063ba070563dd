"""Load-generator clients: light widget connections and echo connections over `websockets`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import orjson
import websockets
from websockets.asyncio.client import ClientConnection

OPEN_TIMEOUT = 30


async def connect_widget(url: str, public_key: str,
                         token: str | None = None) -> tuple[ClientConnection, dict[str, Any]]:
    ws = await websockets.connect(url, compression=None, open_timeout=OPEN_TIMEOUT, max_queue=None,
                                  ping_interval=None)
    hello: dict[str, Any] = {"type": "hello", "publicKey": public_key}
    if token:
        hello["token"] = token
    await ws.send(orjson.dumps(hello).decode())
    welcome = orjson.loads(await ws.recv())
    if welcome.get("type") != "welcome":
        raise RuntimeError(f"refused: {welcome}")
    while orjson.loads(await ws.recv()).get("type") != "synced":
        pass
    return ws, welcome


async def open_many(factory: Callable[[], Any], n: int, concurrency: int = 100) -> tuple[list[Any], float]:
    """Open n connections with bounded concurrency; returns them and the connections per second."""
    sem = asyncio.Semaphore(concurrency)

    async def one() -> Any:
        async with sem:
            return await factory()

    start = time.monotonic()
    results = await asyncio.gather(*(one() for _ in range(n)))
    return list(results), n / (time.monotonic() - start)


class Visitor:
    """A widget connection that sends messages and timestamps acks and incoming messages."""

    def __init__(self, ws: ClientConnection, welcome: dict[str, Any], tag: str) -> None:
        self.ws = ws
        self.welcome = welcome
        self.tag = tag
        self.sent: dict[str, float] = {}
        self.acks: dict[str, float] = {}
        self.duplicate_acks = 0
        self.errors: list[dict[str, Any]] = []
        self.incoming: dict[str, float] = {}  # text of operator messages -> arrival time
        self._waiters: dict[str, asyncio.Future[None]] = {}
        self._reader = asyncio.create_task(self._read())
        self._n = 0

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                frame = orjson.loads(raw)
                kind = frame.get("type")
                now = time.monotonic()
                if kind == "ack":
                    cid = frame["clientId"]
                    if cid in self.acks:
                        self.duplicate_acks += 1
                    else:
                        self.acks[cid] = now
                    waiter = self._waiters.pop(cid, None)
                    if waiter is not None and not waiter.done():
                        waiter.set_result(None)
                elif kind == "message" and frame["message"]["sender"] != "visitor":
                    self.incoming.setdefault(frame["message"]["text"], now)
                elif kind == "error":
                    self.errors.append(frame)
                    waiter = self._waiters.pop(frame.get("clientId", ""), None)
                    if waiter is not None and not waiter.done():
                        waiter.set_result(None)
        except websockets.ConnectionClosed:
            pass

    def reset(self) -> None:
        """Forget what was measured (the next run on the same connection starts from zero)."""
        self.sent.clear()
        self.acks.clear()
        self.duplicate_acks = 0
        self.errors.clear()

    def next_id(self) -> str:
        self._n += 1
        return f"{self.tag}-{self._n}"

    async def send(self, text: str | None = None, wait: bool = False) -> str:
        cid = self.next_id()
        if wait:
            self._waiters[cid] = asyncio.get_running_loop().create_future()
        self.sent[cid] = time.monotonic()
        await self.ws.send(orjson.dumps({"type": "message", "text": text or f"bench {cid}", "clientId": cid}).decode())
        if wait:
            await asyncio.wait_for(self._waiters[cid], 30)
        return cid

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()


class EchoClient:
    """The same closed loop against the bare echo app."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def round_trip(self, payload: str) -> None:
        await self.ws.send(payload)
        await self.ws.recv()
