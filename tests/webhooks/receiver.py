"""A real webhook receiver on loopback, shared by the webhook and browser tests: a Starlette
app using the SDK's receiver, which can also be told to be "down" (answer 503) and records
every request it gets."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from pocketping_sdk import PocketPing
from pocketping_sdk.starlette import webhook_endpoint
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pocketping_testkit.apps import AsgiThread


@dataclass
class Receiver:
    """Every request as (event id, type, attempt header, answered status), in arrival order."""

    url: str
    requests: list[tuple[str, str, str, int]] = field(default_factory=list)
    handled: queue.Queue[Any] = field(default_factory=queue.Queue)
    down: bool = False
    pp: PocketPing | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Event = field(default_factory=threading.Event)

    async def next_handled(self, timeout: float = 15.0) -> Any:
        return await asyncio.to_thread(self.handled.get, True, timeout)

    def delivered(self) -> list[tuple[str, str]]:
        with self.lock:
            return [(event_id, type_) for event_id, type_, _, status in self.requests if status == 200]


@contextlib.contextmanager
def running_receiver() -> Iterator[Receiver]:
    state = Receiver(url="")
    inner: dict[str, Any] = {}

    async def hook(request: Request) -> Response:
        body = await request.body()
        try:
            event = orjson.loads(body)
            event_id, type_ = str(event.get("id")), str(event.get("type"))
        except orjson.JSONDecodeError:
            event_id, type_ = "?", "?"
        attempt = request.headers.get("pocketping-delivery-attempt", "")
        if state.down:
            with state.lock:
                state.requests.append((event_id, type_, attempt, 503))
            state.arrived.set()
            return JSONResponse({"down": True}, status_code=503)
        if state.pp is None:
            raise RuntimeError("set receiver.pp first")
        if "endpoint" not in inner:
            inner["endpoint"] = webhook_endpoint(state.pp)
        response = await inner["endpoint"](request)
        with state.lock:
            state.requests.append((event_id, type_, attempt, response.status_code))
        state.arrived.set()
        return response

    app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    thread = AsgiThread(app).start()
    state.url = f"{thread.url}/hook"
    try:
        yield state
    finally:
        thread.stop()
