"""Runs a fake platform (an ASGI app) on a real uvicorn, on a free port, in its own thread,
so it keeps answering while the test's own event loop is busy or blocked."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

import uvicorn

from pocketping_testkit.server import free_port, serve_on_new_loop

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
        assert self._server is not None
        serve_on_new_loop(self._server, self._started, self._set_loop)

    def _set_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

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
