"""A tiny website for knowledge-base tests: pages, redirects, slow and oversized answers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from pocketping.testing.fakes.asgi_thread import AppThread


@dataclass
class Page:
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    location: str | None = None  # for redirects
    trickle: bool = False  # send a byte, then nothing more until the site stops


@dataclass
class FakeSite:
    pages: dict[str, Page] = field(default_factory=dict)
    hits: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop: asyncio.Event | None = None
        self._thread = AppThread(self._app, on_stop=self._stopping)

    def start(self) -> FakeSite:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._thread.stop()

    def url(self, path: str) -> str:
        return f"{self._thread.url}{path}"

    def page(self, path: str, body: str | bytes, content_type: str = "text/html; charset=utf-8") -> str:
        self.pages[path] = Page(body.encode() if isinstance(body, str) else body, content_type)
        return self.url(path)

    def redirect(self, path: str, location: str, status: int = 302) -> str:
        self.pages[path] = Page(b"", status=status, location=location)
        return self.url(path)

    def _stopping(self) -> None:
        if self._stop is not None:
            self._stop.set()

    async def _app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope)
        self.hits.append(request.url.path)
        page = self.pages.get(request.url.path)
        if page is None:
            response: Response = Response(b"not found", status_code=404, media_type="text/plain")
        elif page.location is not None:
            response = Response(b"", status_code=page.status, headers={"Location": page.location})
        elif page.trickle:
            response = StreamingResponse(self._trickle(page.body), media_type=page.content_type)
        else:
            response = Response(page.body, status_code=page.status, media_type=page.content_type)
        await response(scope, receive, send)

    async def _trickle(self, body: bytes) -> AsyncIterator[bytes]:
        if self._stop is None:
            self._stop = asyncio.Event()
        yield body[:1]
        await self._stop.wait()
        yield body[1:]
