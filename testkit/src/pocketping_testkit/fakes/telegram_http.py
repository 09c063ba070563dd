"""The wire side of the fake Telegram Bot API: ``/bot<token>/<method>`` with parameters in
the query string, a form-encoded body or a JSON body (as the official docs allow), and
answers ``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code", "description",
"parameters"?}``. Text sent with ``parse_mode=HTML`` is checked the way Telegram checks it."""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import parse_qsl

import orjson

INT_PARAMS = {"chat_id", "message_thread_id", "offset", "limit", "timeout", "user_id", "message_id",
              "max_connections", "icon_color"}
JSON_PARAMS = {"allowed_updates", "link_preview_options", "reply_markup", "entities", "reply_parameters"}
BOOL_PARAMS = {"drop_pending_updates", "disable_notification", "protect_content"}

ALLOWED_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre", "tg-spoiler",
                "span", "blockquote", "tg-emoji"}
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z-]+=\"[^\"<>]*\")*)\s*>")
_ENTITY = re.compile(r"&(lt|gt|amp|quot|#\d{1,7}|#x[0-9a-fA-F]{1,6});")


class ApiError(Exception):
    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": False, "error_code": self.code, "description": self.description}
        if self.retry_after is not None:
            out["parameters"] = {"retry_after": self.retry_after}
        return out


def _coerce(key: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if key in INT_PARAMS and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    if key in JSON_PARAMS:
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            raise ApiError(400, f"Bad Request: can't parse {key} JSON object") from exc
    if key in BOOL_PARAMS:
        return value.lower() in ("true", "1")
    return value


def parse_params(query: str, content_type: str, body: bytes) -> dict[str, Any]:
    params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    kind = content_type.split(";")[0].strip().lower()
    if body:
        if kind == "application/json":
            try:
                data = orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                raise ApiError(400, "Bad Request: can't parse JSON") from exc
            if not isinstance(data, dict):
                raise ApiError(400, "Bad Request: JSON object expected")
            params.update(data)
        elif kind in ("application/x-www-form-urlencoded", ""):
            params.update(parse_qsl(body.decode(), keep_blank_values=True))
        else:
            raise ApiError(400, f"Bad Request: unsupported content type {kind}")
    return {k: _coerce(k, v) for k, v in params.items()}


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def html_to_text(source: str) -> str:
    """Check Telegram-style HTML and return the plain text it shows (or raise ApiError)."""
    out: list[str] = []
    stack: list[str] = []
    i = 0
    while i < len(source):
        ch = source[i]
        if ch == "<":
            match = _TAG.match(source, i)
            if match is None:
                raise ApiError(400, f"Bad Request: can't parse entities: Unexpected end of name token at byte "
                                    f"offset {len(source[:i].encode())}")
            closing, name = match.group(1) == "/", match.group(2).lower()
            if name not in ALLOWED_TAGS:
                raise ApiError(400, f'Bad Request: can\'t parse entities: Unsupported start tag "{name}" at byte '
                                    f"offset {len(source[:i].encode())}")
            if closing:
                if not stack or stack[-1] != name:
                    raise ApiError(400, f'Bad Request: can\'t parse entities: Unmatched end tag at byte offset '
                                        f'{len(source[:i].encode())}, expected "</{stack[-1] if stack else ""}>", '
                                        f'found "</{name}>"')
                stack.pop()
            else:
                stack.append(name)
            i = match.end()
        elif ch == "&":
            match = _ENTITY.match(source, i)
            if match is None:
                raise ApiError(400, "Bad Request: can't parse entities: Unsupported HTML entity at byte offset "
                                    f"{len(source[:i].encode())}")
            out.append(html.unescape(match.group(0)))
            i = match.end()
        elif ch == ">":
            # Telegram tolerates a bare '>', but our bridge must never send one unescaped.
            raise ApiError(400, "Bad Request: can't parse entities: unescaped '>'")
        else:
            out.append(ch)
            i += 1
    if stack:
        raise ApiError(400, f'Bad Request: can\'t parse entities: Can\'t find end tag corresponding to start tag '
                            f'"{stack[-1]}"')
    return "".join(out)
