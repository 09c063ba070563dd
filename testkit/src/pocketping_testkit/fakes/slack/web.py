"""The fake's Web API: ``POST {base}/api/{method}`` as Slack documents it.

Arguments come form-encoded, as JSON, or in the query string; the token as
``Authorization: Bearer`` or a ``token`` argument. Failures are HTTP 200 with
``{"ok": false, "error": "..."}``; rate limits are HTTP 429 with ``Retry-After``. Every
answer to a bot token carries ``X-OAuth-Scopes``, as Slack's do.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from pocketping_testkit.fakes.slack.state import Channel, FakeApp, Fault

if TYPE_CHECKING:
    from pocketping_testkit.fakes.slack import FakeSlack

MAX_TEXT = 40000
# Bot scopes per method: (public channel scope, private channel scope) or a single scope.
SCOPES: dict[str, tuple[str, str] | str | None] = {
    "auth.test": None,
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.delete": "chat:write",
    "conversations.info": ("channels:read", "groups:read"),
    "conversations.join": "channels:join",
    "conversations.history": ("channels:history", "groups:history"),
    "conversations.replies": ("channels:history", "groups:history"),
    "users.info": "users:read",
    "files.getUploadURLExternal": "files:write",
    "files.completeUploadExternal": "files:write",
    "files.delete": "files:write",
}


class ApiError(Exception):
    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


async def read_params(request: Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query_params)
    if request.method == "POST":
        ctype = request.headers.get("content-type", "")
        if ctype.startswith("application/json"):
            body = orjson.loads(await request.body() or b"{}")
            if isinstance(body, dict):
                params.update(body)
        elif ctype.startswith("application/x-www-form-urlencoded") or not ctype:
            params.update(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        else:
            raise ApiError("invalid_post_type")
    return params


def _json_arg(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            raise ApiError("invalid_arguments") from exc
    return value


def _flag(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1")


class WebApi:
    def __init__(self, fake: FakeSlack) -> None:
        self.fake = fake
        self.methods: dict[str, Callable[[FakeApp, dict[str, Any]], dict[str, Any]]] = {
            "auth.test": self.auth_test,
            "chat.postMessage": self.post_message,
            "chat.update": self.update,
            "chat.delete": self.delete,
            "conversations.info": self.conversations_info,
            "conversations.join": self.conversations_join,
            "conversations.history": self.history,
            "conversations.replies": self.replies,
            "users.info": self.users_info,
            "files.getUploadURLExternal": self._scoped("files.getUploadURLExternal", fake.files.get_upload_url),
            "files.completeUploadExternal": self._scoped("files.completeUploadExternal", fake.files.complete),
            "files.delete": self._scoped("files.delete", fake.files.delete),
        }

    async def endpoint(self, request: Request) -> Response:
        method = request.path_params["method"]
        try:
            params = await read_params(request)
        except ApiError as exc:
            return JSONResponse({"ok": False, "error": exc.error})
        auth = request.headers.get("authorization", "")
        token = auth[7:] if auth.lower().startswith("bearer ") else str(params.pop("token", "") or "")
        params.pop("token", None)
        fault = self.fake._take_fault(method, token)
        self.fake._record_call(method, params, token)
        if fault is not None and not fault.after:
            return await self._fail(fault)
        with self.fake.lock:
            status, body, headers = self.dispatch(method, token, params)
        self.fake.changed()
        if fault is not None:
            return await self._fail(fault)
        return JSONResponse(body, status_code=status, headers=headers)

    async def _fail(self, fault: Fault) -> Response:
        if fault.hang:
            await self.fake._hang()
            return PlainTextResponse("released", status_code=504)
        if fault.status == 429:
            return JSONResponse({"ok": False, "error": "ratelimited"}, status_code=429,
                                headers={"Retry-After": str(int(fault.retry_after or 1))})
        if fault.status is not None and fault.status >= 500:
            return PlainTextResponse("upstream connect error", status_code=fault.status)
        return JSONResponse({"ok": False, "error": fault.error or "fatal_error"})

    def dispatch(self, method: str, token: str, params: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        if not token:
            return 200, {"ok": False, "error": "not_authed"}, {}
        if method == "apps.connections.open":
            return self._connections_open(token)
        app = self.fake.app_by_bot_token(token)
        if app is None:
            is_app_token = self.fake.app_by_app_token(token) is not None
            return 200, {"ok": False, "error": "not_allowed_token_type" if is_app_token else "invalid_auth"}, {}
        headers = {"X-OAuth-Scopes": ",".join(sorted(app.scopes))}
        handler = self.methods.get(method)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method"}, headers
        try:
            return 200, {"ok": True, **handler(app, params)}, headers
        except ApiError as exc:
            return 200, {"ok": False, "error": exc.error, **exc.extra}, headers

    def _connections_open(self, token: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        app = self.fake.app_by_app_token(token)
        if app is None:
            error = "not_allowed_token_type" if self.fake.app_by_bot_token(token) else "invalid_auth"
            return 200, {"ok": False, "error": error}, {}
        if "connections:write" not in app.app_scopes:
            return 200, {"ok": False, "error": "missing_scope", "needed": "connections:write",
                         "provided": ",".join(sorted(app.app_scopes))}, {}
        if not app.socket_mode:
            return 200, {"ok": False, "error": "socket_mode_not_enabled"}, {}
        return 200, {"ok": True, "url": self.fake._socket_url(app)}, {}

    # --- helpers ----------------------------------------------------------------------------

    def _scoped(self, method: str, handler: Callable[[FakeApp, dict[str, Any]], dict[str, Any]]
                ) -> Callable[[FakeApp, dict[str, Any]], dict[str, Any]]:
        def run(app: FakeApp, params: dict[str, Any]) -> dict[str, Any]:
            self._scope(app, method)
            return handler(app, params)

        return run

    def _scope(self, app: FakeApp, method: str, channel: Channel | None = None) -> None:
        needed = SCOPES.get(method)
        if isinstance(needed, tuple):
            needed = needed[1] if channel is not None and channel.is_private else needed[0]
        if needed and needed not in app.scopes:
            raise ApiError("missing_scope", needed=needed, provided=",".join(sorted(app.scopes)))

    def _channel(self, app: FakeApp, params: dict[str, Any], *, member: bool = False) -> Channel:
        channel = self.fake.channels.get(str(params.get("channel") or ""))
        if channel is None or (channel.is_private and app.bot_user_id not in channel.members):
            raise ApiError("channel_not_found")
        if member and app.bot_user_id not in channel.members:
            raise ApiError("not_in_channel")
        return channel

    # --- methods ----------------------------------------------------------------------------

    def auth_test(self, app: FakeApp, params: dict[str, Any]) -> dict[str, Any]:
        team = self.fake.team
        return {"url": f"https://{team['domain']}.slack.com/", "team": team["name"], "user": app.name,
                "team_id": team["id"], "user_id": app.bot_user_id, "bot_id": app.bot_id,
                "is_enterprise_install": False}

    def conversations_info(self, app: FakeApp, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(app, params)
        self._scope(app, "conversations.info", channel)
        return {"channel": channel.info(app.bot_user_id)}

    def conversations_join(self, app: FakeApp, params: dict[str, Any]) -> dict[str, Any]:
        self._scope(app, "conversations.join")
        channel = self._channel(app, params)
        if channel.is_private:
            raise ApiError("method_not_supported_for_channel_type")
        if channel.is_archived:
            raise ApiError("is_archived")
        channel.members.add(app.bot_user_id)
        return {"channel": channel.info(app.bot_user_id)}

    def post_message(self, app: FakeApp, params: dict[str, Any]) -> dict[str, Any]:
        self._scope(app, "chat.postMessage")
        channel = self._channel(app, params, member=True)
        if channel.is_archived:
            raise ApiError("is_archived")
        text = str(params.get("text") or "")
        blocks = _json_arg(params.get("blocks"))
        if not text and not blocks:
            raise ApiError("no_text")
        if len(text) > MAX_TEXT:
            raise ApiError("msg_too_long")
        if blocks is not None and (not isinstance(blocks, list) or len(blocks) > 50
                                   or not all(isinstance(b, dict) and b.get("type") for b in blocks)):
            raise ApiError("invalid_blocks")
        metadata = _json_arg(params.get("metadata"))
        if metadata is not None and not (isinstance(metadata, dict) and metadata.get("event_type")):
            raise ApiError("invalid_metadata_format")
        thread_ts = params.get("thread_ts") or None
        parent = None
        if thread_ts is not None:
            parent = channel.find(str(thread_ts))
            gone = parent is None or (parent.get("_deleted") and not parent.get("reply_count"))
            if gone:
                if self.fake.orphan_replies == "error":
                    raise ApiError("thread_not_found")
                thread_ts, parent = None, None  # posted top-level, as Slack has been seen to do
        message: dict[str, Any] = {
            "type": "message", "ts": self.fake.ts.next(), "user": app.bot_user_id, "bot_id": app.bot_id,
            "app_id": app.app_id, "text": text, "team": self.fake.team["id"],
            "bot_profile": {"id": app.bot_id, "app_id": app.app_id, "name": app.name, "deleted": False},
        }
        if blocks is not None:
            message["blocks"] = blocks
        if metadata is not None:
            message["metadata"] = metadata
        if thread_ts is not None and parent is not None:
            message["thread_ts"] = str(thread_ts)
            parent["reply_count"] = int(parent.get("reply_count") or 0) + 1
            parent["thread_ts"] = parent["ts"]
            parent["latest_reply"] = message["ts"]
        message["_params"] = {k: params[k] for k in ("unfurl_links", "unfurl_media", "mrkdwn") if k in params}
        channel.messages.append(message)
        self.fake._emit(channel, message_event(message, channel))
        return {"channel": channel.id, "ts": message["ts"], "message": _public(message, metadata=True)}

    def update(self, app: FakeApp, params: dict[str, Any]) -> dict[str, Any]:
        self._scope(app, "chat.update")
        channel = self._channel(app, params, member=True)
        message = channel.find(str(params.get("ts") or ""))
        if message is None or message.get("_deleted"):
            raise ApiError("message_not_found")
        if message.get("bot_id") != app.bot_id:
            raise ApiError("cant_update_message")
        previous = _public(message)
        if "text" in params:
            message["text"] = str(params["text"])
        if "blocks" in params:
            message["blocks"] = _json_arg(params["blocks"])
        if "metadata" in params:
            message["metadata"] = _json_arg(params["metadata"])
        message["edited"] = {"user": app.bot_user_id, "ts": self.fake.ts.next()}
        self.fake._emit(channel, changed_event(channel, message, previous, self.fake.ts.next()))
        return {"channel": channel.id, "ts": message["ts"], "text": message["text"]}

    def delete(self, app: FakeApp, params: dict[str, Any]) -> dict[str, Any]:
        self._scope(app, "chat.delete")
        channel = self._channel(app, params)
        message = channel.find(str(params.get("ts") or ""))
        if message is None or message.get("_deleted"):
            raise ApiError("message_not_found")
        if message.get("bot_id") != app.bot_id:
            raise ApiError("cant_delete_message")
        self.fake._delete(channel, message)
        for key in ("text", "blocks", "metadata", "files"):  # gone from Slack: only the tombstone stays
            message.pop(key, None)
        return {"channel": channel.id, "ts": message["ts"]}

    def history(self, app: FakeApp, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(app, params)
        self._scope(app, "conversations.history", channel)
        messages = [m for m in channel.live() if not m.get("thread_ts") or m["thread_ts"] == m["ts"]]
        messages = _window(messages, params)[::-1]  # newest first
        return _page(messages, params, _flag(params.get("include_all_metadata")))

    def replies(self, app: FakeApp, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(app, params)
        self._scope(app, "conversations.replies", channel)
        thread_ts = str(params.get("ts") or "")
        parent = channel.find(thread_ts)
        if parent is None or (parent.get("_deleted") and not parent.get("reply_count")):
            raise ApiError("thread_not_found")
        replies = _window([m for m in channel.live() if m.get("thread_ts") == thread_ts and m["ts"] != thread_ts],
                          params)
        head = [] if parent.get("_deleted") else [parent]
        return _page(head + replies, params, _flag(params.get("include_all_metadata")))

    def users_info(self, app: FakeApp, params: dict[str, Any]) -> dict[str, Any]:
        self._scope(app, "users.info")
        user = self.fake.users.get(str(params.get("user") or ""))
        if user is None:
            raise ApiError("user_not_found")
        return {"user": user}


def _window(messages: list[dict[str, Any]], params: dict[str, Any]) -> list[dict[str, Any]]:
    oldest = float(params.get("oldest") or 0)
    latest = float(params["latest"]) if params.get("latest") else float("inf")
    inclusive = _flag(params.get("inclusive"))
    return [m for m in messages
            if (oldest <= float(m["ts"]) if inclusive else oldest < float(m["ts"]))
            and (float(m["ts"]) <= latest if inclusive else float(m["ts"]) < latest)]


def _page(messages: list[dict[str, Any]], params: dict[str, Any], metadata: bool) -> dict[str, Any]:
    limit = max(1, min(int(params.get("limit") or 100), 1000))
    cursor = str(params.get("cursor") or "")
    start = int(base64.b64decode(cursor).decode()) if cursor else 0
    chunk = messages[start:start + limit]
    more = start + limit < len(messages)
    next_cursor = base64.b64encode(str(start + limit).encode()).decode() if more else ""
    return {"messages": [_public(m, metadata=metadata) for m in chunk], "has_more": more,
            "response_metadata": {"next_cursor": next_cursor}}


def _public(message: dict[str, Any], *, metadata: bool = False) -> dict[str, Any]:
    """A message as the API shows it: no internal keys, metadata only when asked for."""
    out = {k: v for k, v in message.items() if not k.startswith("_")}
    if not metadata:
        out.pop("metadata", None)
    return out


def message_event(message: dict[str, Any], channel: Channel) -> dict[str, Any]:
    event = _public(message)
    event.update({"channel": channel.id, "event_ts": message["ts"],
                  "channel_type": "group" if channel.is_private else "channel"})
    for key in ("reply_count", "latest_reply"):
        event.pop(key, None)
    return event


def changed_event(channel: Channel, message: dict[str, Any], previous: dict[str, Any], ts: str) -> dict[str, Any]:
    return {"type": "message", "subtype": "message_changed", "hidden": True, "channel": channel.id, "ts": ts,
            "event_ts": ts, "channel_type": "group" if channel.is_private else "channel",
            "message": _public(message), "previous_message": previous}


def deleted_event(channel: Channel, message: dict[str, Any], ts: str) -> dict[str, Any]:
    return {"type": "message", "subtype": "message_deleted", "hidden": True, "channel": channel.id, "ts": ts,
            "deleted_ts": message["ts"], "event_ts": ts,
            "channel_type": "group" if channel.is_private else "channel", "previous_message": _public(message)}
