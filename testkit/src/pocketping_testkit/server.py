"""A real uvicorn serving the real app on a free port, in a thread of its own.

Tests talk to it over real sockets (WebSocket, HTTP). ``call`` runs a coroutine on the
server's own event loop, for the few things a test must do from inside (create a project
the way the CLI would, read a raw row).
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

import uvicorn

from pocketping.clock import Clock
from pocketping.config import Settings
from pocketping.services import Services, build_services

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_on_new_loop(server: uvicorn.Server, started: threading.Event,
                      on_loop: Callable[[asyncio.AbstractEventLoop], None]) -> None:
    """Serve in this thread on an event loop of its own until the server exits; ``started``
    is set once it listens (or failed). Afterwards, as ``asyncio.run`` does, what shutdown
    left running (long polls of clients gone, closing handlers) ends before the loop closes."""
    loop = asyncio.new_event_loop()
    on_loop(loop)
    asyncio.set_event_loop(loop)

    async def serve() -> None:
        task = asyncio.create_task(server.serve())
        while not server.started and not task.done():  # noqa: ASYNC110  (uvicorn offers no event)
            await asyncio.sleep(0.01)
        started.set()
        await task

    try:
        loop.run_until_complete(serve())
    finally:
        started.set()
        left = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in left:
            task.cancel()
        if left:
            loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


class ServerThread:
    def __init__(self, settings: Settings, *, clock: Clock | None = None, port: int | None = None) -> None:
        from pocketping.server.app import create_app

        self.port = port or free_port()
        self.settings = settings.model_copy(update={"port": self.port})
        self.services: Services = build_services(self.settings, clock=clock)
        self.app = create_app(self.settings, services=self.services)
        self.loop: asyncio.AbstractEventLoop | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def start(self, timeout: float = 30.0) -> ServerThread:
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on",
                                ws_per_message_deflate=False, ws_max_size=1 << 20, loop="asyncio",
                                timeout_graceful_shutdown=2)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name=f"uvicorn-{self.port}", daemon=True)
        self._thread.start()
        if not self._started.wait(timeout):
            raise RuntimeError("server did not start in time")
        if self._error is not None:
            raise RuntimeError("server failed to start") from self._error
        return self

    def _run(self) -> None:
        assert self._server is not None
        try:
            serve_on_new_loop(self._server, self._started, self._set_loop)
        except BaseException as exc:  # surfaced by start()
            self._error = exc

    def _set_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        assert self.loop is not None
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout)

    async def acall(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        assert self.loop is not None
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return await asyncio.wait_for(asyncio.wrap_future(future), timeout)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(15)


def make_settings(database_url: str, data_dir: str, **overrides: Any) -> Settings:
    from pocketping.crypto import generate_key

    values: dict[str, Any] = {
        "database_url": database_url,
        "data_dir": data_dir,
        "encryption_key": generate_key(),
        "rate_limit_messages_per_minute": 0,
        "rate_limit_connections_per_minute": 0,
        "telegram_api_url": "http://127.0.0.1:9/telegram",
        "slack_api_url": "http://127.0.0.1:9/slack/",
        "discord_api_url": "http://127.0.0.1:9/discord",
    }
    values.update(overrides)
    return Settings(**values)


__all__ = ["ServerThread", "build_services", "free_port", "make_settings"]
