"""The fake Discord's REST API (``/api/v10``): the routes a bot bridge uses, their checks
(authentication, permissions, validation), per-route rate-limit buckets with Discord's
headers, the global limit, and injected failures."""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pocketping_testkit.fakes import discord as d

Answer = tuple[int, Any]
Handler = Callable[["d.FakeDiscord", list[str], Any], Answer]


class ApiError(Exception):
    def __init__(self, status: int, code: int, message: str, errors: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.errors = status, code, message, errors

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        return body


def invalid_form(field: str, code: str, message: str) -> ApiError:
    errors: dict[str, Any] = {}
    node = errors
    parts = field.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = {"_errors": [{"code": code, "message": message}]}
    return ApiError(400, 50035, "Invalid Form Body", errors)


def unknown_channel() -> ApiError:
    return ApiError(404, 10003, "Unknown Channel")


def missing_access() -> ApiError:
    return ApiError(403, 50001, "Missing Access")


def missing_permissions() -> ApiError:
    return ApiError(403, 50013, "Missing Permissions")


# -- helpers over the fake's state (called with the lock held) -------------------------------------------


def channel_or_404(fake: d.FakeDiscord, channel_id: str) -> dict[str, Any]:
    channel = fake.channels.get(channel_id)
    if channel is None:
        raise unknown_channel()
    if not fake.permissions(channel) & d.VIEW_CHANNEL:
        raise missing_access()
    return channel


def require(fake: d.FakeDiscord, channel: dict[str, Any], bits: int) -> None:
    if fake.permissions(channel) & bits != bits:
        raise missing_permissions()


def check_content(body: dict[str, Any], prefix: str = "") -> str:
    content = body.get("content", "")
    if content is None:
        content = ""
    if not isinstance(content, str):
        raise invalid_form(prefix + "content", "STRING_TYPE_CONVERT", "Could not interpret the value as string.")
    if len(content) > 2000:
        raise invalid_form(prefix + "content", "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
    if not content.strip() and not body.get("embeds") and not body.get("sticker_ids") and not body.get("_files"):
        raise ApiError(400, 50006, "Cannot send an empty message")
    mentions = body.get("allowed_mentions")
    if mentions is not None:
        if not isinstance(mentions, dict) or not set(mentions.get("parse", [])) <= {"users", "roles", "everyone"}:
            raise invalid_form(prefix + "allowed_mentions", "BASE_TYPE_CHOICES", "Value must be one of users, "
                               "roles, everyone.")
        if "users" in mentions.get("parse", []) and mentions.get("users"):
            raise invalid_form(prefix + "allowed_mentions", "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                               "parse:[\"users\"] and users: [ids...] are mutually exclusive.")
    return content


def check_nonce(body: dict[str, Any]) -> str | int | None:
    nonce = body.get("nonce")
    if nonce is None:
        return None
    if isinstance(nonce, bool) or not isinstance(nonce, str | int) or len(str(nonce)) > 25:
        raise invalid_form("nonce", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    return nonce


# -- routes ---------------------------------------------------------------------------------------------


def get_gateway(fake: d.FakeDiscord, _ids: list[str], _body: Any) -> Answer:
    return 200, {"url": fake.gateway.url}


def get_gateway_bot(fake: d.FakeDiscord, _ids: list[str], _body: Any) -> Answer:
    return 200, {"url": fake.gateway.url, "shards": 1,
                 "session_start_limit": {"total": 1000, "remaining": 1000 - fake.gateway.identifies,
                                         "reset_after": 14_400_000, "max_concurrency": 1}}


def get_me(fake: d.FakeDiscord, _ids: list[str], _body: Any) -> Answer:
    return 200, dict(fake.bot, verified=True, mfa_enabled=False, flags=0)


def get_application(fake: d.FakeDiscord, _ids: list[str], _body: Any) -> Answer:
    return 200, dict(fake.application)


def get_channel(fake: d.FakeDiscord, ids: list[str], _body: Any) -> Answer:
    return 200, dict(channel_or_404(fake, ids[0]))


def patch_channel(fake: d.FakeDiscord, ids: list[str], body: Any) -> Answer:
    channel = channel_or_404(fake, ids[0])
    if channel["type"] not in d.THREAD_TYPES:
        require(fake, channel, 1 << 4)  # MANAGE_CHANNELS
        return 200, dict(channel)
    meta = channel["thread_metadata"]
    is_owner = channel.get("owner_id") == fake.bot["id"]
    manage = bool(fake.permissions(channel) & d.MANAGE_THREADS)
    if meta["archived"] and body.get("archived", True) is not False:
        raise ApiError(400, 50083, "Thread is archived")
    if "locked" in body and not manage:
        raise missing_permissions()
    if body.get("archived") is False and meta["locked"] and not (manage or is_owner):
        raise missing_permissions()
    if ("archived" in body or "name" in body) and not (manage or is_owner):
        raise missing_permissions()
    if "name" in body and not 1 <= len(str(body["name"])) <= 100:
        raise invalid_form("name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
    for key in ("archived", "locked"):
        if key in body:
            meta[key] = bool(body[key])
            meta["archive_timestamp"] = d.iso_now()
    if "name" in body:
        channel["name"] = body["name"]
    fake.gateway.dispatch("THREAD_UPDATE", dict(channel))
    return 200, dict(channel)


def delete_channel(fake: d.FakeDiscord, ids: list[str], _body: Any) -> Answer:
    """DELETE /channels/{channel.id}: a thread needs Manage Threads (a channel, Manage Channels);
    the channel goes with every message in it (THREAD_DELETE, as Discord dispatches)."""
    channel = channel_or_404(fake, ids[0])
    is_thread = channel["type"] in d.THREAD_TYPES
    require(fake, channel, d.MANAGE_THREADS if is_thread else 1 << 4)
    with fake.lock:
        fake.channels.pop(channel["id"], None)
        fake._messages.pop(channel["id"], None)
        fake.deleted.add(channel["id"])
    if is_thread:
        fake.gateway.dispatch("THREAD_DELETE", {"id": channel["id"], "guild_id": fake.guild_id,
                                                "parent_id": channel.get("parent_id"), "type": channel["type"]})
    fake.changed()
    return 200, dict(channel)


def start_thread(fake: d.FakeDiscord, ids: list[str], body: Any) -> Answer:
    parent = channel_or_404(fake, ids[0])
    name = body.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= 100:
        raise invalid_form("name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
    duration = body.get("auto_archive_duration", 4320)
    if duration not in (60, 1440, 4320, 10080):
        raise invalid_form("auto_archive_duration", "BASE_TYPE_CHOICES", "Value must be one of {60, 1440, 4320, "
                           "10080}.")
    if parent["type"] == d.GUILD_FORUM:
        require(fake, parent, d.SEND_MESSAGES)
        message = body.get("message")
        if not isinstance(message, dict):
            raise invalid_form("message", "BASE_TYPE_REQUIRED", "This field is required")
        content = check_content(message, "message.")
        thread = fake.new_thread(parent["id"], name, auto_archive_duration=duration)
        fake.gateway.dispatch("THREAD_CREATE", dict(thread, newly_created=True))
        starter = fake.store_message(thread["id"], fake.bot, content, message_id=thread["id"],
                                     allowed_mentions=message.get("allowed_mentions"))
        return 201, dict(thread, message=starter)
    if parent["type"] not in (d.GUILD_TEXT, d.GUILD_ANNOUNCEMENT):
        raise ApiError(400, 50024, "Cannot execute action on this channel type")
    if body.get("type") not in (d.PUBLIC_THREAD, d.PRIVATE_THREAD, 10):
        raise invalid_form("type", "BASE_TYPE_REQUIRED", "This field is required")
    require(fake, parent, d.CREATE_PUBLIC_THREADS)
    thread = fake.new_thread(parent["id"], name, auto_archive_duration=duration)
    fake.gateway.dispatch("THREAD_CREATE", dict(thread, newly_created=True))
    return 201, dict(thread)


def create_message(fake: d.FakeDiscord, ids: list[str], body: Any) -> Answer:
    channel = channel_or_404(fake, ids[0])
    if channel["type"] in (d.GUILD_FORUM, d.GUILD_CATEGORY, d.GUILD_VOICE):
        raise ApiError(400, 50008, "Cannot send messages in a non-text channel")
    content = check_content(body)
    nonce = check_nonce(body)
    if channel["type"] in d.THREAD_TYPES:
        require(fake, channel, d.SEND_MESSAGES_IN_THREADS)
        meta = channel["thread_metadata"]
        if meta["archived"] and meta["locked"]:
            raise ApiError(400, 50083, "Thread is archived")
        fake.unarchive_on_message(channel["id"])
    else:
        require(fake, channel, d.SEND_MESSAGES)
    if nonce is not None and body.get("enforce_nonce"):
        earlier = fake.find_nonce(fake.bot["id"], nonce)
        if earlier is not None:
            return 200, earlier
    files = body.get("_files") or []
    if sum(len(f[2]) for f in files) > d.MAX_UPLOAD:
        raise ApiError(413, 40005, "Request entity too large")
    message = fake.store_message(channel["id"], fake.bot, content, nonce=nonce,
                                 allowed_mentions=body.get("allowed_mentions"), files=files)
    if nonce is not None:
        fake.remember_nonce(fake.bot["id"], nonce, message)
    return 200, message


def edit_message(fake: d.FakeDiscord, ids: list[str], body: Any) -> Answer:
    """PATCH /channels/{channel.id}/messages/{message.id}: only the author may change the content;
    the edit is dispatched as MESSAGE_UPDATE (as Discord does for every edit)."""
    channel = channel_or_404(fake, ids[0])
    content = check_content(body)
    with fake.lock:
        message = next((m for m in fake._messages.get(channel["id"], []) if m["id"] == ids[1]), None)
        if message is None:
            raise ApiError(404, 10008, "Unknown Message")
        if message["author"]["id"] != fake.bot["id"]:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        message["content"] = content
        message["edited_timestamp"] = d.iso_now()
        event = dict(message, guild_id=fake.guild_id)
    fake.gateway.dispatch("MESSAGE_UPDATE", event)
    fake.changed()
    return 200, dict(message)


def delete_message(fake: d.FakeDiscord, ids: list[str], _body: Any) -> Answer:
    """DELETE /channels/{channel.id}/messages/{message.id}: the bot's own message, or anyone's with
    Manage Messages; 204, and MESSAGE_DELETE dispatched (as Discord does)."""
    channel = channel_or_404(fake, ids[0])
    with fake.lock:
        message = next((m for m in fake._messages.get(channel["id"], []) if m["id"] == ids[1]), None)
        if message is None:
            raise ApiError(404, 10008, "Unknown Message")
    if message["author"]["id"] != fake.bot["id"]:
        require(fake, channel, d.MANAGE_MESSAGES)
    with fake.lock:
        fake._messages[channel["id"]] = [m for m in fake._messages.get(channel["id"], []) if m["id"] != ids[1]]
        fake.deleted_messages.append((channel["id"], ids[1]))
    fake.gateway.dispatch("MESSAGE_DELETE", {"id": ids[1], "channel_id": channel["id"], "guild_id": fake.guild_id})
    fake.changed()
    return 204, None


def list_messages(fake: d.FakeDiscord, ids: list[str], query: Any) -> Answer:
    channel = channel_or_404(fake, ids[0])
    require(fake, channel, d.READ_MESSAGE_HISTORY)
    messages = fake.messages(channel["id"])
    after = query.get("after")
    if after:
        messages = [m for m in messages if int(m["id"]) > int(after)]
    limit = max(1, min(100, int(query.get("limit", 50))))
    if after:
        return 200, list(reversed(messages[:limit]))
    return 200, list(reversed(messages))[:limit]


def trigger_typing(fake: d.FakeDiscord, ids: list[str], _body: Any) -> Answer:
    channel = channel_or_404(fake, ids[0])
    require(fake, channel, d.SEND_MESSAGES_IN_THREADS if channel["type"] in d.THREAD_TYPES else d.SEND_MESSAGES)
    fake.gateway.dispatch("TYPING_START", {"channel_id": channel["id"], "guild_id": fake.guild_id,
                                           "user_id": fake.bot["id"], "timestamp": int(time.time()),
                                           "member": fake.members[fake.bot["id"]]})
    return 204, None


def get_guild(fake: d.FakeDiscord, ids: list[str], _body: Any) -> Answer:
    if ids[0] != fake.guild_id:
        raise ApiError(404, 10004, "Unknown Guild")
    return 200, {"id": fake.guild_id, "name": "Support HQ", "owner_id": fake.owner["id"],
                 "roles": list(fake.roles.values()), "features": [], "icon": None}


def get_member(fake: d.FakeDiscord, ids: list[str], _body: Any) -> Answer:
    if ids[0] != fake.guild_id:
        raise ApiError(404, 10004, "Unknown Guild")
    member = fake.members.get(ids[1])
    if member is None:
        raise ApiError(404, 10007, "Unknown Member")
    return 200, dict(member)


# (method, path pattern, handler, bucket name, authenticated)
ROUTES: list[tuple[str, str, Handler, str, bool]] = [
    ("GET", "/gateway", get_gateway, "gateway", False),
    ("GET", "/gateway/bot", get_gateway_bot, "gateway-bot", True),
    ("GET", "/users/@me", get_me, "users-me", True),
    ("GET", "/applications/@me", get_application, "applications-me", True),
    ("GET", "/channels/{}", get_channel, "channel", True),
    ("PATCH", "/channels/{}", patch_channel, "channel-edit", True),
    ("DELETE", "/channels/{}", delete_channel, "channel-delete", True),
    ("POST", "/channels/{}/threads", start_thread, "threads", True),
    ("POST", "/channels/{}/messages", create_message, "messages", True),
    ("GET", "/channels/{}/messages", list_messages, "messages-list", True),
    ("PATCH", "/channels/{}/messages/{}", edit_message, "message-edit", True),
    ("DELETE", "/channels/{}/messages/{}", delete_message, "message-delete", True),
    ("POST", "/channels/{}/typing", trigger_typing, "typing", True),
    ("GET", "/guilds/{}", get_guild, "guild", True),
    ("GET", "/guilds/{}/members/{}", get_member, "guild-member", True),
]


def match_route(method: str, path: str) -> tuple[Handler, str, bool, list[str]] | None:
    parts = path.strip("/").split("/")
    for route_method, pattern, handler, bucket, auth in ROUTES:
        wanted = pattern.strip("/").split("/")
        if route_method != method or len(wanted) != len(parts):
            continue
        ids = []
        for want, got in zip(wanted, parts, strict=True):
            if want == "{}":
                if not got.isdigit():
                    break
                ids.append(got)
            elif want != got:
                break
        else:
            return handler, bucket, auth, ids
    return None


# -- the HTTP layer -----------------------------------------------------------------------------------


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    if status == 204:
        return Response(status_code=204, headers=headers)
    return JSONResponse(body, status_code=status, headers=headers)


def _rate_limited(retry_after: float, *, global_: bool, scope: str, bucket_headers: dict[str, str]) -> Response:
    headers = dict(bucket_headers)
    headers["Retry-After"] = str(math.ceil(retry_after))
    headers["X-RateLimit-Scope"] = scope
    if global_:
        headers["X-RateLimit-Global"] = "true"
    body = {"message": "You are being rate limited.", "retry_after": round(retry_after, 3), "global": global_}
    return JSONResponse(body, status_code=429, headers=headers)


def _bucket(fake: d.FakeDiscord, name: str, major: str) -> tuple[bool, dict[str, str], float]:
    """Count a request against its bucket; (allowed, headers, seconds until reset)."""
    now = time.monotonic()
    state = fake.buckets.setdefault((name, major), [0, now + fake.bucket_window])
    if now >= state[1]:
        state[0], state[1] = 0, now + fake.bucket_window
    reset_after = max(0.0, state[1] - now)
    allowed = state[0] < fake.bucket_limit
    if allowed:
        state[0] += 1
    headers = {
        "X-RateLimit-Limit": str(fake.bucket_limit),
        "X-RateLimit-Remaining": str(max(0, fake.bucket_limit - int(state[0]))),
        "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
        "X-RateLimit-Reset-After": f"{reset_after:.3f}",
        "X-RateLimit-Bucket": hashlib.sha1(name.encode()).hexdigest()[:16],  # noqa: S324 - an id, not security
    }
    return allowed, headers, reset_after


def _global_allowed(fake: d.FakeDiscord) -> float:
    """0 when the request may go, else seconds until the global window resets."""
    now = time.monotonic()
    if now >= fake.global_window[1]:
        fake.global_window[0], fake.global_window[1] = 0, now + 1.0
    if fake.global_window[0] >= fake.global_limit:
        return max(0.001, fake.global_window[1] - now)
    fake.global_window[0] += 1
    return 0.0


async def _fault_response(fake: d.FakeDiscord, fault: d.Fault) -> Response:
    if fault.hang:
        await fake.release_hung.wait()
        return _json(504, {"message": "Gateway Timeout", "code": 0})
    if fault.status == 429:
        return _rate_limited(fault.retry_after, global_=fault.global_, scope="global" if fault.global_ else "user",
                             bucket_headers={})
    if fault.status >= 500:
        return Response("<html><body>upstream error</body></html>", status_code=fault.status,
                        media_type="text/html")
    return _json(fault.status, {"message": f"{fault.status}: injected", "code": 0})


async def handle(request: Request) -> Response:
    fake: d.FakeDiscord = request.app.state.fake
    path = "/" + request.path_params["path"]
    method = request.method
    body: Any = {}
    raw = b""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        # Files: "payload_json" (the JSON body, naming each file in "attachments") and "files[n]" parts.
        try:
            body = await _multipart(request)
        except ValueError as exc:
            return _json(400, {"message": f"Invalid Form Body: {exc}", "code": 50035})
    else:
        raw = await request.body()
    if method == "GET":
        body = dict(request.query_params)
    elif raw:
        try:
            body = json.loads(raw)
        except ValueError:
            return _json(400, {"message": "The request body contains invalid JSON.", "code": 50109})
    record = d.Recorded(method, path, body, {k.lower(): v for k, v in request.headers.items()})
    with fake.lock:
        fake.requests.append(record)
    try:
        return await _answer(fake, request, record)
    finally:
        fake.changed()


async def _answer(fake: d.FakeDiscord, request: Request, record: d.Recorded) -> Response:
    method, path, body = record.method, record.path, record.body
    route = match_route(method, path)
    if route is None:
        record.status = 404
        return _json(404, {"message": "404: Not Found", "code": 0})
    handler, bucket_name, auth, ids = route
    if auth and request.headers.get("authorization") != f"Bot {fake.token}":
        record.status = 401
        return _json(401, {"message": "401: Unauthorized", "code": 0})
    fault = fake.take_fault(method, path)
    if fault is not None and not fault.after:
        record.status = 504 if fault.hang else fault.status
        fake.changed()
        return await _fault_response(fake, fault)
    with fake.lock:
        wait = _global_allowed(fake)
        allowed, headers, reset_after = _bucket(fake, bucket_name, ids[0] if ids else "")
    if wait:
        record.status = 429
        with fake.lock:
            fake.rate_limited.append(record)
        return _rate_limited(wait, global_=True, scope="global", bucket_headers={})
    if not allowed:
        record.status = 429
        with fake.lock:
            fake.rate_limited.append(record)
        return _rate_limited(reset_after, global_=False, scope="user", bucket_headers=headers)
    if not isinstance(body, dict):
        record.status = 400
        return _json(400, {"message": "Invalid Form Body", "code": 50035})
    try:
        with fake.lock:
            status, payload = handler(fake, ids, body)
    except ApiError as exc:
        record.status = exc.status
        return _json(exc.status, exc.body(), headers)
    if fault is not None:
        record.status = 504 if fault.hang else fault.status
        fake.changed()
        return await _fault_response(fake, fault)
    record.status = status
    return _json(status, payload, headers)


async def _multipart(request: Request) -> dict[str, Any]:
    form = await request.form(max_part_size=64 * 1024 * 1024)
    payload = form.get("payload_json")
    body = json.loads(payload) if isinstance(payload, str) else {}
    if not isinstance(body, dict):
        raise ValueError("payload_json is not an object")
    named = {str(a.get("id")): a for a in body.get("attachments") or () if isinstance(a, dict)}
    files = []
    for key, value in form.multi_items():
        if isinstance(value, str) or not key.startswith("files["):
            continue
        index = key[len("files["):-1]
        spec = named.get(index, {})
        files.append((str(spec.get("filename") or value.filename or "file"),
                      value.content_type or "application/octet-stream", await value.read()))
    body["_files"] = files
    return body


async def cdn(request: Request) -> Response:
    """``https://cdn.discordapp.com/attachments/<channel>/<attachment>/<filename>``."""
    fake: d.FakeDiscord = request.app.state.fake
    with fake.lock:
        found = fake.cdn.get(request.path_params["attachment"])
    if found is None:
        return Response("Not Found", status_code=404)
    return Response(found[1], media_type=found[0])


def build_app(fake: d.FakeDiscord) -> Starlette:
    app = Starlette(routes=[Route("/api/v10/{path:path}", handle,
                                  methods=["GET", "POST", "PATCH", "PUT", "DELETE"]),
                            Route("/attachments/{channel}/{attachment}/{filename}", cdn, methods=["GET"])])
    app.state.fake = fake
    return app
