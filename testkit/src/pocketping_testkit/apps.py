"""Run any ASGI or WSGI app on a free loopback port in a thread (webhook receivers in tests)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import uvicorn

from pocketping_testkit.server import free_port


class AsgiThread:
    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.app = app
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                     lifespan="off", loop="asyncio"))
        self._thread = threading.Thread(target=self._run, name=f"asgi-{self.port}", daemon=True)
        self._started = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        async def serve() -> None:
            task = asyncio.create_task(self._server.serve())
            while not self._server.started and not task.done():  # noqa: ASYNC110 - uvicorn has no started event
                await asyncio.sleep(0.01)
            self._started.set()
            await task

        try:
            asyncio.run(serve())
        finally:
            self._started.set()

    def start(self) -> AsgiThread:
        self._thread.start()
        if not self._started.wait(20):
            raise RuntimeError("the ASGI app did not start")
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class WsgiThread:
    def __init__(self, app: Any) -> None:
        self._server: WSGIServer = make_server("127.0.0.1", 0, app, handler_class=_QuietHandler)
        self.port = int(self._server.server_port)
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"wsgi-{self.port}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> WsgiThread:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)
