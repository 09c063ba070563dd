"""Runs a fake platform (an ASGI app) on a real uvicorn, on a free port, in its own thread,
so it keeps answering while the test's own event loop is busy or blocked."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

import uvicorn

from pocketping.testing.server import free_port

T = TypeVar("T")


class FakeServer:
    def __init__(self, app: Any, name: str = "fake") -> None:
        self.app = app
        self.name = name
        self.port = free_port()
        self.loop: asyncio.AbstractEventLoop | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> FakeServer:
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="critical", lifespan="off",
                                loop="asyncio", ws_per_message_deflate=False, timeout_graceful_shutdown=1,
                                timeout_keep_alive=30)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name=f"{self.name}-{self.port}", daemon=True)
        self._thread.start()
        if not self._started.wait(timeout):
            raise RuntimeError(f"{self.name} did not start")
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self.loop = loop
        asyncio.set_event_loop(loop)

        async def serve() -> None:
            assert self._server is not None
            task = asyncio.create_task(self._server.serve())
            while not self._server.started and not task.done():  # noqa: ASYNC110  (uvicorn offers no event)
                await asyncio.sleep(0.01)
            self._started.set()
            await task

        try:
            loop.run_until_complete(serve())
            # Requests still waiting (long polls of clients gone) end here, quietly.
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        finally:
            self._started.set()
            loop.close()

    def soon(self, fn: Callable[[], Any]) -> None:
        """Run ``fn`` on the fake's own loop (from any thread)."""
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(fn)

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 20.0) -> T:
        assert self.loop is not None
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
