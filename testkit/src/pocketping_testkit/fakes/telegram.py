"""A fake Telegram Bot API server that follows the official documentation.

It keeps a small world (bots, forum supergroups, topics, messages), answers the methods a
support bridge uses, delivers updates by ``getUpdates`` long polling (409 for a second
concurrent poller or while a webhook is set) or by calling a webhook with the
``X-Telegram-Bot-Api-Secret-Token`` header, and lets a test misbehave on purpose: 429 with
``retry_after``, 5xx, requests that hang, a held request, a whole outage, a deleted topic.
Operators are simulated with ``operator_says``. Every control is scoped to one bot token,
so tests sharing one fake never disturb each other.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pocketping.clock import Clock, SystemClock
from pocketping_testkit.fakes.harness import FakeHarness
from pocketping_testkit.fakes.telegram_http import ApiError, html_to_text, parse_params, utf16_len

OPERATOR: dict[str, Any] = {"id": 7000001, "is_bot": False, "first_name": "Sarah", "last_name": "Lee",
                            "username": "sarah_support"}
_ids = itertools.count(1)


@dataclass
class Upload:
    """A file part of a multipart request (what sendPhoto/sendDocument take), or one a person shared."""

    filename: str
    content_type: str
    data: bytes
    file_id: str = ""


@dataclass
class Topic:
    id: int
    name: str
    closed: bool = False
    deleted: bool = False


@dataclass
class Msg:
    chat_id: int
    message_id: int
    thread_id: int | None
    text: str  # what readers see
    source: str  # what was sent (HTML for our bot)
    from_bot: str | None  # the bot token that sent it, None for a person
    parse_mode: str | None = None
    edited: bool = False
    deleted: bool = False
    at: float = field(default_factory=time.monotonic)  # when the fake stored it (benchmarks)
    file: Upload | None = None  # a photo or document, with ``kind`` "photo" | "document"
    kind: str = "text"
    sent: datetime | None = None  # when it was sent, on the fake's clock (deleteMessage's 48 hours)


@dataclass
class Chat:
    id: int
    title: str
    is_forum: bool = True
    type: str = "supergroup"
    members: dict[int, dict[str, Any]] = field(default_factory=dict)  # user id -> ChatMember
    topics: dict[int, Topic] = field(default_factory=dict)
    messages: list[Msg] = field(default_factory=list)
    next_message_id: int = 1


@dataclass
class Fault:
    method: str | None  # None: any method
    code: int
    description: str
    retry_after: int | None
    times: int
    json_body: bool = True


@dataclass
class Bot:
    token: str
    user: dict[str, Any]
    updates: list[dict[str, Any]] = field(default_factory=list)
    next_update_id: int = 100
    webhook: dict[str, Any] | None = None
    webhook_error: tuple[int, str] | None = None
    poller: object | None = None  # the getUpdates request being answered
    faults: list[Fault] = field(default_factory=list)
    outage: bool = False
    hang: dict[str, int] = field(default_factory=dict)
    hold: dict[str, int] = field(default_factory=dict)  # method -> calls still let through first
    held: list[asyncio.Future[bool]] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    new_update: asyncio.Event | None = None
    clock: Clock | None = None  # this bot's time (``set_clock``), else the fake's


class FakeTelegram(FakeHarness):
    def __init__(self, *, clock: Clock | None = None) -> None:
        super().__init__()
        self.clock = clock or SystemClock()
        self.bots: dict[str, Bot] = {}
        self.chats: dict[int, Chat] = {}
        self.port = 0
        self._webhook_client: httpx.AsyncClient | None = None
        self._pushers: dict[str, asyncio.Task[None]] = {}
        self.change_count = 0  # grows with every call or change (tests wait for it to move)
        self.files: dict[str, tuple[str, Upload]] = {}  # file_id -> (file_path, the file): getFile

    # --- running ----------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def startup(self) -> None:
        app = Starlette(routes=[Route("/bot{token}/{method}", self._endpoint, methods=["GET", "POST"]),
                                Route("/file/bot{token}/{path:path}", self._download, methods=["GET"])])
        self.port = await self.serve_http(app, log_level="critical", timeout_keep_alive=30)

    def start(self, timeout: float = 30.0) -> FakeTelegram:
        super().start(timeout)
        return self

    def _soon(self, fn: Callable[[], Any]) -> None:
        """``soon``, and nothing before the fake started or after it stopped (a test may change
        the world then)."""
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(fn)

    # --- the world ----------------------------------------------------------------------
    def add_bot(self, username: str | None = None) -> str:
        bot_id = 6_000_000_000 + next(_ids)
        token = f"{bot_id}:AA{secrets.token_urlsafe(24)}"
        name = username or f"pp_test_{bot_id % 100000}_bot"
        user = {"id": bot_id, "is_bot": True, "first_name": "PocketPing", "username": name,
                "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}
        with self.lock:
            self.bots[token] = Bot(token, user)
        return token

    def add_forum(self, token: str, *, title: str = "Support", is_forum: bool = True, admin: bool = True,
                  can_manage_topics: bool = True, can_delete_messages: bool = True) -> int:
        chat_id = -1_000_000_000_000 - next(_ids)
        bot = self.bots[token]
        member: dict[str, Any] = {"status": "administrator" if admin else "member", "user": bot.user}
        if admin:
            member.update({"can_be_edited": False, "is_anonymous": False, "can_manage_chat": True,
                           "can_delete_messages": can_delete_messages, "can_manage_topics": can_manage_topics,
                           "can_pin_messages": True, "can_invite_users": True})
        with self.lock:
            chat = Chat(chat_id, title, is_forum=is_forum)
            chat.members[bot.user["id"]] = member
            chat.members[OPERATOR["id"]] = {"status": "creator", "user": OPERATOR, "is_anonymous": False}
            self.chats[chat_id] = chat
        return chat_id

    # --- controls -----------------------------------------------------------------------
    def fail_next(self, token: str, method: str | None, code: int = 429, *, retry_after: int | None = None,
                  description: str | None = None, times: int = 1, json_body: bool = True) -> None:
        """The next ``times`` calls of ``method`` (None: any) answer this error."""
        if description is None:
            description = {429: f"Too Many Requests: retry after {retry_after}", 500: "Internal Server Error",
                           502: "Bad Gateway", 400: "Bad Request"}.get(code, "Error")
        with self.lock:
            self.bots[token].faults.append(Fault(method, code, description, retry_after, times, json_body))

    def set_outage(self, token: str, down: bool) -> None:
        """While down, every call answers 502 with an HTML page, as a failing front end does."""
        with self.lock:
            self.bots[token].outage = down
        self._changed()

    def set_clock(self, token: str, clock: Clock) -> None:
        """This bot's chats run on ``clock`` (a server's FakeClock): what it sends, and what people
        write in its chats, is dated by it from now on, and deleteMessage's 48 hours are counted on it."""
        with self.lock:
            self.bots[token].clock = clock

    def now(self, token: str | None = None) -> datetime:
        """The time of one bot's world (its clock, else the fake's)."""
        with self.lock:
            bot = self.bots.get(token) if token else None
            return (bot.clock if bot is not None and bot.clock is not None else self.clock).now()

    def hang_next(self, token: str, method: str, times: int = 1) -> None:
        """The next calls never answer (the client's timeout fires)."""
        with self.lock:
            bot = self.bots[token]
            bot.hang[method] = bot.hang.get(method, 0) + times

    def hold(self, token: str, method: str, *, after: int = 0) -> None:
        """Calls wait, not yet done, until ``release`` (the first ``after`` calls go through):
        a test can kill the caller meanwhile."""
        with self.lock:
            self.bots[token].hold[method] = after

    def release(self, token: str, *, commit: bool = True) -> None:
        """Let held calls go on (``commit=False``: they fail as if never received)."""
        with self.lock:
            bot = self.bots[token]
            bot.hold.clear()
            held, bot.held = bot.held, []
        for fut in held:
            self._soon(lambda f=fut: f.done() or f.set_result(commit))  # type: ignore[misc]

    def held_count(self, token: str) -> int:
        with self.lock:
            return len(self.bots[token].held)

    def delete_topic(self, chat_id: int, thread_id: int) -> None:
        with self.lock:
            self.chats[chat_id].topics[thread_id].deleted = True
        self._changed()

    def operator_says(self, chat_id: int, thread_id: int | None, text: str, *,
                      user: dict[str, Any] | None = None) -> int:
        """A person writes in a topic (None: the General topic); every bot in the chat gets the update."""
        with self.lock:
            chat = self.chats[chat_id]
            msg = self._store(chat, thread_id, text, text, None)
            self._broadcast(chat, "message", self._message_json(chat, msg, user or OPERATOR))
        self._changed()
        return msg.message_id

    def operator_sends_file(self, chat_id: int, thread_id: int, filename: str, data: bytes, content_type: str, *,
                            caption: str | None = None, photo: bool = False,
                            user: dict[str, Any] | None = None) -> int:
        """A person shares a photo (compressed, ``photo``) or a file (a document) in a topic."""
        with self.lock:
            chat = self.chats[chat_id]
            msg = self._store(chat, thread_id, "", "", None)
            msg.file = self.register_file(Upload(filename, content_type, data))
            msg.kind = "photo" if photo else "document"
            body = self._message_json(chat, msg, user or OPERATOR)
            if caption:
                body["caption"] = caption
            self._broadcast(chat, "message", body)
        self._changed()
        return msg.message_id

    def register_file(self, upload: Upload) -> Upload:
        """Give a file its ``file_id`` and download path (getFile, /file/bot<token>/<path>)."""
        upload.file_id = f"AgAC{secrets.token_hex(12)}"
        folder = "photos" if upload.content_type.startswith("image/") else "documents"
        ext = upload.filename.rsplit(".", 1)[-1] if "." in upload.filename else "bin"
        self.files[upload.file_id] = (f"{folder}/file_{len(self.files)}.{ext}", upload)
        return upload

    def operator_sets_topic(self, chat_id: int, thread_id: int, *, closed: bool) -> None:
        """A person closes (or reopens) a topic in Telegram's own interface."""
        with self.lock:
            chat = self.chats[chat_id]
            chat.topics[thread_id].closed = closed
            msg = self._store(chat, thread_id, "", "", None)
            body = self._message_json(chat, msg, OPERATOR)
            body["forum_topic_closed" if closed else "forum_topic_reopened"] = {}
            self._broadcast(chat, "message", body)
        self._changed()

    def operator_deletes(self, chat_id: int, message_id: int) -> None:
        """A person deletes a message in Telegram's app: bots get no update for it (the Bot API has none)."""
        with self.lock:
            msg = next(m for m in self.chats[chat_id].messages if m.message_id == message_id)
            msg.deleted = True
        self._changed()

    def operator_edits(self, chat_id: int, message_id: int, text: str,
                       user: dict[str, Any] | None = None) -> None:
        with self.lock:
            chat = self.chats[chat_id]
            msg = next(m for m in chat.messages if m.message_id == message_id)
            msg.text = msg.source = text
            msg.edited = True
            body = self._message_json(chat, msg, user or OPERATOR)
            body["edit_date"] = int(time.time())
            self._broadcast(chat, "edited_message", body)
        self._changed()

    def inject_update(self, token: str, update: dict[str, Any]) -> None:
        """Queue a raw update for one bot (its own echo, another bot, a service message ...)."""
        with self.lock:
            self._queue(self.bots[token], update)
        self._changed()

    # --- inspection ---------------------------------------------------------------------
    def topics(self, chat_id: int) -> list[Topic]:
        with self.lock:
            return list(self.chats[chat_id].topics.values())

    def posts(self, chat_id: int, thread_id: int | None = None) -> list[Msg]:
        """What bots posted (not service messages, not people), oldest first."""
        with self.lock:
            return [m for m in self.chats[chat_id].messages
                    if m.from_bot and not m.deleted and (thread_id is None or m.thread_id == thread_id)]

    def calls(self, token: str, method: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [p for m, p in self.bots[token].calls if method is None or m == method]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 20.0) -> None:
        """Wait (without polling) until ``predicate()`` holds; checked after every change (a
        predicate that raises then counts as not yet)."""
        with self.lock:
            if predicate():
                return
        try:
            await self.wait_until(lambda: _safe(predicate), timeout)
        except TimeoutError:
            raise TimeoutError("the fake Telegram never reached the expected state") from None

    def _changed(self) -> None:
        with self.lock:
            self.change_count += 1
            bots = list(self.bots.values())
        self.changed()
        for bot in bots:
            if bot.new_update is not None:
                self._soon(bot.new_update.set)

    # --- internals: the world -------------------------------------------------------------
    def _store(self, chat: Chat, thread_id: int | None, text: str, source: str, token: str | None,
               parse_mode: str | None = None) -> Msg:
        msg = Msg(chat.id, chat.next_message_id, thread_id, text, source, token, parse_mode)
        # Dated on the sender's clock; a person's message on the clock of a bot of the chat that has one.
        senders = [self.bots[token]] if token else [b for b in self.bots.values() if b.user["id"] in chat.members]
        msg.sent = next((b.clock for b in senders if b.clock is not None), self.clock).now()
        chat.next_message_id += 1
        chat.messages.append(msg)
        return msg

    def _chat_json(self, chat: Chat) -> dict[str, Any]:
        return {"id": chat.id, "title": chat.title, "type": chat.type, "is_forum": chat.is_forum}

    def _message_json(self, chat: Chat, msg: Msg, user: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {"message_id": msg.message_id, "from": {k: v for k, v in user.items()
                                                                       if not k.startswith("can_")},
                                "chat": self._chat_json(chat), "date": int(time.time())}
        if msg.thread_id is not None:
            body["message_thread_id"] = msg.thread_id
            body["is_topic_message"] = True
        if msg.text and msg.file is None:
            body["text"] = msg.text
        if msg.file is not None:
            if msg.text:
                body["caption"] = msg.text
            if msg.kind == "photo":
                body["photo"] = [_photo_size(msg.file)]
            else:
                body["document"] = {"file_id": msg.file.file_id, "file_unique_id": msg.file.file_id[-10:],
                                    "file_name": msg.file.filename, "mime_type": msg.file.content_type,
                                    "file_size": len(msg.file.data)}
        return body

    def _queue(self, bot: Bot, update: dict[str, Any]) -> None:
        bot.next_update_id += 1
        bot.updates.append({"update_id": bot.next_update_id, **update})
        if bot.webhook is not None:
            self._soon(lambda b=bot: self._push(b))  # type: ignore[misc]

    def _broadcast(self, chat: Chat, kind: str, message: dict[str, Any], *, skip: str | None = None) -> None:
        for bot in self.bots.values():
            if bot.user["id"] in chat.members and bot.token != skip:
                self._queue(bot, {kind: message})

    def _service(self, chat: Chat, bot: Bot, thread_id: int, what: dict[str, Any]) -> None:
        msg = self._store(chat, thread_id, "", "", None)
        body = self._message_json(chat, msg, bot.user) | what
        self._broadcast(chat, "message", body)

    def _check(self, chat_id: object, bot: Bot) -> Chat:
        chat = self.chats.get(chat_id) if isinstance(chat_id, int) else None
        if chat is None or bot.user["id"] not in chat.members:
            raise ApiError(400, "Bad Request: chat not found")
        return chat

    def _topic(self, chat: Chat, thread_id: object) -> Topic:
        topic = chat.topics.get(thread_id) if isinstance(thread_id, int) else None
        if topic is None or topic.deleted:
            raise ApiError(400, "Bad Request: message thread not found")
        return topic

    # --- internals: webhooks --------------------------------------------------------------
    def _push(self, bot: Bot) -> None:
        if bot.token not in self._pushers or self._pushers[bot.token].done():
            self._pushers[bot.token] = asyncio.get_running_loop().create_task(self._pusher(bot))

    async def _pusher(self, bot: Bot) -> None:
        """Deliver queued updates to the webhook one at a time, in order, retrying failures."""
        self._webhook_client = self._webhook_client or httpx.AsyncClient(timeout=10)
        delay = 0.05
        while True:
            with self.lock:
                hook = bot.webhook
                if hook is None or not bot.updates:
                    return
                update = bot.updates[0]
            headers = {"Content-Type": "application/json"}
            if hook.get("secret_token"):
                headers["X-Telegram-Bot-Api-Secret-Token"] = hook["secret_token"]
            try:
                response = await self._webhook_client.post(hook["url"], content=orjson.dumps(update), headers=headers)
                ok = 200 <= response.status_code < 300
                error = None if ok else f"Wrong response from the webhook: {response.status_code}"
            except httpx.HTTPError as exc:
                ok, error = False, f"Connection failed: {type(exc).__name__}"
            with self.lock:
                if ok:
                    if bot.updates and bot.updates[0] is update:
                        bot.updates.pop(0)
                    delay = 0.05
                else:
                    bot.webhook_error = (int(time.time()), error or "error")
            self._changed()
            if not ok:
                await asyncio.sleep(delay)  # Telegram retries a failing webhook after a while
                delay = min(delay * 2, 2.0)

    # --- internals: HTTP ------------------------------------------------------------------
    async def _download(self, request: Request) -> Response:
        """``https://api.telegram.org/file/bot<token>/<file_path>``, the path getFile gave."""
        with self.lock:
            if request.path_params["token"] not in self.bots:
                return Response(b'{"ok":false,"error_code":401,"description":"Unauthorized"}', status_code=401)
            found = next((u for path, u in self.files.values() if path == request.path_params["path"]), None)
        if found is None:
            return Response(b'{"ok":false,"error_code":404,"description":"Not Found"}', status_code=404)
        return Response(found.data, media_type="application/octet-stream")

    async def _params(self, request: Request) -> dict[str, Any]:
        ctype = request.headers.get("content-type", "")
        if not ctype.lower().startswith("multipart/form-data"):
            return parse_params(request.url.query, ctype, await request.body())
        # Files are uploaded as multipart/form-data; the other fields are strings (JSON for objects).
        form = await request.form(max_part_size=60 * 1024 * 1024)
        params = parse_params(request.url.query, "", b"")
        uploads: dict[str, Any] = {}
        fields: list[tuple[str, str]] = []
        for key, value in form.multi_items():
            if isinstance(value, str):
                fields.append((key, value))
            else:
                uploads[key] = Upload(value.filename or "file", value.content_type or "application/octet-stream",
                                      await value.read())
        from urllib.parse import urlencode

        params.update(parse_params("", "application/x-www-form-urlencoded", urlencode(fields).encode()))
        params.update(uploads)
        return params

    async def _endpoint(self, request: Request) -> Response:
        token = request.path_params["token"]
        method = request.path_params["method"]
        try:
            params = await self._params(request)
            result = await self._call(token, method, params)
            body: dict[str, Any] = {"ok": True, "result": result}
            status = 200
        except ApiError as exc:
            body, status = exc.body(), exc.code
            if exc.code == 502:
                return Response("<html><body><h1>502 Bad Gateway</h1></body></html>", status_code=502,
                                media_type="text/html")
        finally:
            self._changed()
        headers = {"Retry-After": str(body["parameters"]["retry_after"])} if "parameters" in body else None
        return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)

    async def _call(self, token: str, method: str, params: dict[str, Any]) -> Any:
        from pocketping_testkit.fakes.telegram_methods import METHODS

        with self.lock:
            bot = self.bots.get(token)
            if bot is None:
                raise ApiError(401, "Unauthorized")
            bot.calls.append((method, params))
            if bot.outage:
                raise ApiError(502, "Bad Gateway")
            for fault in bot.faults:
                if fault.method in (None, method):
                    fault.times -= 1
                    if fault.times <= 0:
                        bot.faults.remove(fault)
                    if not fault.json_body:
                        raise ApiError(502, fault.description)
                    raise ApiError(fault.code, fault.description, fault.retry_after)
            hang = bot.hang.get(method, 0)
            if hang:
                bot.hang[method] = hang - 1
            held = method in bot.hold and bot.hold[method] <= 0
            if method in bot.hold and not held:
                bot.hold[method] -= 1
            if held:
                fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
                bot.held.append(fut)
        self._changed()  # a test may be waiting to see this call arrive
        if hang:
            await asyncio.sleep(3600)  # the client gives up first
        if held:
            if not await fut:
                raise ApiError(500, "Internal Server Error")
        handler = METHODS.get(method)
        if handler is None:
            raise ApiError(404, "Not Found")
        return await handler(self, bot, params)


def _safe(predicate: Callable[[], bool]) -> bool:
    try:
        return bool(predicate())
    except Exception:
        return False


def webhook_allowed(url: str) -> bool:
    parts = urlsplit(url)
    local = parts.hostname in ("127.0.0.1", "localhost", "::1")
    return parts.scheme == "https" or (parts.scheme == "http" and local)


__all__ = ["OPERATOR", "FakeTelegram", "Msg", "Topic", "html_to_text", "utf16_len"]


def _photo_size(upload: Upload) -> dict[str, Any]:
    import io

    from PIL import Image

    with Image.open(io.BytesIO(upload.data)) as img:
        width, height = img.size
    return {"file_id": upload.file_id, "file_unique_id": upload.file_id[-10:], "width": width, "height": height,
            "file_size": len(upload.data)}
