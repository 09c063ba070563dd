"""A minimal widget-protocol client over a real WebSocket (tests and benchmarks)."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import orjson
import websockets
from websockets.asyncio.client import ClientConnection

_ids = itertools.count(1)


class WidgetClient:
    def __init__(self, ws: ClientConnection, welcome: dict[str, Any]) -> None:
        self.ws = ws
        self.welcome = welcome
        self.pending: list[dict[str, Any]] = []

    @classmethod
    async def connect(cls, url: str, public_key: str, *, token: str | None = None, last_seq: int | None = None,
                      origin: str | None = None, metadata: dict[str, Any] | None = None,
                      user_agent: str | None = None, headers: dict[str, str] | None = None) -> WidgetClient:
        extra = dict(headers or {})
        if user_agent:
            extra["User-Agent"] = user_agent
        ws = await websockets.connect(url, origin=origin, additional_headers=extra, compression=None,  # type: ignore[arg-type]
                                      open_timeout=10, max_size=2**22)
        hello: dict[str, Any] = {"type": "hello", "publicKey": public_key, "metadata": metadata or {}}
        if token is not None:
            hello["token"] = token
        if last_seq is not None:
            hello["lastSeq"] = last_seq
        await ws.send(orjson.dumps(hello).decode())
        welcome = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
        if welcome.get("type") != "welcome":
            await ws.close()
            raise ConnectionRefusedError(welcome)
        return cls(ws, welcome)

    @property
    def token(self) -> str:
        return str(self.welcome["token"])

    @property
    def session_id(self) -> str:
        return str(self.welcome["sessionId"])

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send(orjson.dumps(frame).decode())

    async def recv(self, timeout: float = 10.0) -> dict[str, Any]:
        if self.pending:
            return self.pending.pop(0)
        frame: dict[str, Any] = orjson.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        return frame

    async def expect(self, type_: str, timeout: float = 10.0, **match: Any) -> dict[str, Any]:
        """The next frame of this type (and matching fields); frames skipped on the way are kept."""
        skipped: list[dict[str, Any]] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            for i, held in enumerate(self.pending):
                if _matches(held, type_, match):
                    return self.pending.pop(i)
            while True:
                left = deadline - loop.time()
                if left <= 0:
                    raise TimeoutError(f"no {type_!r} frame matching {match} (saw {skipped})")
                frame: dict[str, Any] = orjson.loads(await asyncio.wait_for(self.ws.recv(), left))
                if _matches(frame, type_, match):
                    return frame
                skipped.append(frame)
        finally:
            self.pending.extend(skipped)

    async def synced(self) -> list[dict[str, Any]]:
        """Frames replayed before ``synced`` (the connection's history)."""
        frames: list[dict[str, Any]] = []
        while True:
            frame = await self.recv()
            if frame["type"] == "synced":
                return frames
            frames.append(frame)

    async def say(self, text: str, client_id: str | None = None) -> dict[str, Any]:
        """Send a message and wait for its ack."""
        client_id = client_id or f"c{next(_ids)}"
        await self.send({"type": "message", "text": text, "clientId": client_id})
        return await self.expect("ack", clientId=client_id)

    async def close(self) -> None:
        await self.ws.close()


def _matches(frame: dict[str, Any], type_: str, match: dict[str, Any]) -> bool:
    if frame.get("type") != type_:
        return False
    inner = frame.get("message")  # a message frame's message (an error frame's is its text)
    inner = inner if isinstance(inner, dict) else {}
    for key, value in match.items():
        if frame.get(key) != value and inner.get(key) != value:
            return False
    return True
