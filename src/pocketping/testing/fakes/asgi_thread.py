"""Run a small ASGI app (a fake platform) on a free local port, in a thread of its own."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import uvicorn

from pocketping.testing.server import free_port


class AppThread:
    def __init__(self, app: Any, *, on_stop: Callable[[], None] | None = None) -> None:
        self.app = app
        self.port = free_port()
        self.loop: asyncio.AbstractEventLoop | None = None
        self._on_stop = on_stop
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> AppThread:
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off",
                                interface="asgi3", loop="asyncio", timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name=f"fake-{self.port}", daemon=True)
        self._thread.start()
        if not self._ready.wait(15):
            raise RuntimeError("the fake server did not start")
        return self

    def _run(self) -> None:
        assert self._server is not None
        loop = asyncio.new_event_loop()
        self.loop = loop
        asyncio.set_event_loop(loop)
        server = self._server

        async def serve() -> None:
            task = asyncio.create_task(server.serve())
            while not server.started and not task.done():  # noqa: ASYNC110 (uvicorn exposes no event)
                await asyncio.sleep(0.005)
            self._ready.set()
            await task

        try:
            loop.run_until_complete(serve())
        finally:
            self._ready.set()
            loop.close()

    def stop(self) -> None:
        if self._on_stop is not None and self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._on_stop)
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
