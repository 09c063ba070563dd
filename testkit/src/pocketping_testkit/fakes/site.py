"""A tiny website for knowledge-base tests: pages, redirects, slow and oversized answers."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.utils import formatdate

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from pocketping_testkit.fakes.harness import FakeHarness


@dataclass
class Page:
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    location: str | None = None  # for redirects
    trickle: bool = False  # send a byte, then nothing more until the site stops
    modified: str = ""  # its Last-Modified date (HTTP format), new each time the page is set


class FakeSite(FakeHarness):
    def __init__(self) -> None:
        super().__init__()
        self.pages: dict[str, Page] = {}
        self.hits: list[str] = []
        self.not_modified: list[str] = []  # paths answered 304 (a matching If-None-Match)
        self.etags = False  # send an ETag (a hash of the body) with each page, answer 304 when it matches
        self.last_modified = False  # the same with Last-Modified / If-Modified-Since
        self._versions = 0
        self.port = 0
        self._done: asyncio.Event | None = None

    async def startup(self) -> None:
        self._done = asyncio.Event()
        self.port = await self.serve_http(Starlette(routes=[Route("/{path:path}", self._serve)]))

    async def shutdown(self) -> None:
        assert self._done is not None
        self._done.set()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def page(self, path: str, body: str | bytes, content_type: str = "text/html; charset=utf-8") -> str:
        with self.lock:
            self._versions += 1
            modified = formatdate(1_893_456_000 + self._versions, usegmt=True)
            self.pages[path] = Page(body.encode() if isinstance(body, str) else body, content_type, modified=modified)
        return self.url(path)

    def redirect(self, path: str, location: str, status: int = 302) -> str:
        with self.lock:
            self.pages[path] = Page(b"", status=status, location=location)
        return self.url(path)

    async def _serve(self, request: Request) -> Response:
        with self.lock:
            self.hits.append(request.url.path)
            page = self.pages.get(request.url.path)
        self.changed()
        if page is None:
            return Response(b"not found", status_code=404, media_type="text/plain")
        if page.location is not None:
            return Response(b"", status_code=page.status, headers={"Location": page.location})
        if self.etags and page.status == 200:
            etag = f'"{hashlib.sha256(page.body).hexdigest()[:16]}"'
            if request.headers.get("if-none-match") == etag:
                with self.lock:
                    self.not_modified.append(request.url.path)
                return Response(status_code=304, headers={"ETag": etag})
            return Response(page.body, status_code=200, media_type=page.content_type, headers={"ETag": etag})
        if self.last_modified and page.status == 200:
            if request.headers.get("if-modified-since") == page.modified:
                with self.lock:
                    self.not_modified.append(request.url.path)
                return Response(status_code=304, headers={"Last-Modified": page.modified})
            return Response(page.body, status_code=200, media_type=page.content_type,
                            headers={"Last-Modified": page.modified})
        if page.trickle:
            return StreamingResponse(self._trickle(page.body), media_type=page.content_type)
        return Response(page.body, status_code=page.status, media_type=page.content_type)

    async def _trickle(self, body: bytes) -> AsyncIterator[bytes]:
        assert self._done is not None
        yield body[:1]
        await self._done.wait()
        yield body[1:]
