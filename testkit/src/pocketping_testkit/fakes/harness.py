"""What every fake platform server needs: its own event loop in a thread, HTTP servers on
free ports, and a way for tests to wait for a state change without sleeping.

A fake keeps its state under ``self.lock``; every mutation is followed by ``changed()``,
which wakes whoever is in ``wait_until`` (from any thread, any event loop).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

import uvicorn

from pocketping_testkit.uvicorn_thread import config, free_port, run_on_new_loop, start_serving

T = TypeVar("T")


class FakeHarness:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._http: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []
        self._stop: asyncio.Event | None = None

    # -- life cycle -----------------------------------------------------------------------------

    async def startup(self) -> None:
        """Start the fake's servers (runs on the fake's loop)."""

    async def shutdown(self) -> None:
        """Stop what ``startup`` started, before the HTTP servers go."""

    def start(self, timeout: float = 30.0) -> Any:
        self._thread = threading.Thread(target=self._run, name=type(self).__name__, daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError(f"{type(self).__name__} did not start in time")
        if self._error is not None:
            raise RuntimeError(f"{type(self).__name__} failed to start") from self._error
        return self

    def stop(self) -> None:
        if self.loop is not None and self._stop is not None and self.loop.is_running():
            self.loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(15)

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            run_on_new_loop(self._main, self._set_loop)
        finally:
            self._ready.set()

    def _set_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        try:
            await self.startup()
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        await self._stop.wait()
        await self.shutdown()
        for server, _ in self._http:
            server.should_exit = True
        await asyncio.gather(*(task for _, task in self._http), return_exceptions=True)

    async def serve_http(self, app: Any, **options: Any) -> int:
        """Serve an ASGI app on a free port of 127.0.0.1; returns the port. ``options`` are
        uvicorn's own settings, for a fake that needs other ones."""
        port = free_port()
        settings: dict[str, Any] = {"ws_per_message_deflate": False, "timeout_graceful_shutdown": 1}
        server = uvicorn.Server(config(app, port, **(settings | options)))
        task = await start_serving(server)
        self._http.append((server, task))
        return port

    # -- running things on the fake's loop ---------------------------------------------------------

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 15.0) -> T:
        """Run a coroutine on the fake's loop from another thread and wait for its result."""
        assert self.loop is not None, "start the fake first"
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout)

    def soon(self, fn: Callable[[], None]) -> None:
        """Run a plain function on the fake's loop (fire and forget), in call order."""
        assert self.loop is not None, "start the fake first"
        self.loop.call_soon_threadsafe(fn)

    # -- waiting for state ---------------------------------------------------------------------

    def changed(self) -> None:
        with self.lock:
            waiters, self._waiters = self._waiters, []
        for loop, fut in waiters:
            if not loop.is_closed():
                loop.call_soon_threadsafe(_resolve, fut)

    async def wait_until(self, predicate: Callable[[], T | None], timeout: float = 10.0, what: str = "") -> T:
        """Wait until ``predicate()`` (evaluated under the fake's lock) returns something truthy."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            fut: asyncio.Future[None] = loop.create_future()
            with self.lock:
                value = predicate()
                if value:
                    return value
                self._waiters.append((loop, fut))
            left = deadline - loop.time()
            if left <= 0:
                raise TimeoutError(f"{type(self).__name__}: timed out waiting for {what or predicate}")
            try:
                await asyncio.wait_for(fut, left)
            except TimeoutError:
                with self.lock:
                    value = predicate()
                if value:
                    return value
                raise TimeoutError(f"{type(self).__name__}: timed out waiting for {what or predicate}") from None


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
