"""The one way the test kit runs uvicorn: a real server on a free port of 127.0.0.1, on an
event loop of its own in a daemon thread, so it keeps answering while a test's own loop is
busy or blocked.

``UvicornThread`` runs one app (the server under test, a webhook receiver, a fake with a
single endpoint); a fake that serves several apps on one loop (``fakes.harness``) uses the
pieces it is made of: ``run_on_new_loop`` for the thread and ``start_serving`` per app.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any, Self, TypeVar

import uvicorn

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def config(app: Any, port: int, **options: Any) -> uvicorn.Config:
    """uvicorn's settings for a test server: 127.0.0.1, the plain asyncio loop, no lifespan
    and warnings only unless ``options`` (``uvicorn.Config``'s own keywords) say otherwise."""
    values: dict[str, Any] = {"host": "127.0.0.1", "port": port, "loop": "asyncio", "lifespan": "off",
                              "log_level": "warning"}
    return uvicorn.Config(app, **(values | options))


async def start_serving(server: uvicorn.Server) -> asyncio.Task[None]:
    """Start ``server`` on the running loop; returns its task once it listens. Raises what it
    failed with, or RuntimeError if it stopped without listening (a failed lifespan start-up)."""
    task = asyncio.create_task(server.serve())
    while not server.started:  # uvicorn offers no event to await
        if task.done():
            task.result()
            raise RuntimeError("uvicorn stopped before it listened")
        await asyncio.sleep(0.005)
    return task


def run_on_new_loop(main: Callable[[], Coroutine[Any, Any, None]],
                    on_loop: Callable[[asyncio.AbstractEventLoop], None]) -> None:
    """Run ``main()`` in this thread on an event loop of its own (handed to ``on_loop`` first).
    Afterwards, as ``asyncio.run`` does, what was left running (long polls of clients gone,
    closing handlers) is cancelled and awaited, and async generators closed, before the loop
    closes."""
    loop = asyncio.new_event_loop()
    on_loop(loop)
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(main())
    finally:
        left = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in left:
            task.cancel()
        if left:
            loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


class UvicornThread:
    """One ASGI app served by uvicorn in a thread of its own; ``options`` go to ``config``."""

    def __init__(self, app: Any, *, name: str = "uvicorn", port: int | None = None, **options: Any) -> None:
        self.app = app
        self.port = port or free_port()
        self.loop: asyncio.AbstractEventLoop | None = None
        self._name = f"{name}-{self.port}"
        self._options = options
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> Self:
        """Serve, and return once the server listens (raises if it did not in ``timeout`` seconds)."""
        self._server = uvicorn.Server(config(self.app, self.port, **self._options))
        self._started.clear()
        self._error = None
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()
        if not self._started.wait(timeout):
            raise RuntimeError(f"{self._name} did not start in time")
        if self._error is not None:
            raise RuntimeError(f"{self._name} failed to start") from self._error
        return self

    def _run(self) -> None:
        try:
            run_on_new_loop(self._serve, self._set_loop)
        except BaseException as exc:  # surfaced by start()
            self._error = exc
        finally:
            self._started.set()

    async def _serve(self) -> None:
        assert self._server is not None
        task = await start_serving(self._server)
        self._started.set()
        await task

    def _set_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run a coroutine on the server's loop from another thread and wait for its result."""
        assert self.loop is not None, "start the server first"
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout)

    async def acall(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """``call`` for a caller on an event loop of its own."""
        assert self.loop is not None, "start the server first"
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return await asyncio.wait_for(asyncio.wrap_future(future), timeout)

    def stop(self, timeout: float = 15.0) -> None:
        """Ask uvicorn to exit and wait up to ``timeout`` seconds for the thread to end."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
