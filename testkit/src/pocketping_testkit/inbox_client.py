"""An operator of the web inbox over real HTTP and WebSocket (tests and benchmarks).

It signs in the way a browser does (sign-in form with its double-submit token, then the
cookie), reads the CSRF token from the page, and talks to ``/inbox/api`` and ``/inbox/ws``.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import orjson
import websockets
from websockets.asyncio.client import ClientConnection

_TOKEN = re.compile(r'action="/inbox/login">\s*<input type="hidden" name="csrf_token" value="([^"]+)"')
_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


class InboxClient:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = httpx.AsyncClient(base_url=self.base_url, timeout=20, follow_redirects=False)
        self.csrf: str | None = None

    async def __aenter__(self) -> InboxClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.http.aclose()

    async def sign_in_form(self) -> str:
        """GET /inbox while signed out: the form's hidden token (its cookie is kept)."""
        page = await self.http.get("/inbox")
        found = _TOKEN.search(page.text)
        assert found, "no sign-in form"
        return found.group(1)

    async def post_login(self, email: str, password: str, token: str | None, next_: str = "") -> httpx.Response:
        form = {"email": email, "password": password, "next": next_}
        if token is not None:
            form["csrf_token"] = token
        return await self.http.post("/inbox/login", data=form, headers={"Origin": self.base_url})

    async def login(self, email: str, password: str) -> InboxClient:
        response = await self.post_login(email, password, await self.sign_in_form())
        if response.status_code != 303:
            raise PermissionError(f"sign-in refused: {response.status_code}")
        page = await self.http.get("/inbox")
        found = _META.search(page.text)
        assert found, "signed in, but no CSRF token on the page"
        self.csrf = found.group(1)
        return self

    def headers(self, csrf: bool = True) -> dict[str, str]:
        headers = {"Origin": self.base_url}
        if csrf and self.csrf:
            headers["X-CSRF-Token"] = self.csrf
        return headers

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.http.get("/inbox/api" + path, params=params)

    async def post(self, path: str, body: dict[str, Any] | None = None, *, csrf: bool = True,
                   headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.http.post("/inbox/api" + path, json=body or {},
                                    headers={**self.headers(csrf), **(headers or {})})

    async def delete(self, path: str, *, csrf: bool = True) -> httpx.Response:
        return await self.http.delete("/inbox/api" + path, headers=self.headers(csrf))

    async def conversations(self, status: str = "active") -> list[dict[str, Any]]:
        response = await self.get("/conversations", status=status)
        response.raise_for_status()
        found: list[dict[str, Any]] = response.json()["conversations"]
        return found

    async def reply(self, session_id: str, text: str) -> httpx.Response:
        return await self.post(f"/conversations/{session_id}/messages", {"text": text})

    def cookie_header(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.http.cookies.jar)

    async def socket(self, origin: str | None = None) -> InboxSocket:
        url = self.base_url.replace("http", "ws", 1) + "/inbox/ws"
        ws = await websockets.connect(url, origin=origin or self.base_url,  # type: ignore[arg-type]
                                      additional_headers={"Cookie": self.cookie_header()}, compression=None,
                                      open_timeout=10)
        sock = InboxSocket(ws)
        await sock.expect("ready")
        return sock


class InboxSocket:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.seen: list[dict[str, Any]] = []
        self.pending: list[dict[str, Any]] = []

    async def _next(self, timeout: float) -> dict[str, Any]:
        frame: dict[str, Any] = orjson.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        self.seen.append(frame)
        return frame

    async def recv(self, timeout: float = 10.0) -> dict[str, Any]:
        if self.pending:
            return self.pending.pop(0)
        return await self._next(timeout)

    async def expect(self, type_: str, timeout: float = 10.0, **match: Any) -> dict[str, Any]:
        """The next frame of this type whose fields (or whose message's or session's) match;
        frames skipped on the way stay available to later calls."""
        def matches(frame: dict[str, Any]) -> bool:
            return frame.get("type") == type_ and all(_field(frame, k) == v for k, v in match.items())

        for i, frame in enumerate(self.pending):
            if matches(frame):
                return self.pending.pop(i)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            frame = await self._next(max(0.01, deadline - loop.time()))
            if matches(frame):
                return frame
            self.pending.append(frame)

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send(orjson.dumps(frame).decode())

    async def close(self) -> None:
        await self.ws.close()


def _field(frame: dict[str, Any], key: str) -> Any:
    for scope in (frame, frame.get("message") or {}, frame.get("session") or {}):
        if key in scope:
            return scope[key]
    return None
