"""Refuse NUL characters (U+0000) at the HTTP edge, before anything stores or compares them.

PostgreSQL cannot store NUL in text, so one NUL in a path, a query or a field of a JSON or form
body used to end in an HTTP 500 (and, in a sign-in form, before any authentication). No field
of ours means anything with a NUL in it: the request is answered 422 ``nul_not_allowed``.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote_to_bytes

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# "\u0000" in JSON text, unless its backslash is itself escaped ("\\u0000" is text, not NUL).
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000", re.IGNORECASE)
_CHECKED_BODIES = ("application/json", "application/x-www-form-urlencoded")
_BODY_LIMIT = 32 << 20  # larger bodies are not buffered here (the routes refuse them anyway)


def _has_nul(data: bytes, content_type: str) -> bool:
    if b"\x00" in data:
        return True
    if content_type.startswith("application/json"):
        return _JSON_NUL.search(data) is not None
    return b"\x00" in unquote_to_bytes(data.replace(b"+", b" "))


async def _refuse(send: Send) -> None:
    body = orjson.dumps({"error": {"code": "nul_not_allowed",
                                   "message": "NUL characters (U+0000) are not accepted anywhere in a request"}})
    await send({"type": "http.response.start", "status": 422,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def guarded(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """Run ``app`` for an HTTP request that has no NUL in its path, query or (JSON or form) body."""
    if "\x00" in scope.get("path", "") or b"\x00" in unquote_to_bytes(scope.get("query_string", b"")):
        await _refuse(send)
        return
    headers = dict(scope.get("headers") or [])
    content_type = headers.get(b"content-type", b"").decode("latin-1").lower()
    length = headers.get(b"content-length", b"0")
    if not content_type.startswith(_CHECKED_BODIES) or (length.isdigit() and int(length) > _BODY_LIMIT):
        await app(scope, receive, send)
        return
    chunks: list[bytes] = []
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        chunks.append(chunk)
        if not message.get("more_body") or size > _BODY_LIMIT:
            break
    if size <= _BODY_LIMIT and _has_nul(b"".join(chunks), content_type):
        await _refuse(send)
        return

    async def replay() -> Any:
        return messages.pop(0) if messages else await receive()

    await app(scope, replay, send)
