"""The Bot API methods the fake answers, with the checks and errors the real API has."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pocketping_testkit.fakes.telegram_http import ApiError, html_to_text, utf16_len

if TYPE_CHECKING:
    from pocketping_testkit.fakes.telegram import Bot, Chat, FakeTelegram, Topic

Handler = Callable[["FakeTelegram", "Bot", dict[str, Any]], Awaitable[Any]]
METHODS: dict[str, Handler] = {}
SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


def method(fn: Handler) -> Handler:
    METHODS[fn.__name__.rstrip("_")] = fn
    return fn


@method
async def getMe(fake: FakeTelegram, bot: Bot, params: dict[str, Any]) -> Any:
    return dict(bot.user)


@method
async def getChat(fake: FakeTelegram, bot: Bot, params: dict[str, Any]) -> Any:
    with fake.lock:
        chat = fake._check(params.get("chat_id"), bot)
        return fake._chat_json(chat) | {"accent_color_id": 0, "max_reaction_count": 11}


@method
async def getChatMember(fake: FakeTelegram, bot: Bot, params: dict[str, Any]) -> Any:
    with fake.lock:
        chat = fake._check(params.get("chat_id"), bot)
        member = chat.members.get(params.get("user_id"))  # type: ignore[arg-type]
        if member is None:
            raise ApiError(400, "Bad Request: user not found")
        return member


def _text(params: dict[str, Any]) -> tuple[str, str]:
    source = params.get("text")
    if not isinstance(source, str) or not source.strip():
        raise ApiError(400, "Bad Request: message text is empty")
    shown = html_to_text(source) if str(params.get("parse_mode", "")).upper() == "HTML" else source
    if not shown.strip():
        raise ApiError(400, "Bad Request: message text is empty")
    if utf16_len(shown) > 4096:
        raise ApiError(400, "Bad Request: message is too long")
    return shown, source


@method
async def sendMessage(fake: FakeTelegram, bot: Bot, params: dict[str, Any]) -> Any:
    with fake.lock:
        chat = fake._check(params.get("chat_id"), bot)
        thread = params.get("message_thread_id")
        if thread is not None:
            fake._topic(chat, thread)
        shown, source = _text(params)
        msg = fake._store(chat, thread, shown, source, bot.token, params.get("parse_mode"))
        return fake._message_json(chat, msg, bot.user)


MAX_UPLOAD = 50 * 1024 * 1024  # bots send files up to 50 MB
MAX_PHOTO = 10 * 1024 * 1024  # photos up to 10 MB
MAX_DOWNLOAD = 20 * 1024 * 1024  # getFile serves files up to 20 MB


async def _send_file(fake: FakeTelegram, bot: Bot, params: dict[str, Any], field: str) -> Any:
    from pocketping_testkit.fakes.telegram import Upload

    with fake.lock:
        chat = fake._check(params.get("chat_id"), bot)
        thread = params.get("message_thread_id")
        if thread is not None:
            fake._topic(chat, thread)
        upload = params.get(field)
        if not isinstance(upload, Upload):
            raise ApiError(400, f"Bad Request: there is no {field} in the request")
        if len(upload.data) > MAX_UPLOAD:
            raise ApiError(413, "Request Entity Too Large")
        if field == "photo":
            if len(upload.data) > MAX_PHOTO:
                raise ApiError(400, "Bad Request: PHOTO_SAVE_FILE_INVALID")
            if not upload.data.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"RIFF")):
                raise ApiError(400, "Bad Request: IMAGE_PROCESS_FAILED")
        caption = params.get("caption") or ""
        shown = html_to_text(caption) if caption and str(params.get("parse_mode", "")).upper() == "HTML" else caption
        if utf16_len(shown) > 1024:
            raise ApiError(400, "Bad Request: message caption is too long")
        msg = fake._store(chat, thread, shown, caption, bot.token, params.get("parse_mode"))
        msg.file, msg.kind = fake.register_file(upload), field
        return fake._message_json(chat, msg, bot.user)


@method
async def sendPhoto(fake: FakeTelegram, bot: Bot, params: dict[str, Any]) -> Any:
    return await _send_file(fake, bot, params, "photo")


@method
async def sendDocument(fake: FakeTelegram, bot: Bot, params: dict[str, Any]) -> Any:
    return await _send_file(fake, bot, params, "document")


@method
async def getFile(fake: FakeTelegram, bot: Bot, params: dict[str, Any]) -> Any:
    with fake.lock:
        found = fake.files.get(str(params.get("file_id") or ""))
        if found is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        path, upload = found
        if len(upload.data) > MAX_DOWNLOAD:
            raise ApiError(400, "Bad Request: file is too big")
        return {"file_id": upload.file_id, "file_unique_id": upload.file_id[-10:], "file_size": len(upload.data),
                "file_path": path}


@method
async def editMessageText(fake: FakeTelegram, bot: Bot, params: dict[str, Any]) -> Any:
    with fake.lock:
        chat = fake._check(params.get("chat_id"), bot)
        msg = next((m for m in chat.messages if m.message_id == params.get("message_id") and not m.deleted), None)
        if msg is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if msg.from_bot != bot.token:
            raise ApiError(400, "Bad Request: message can't be edited")
        shown, source = _text(params)
        if source == msg.source:
            raise ApiError(400, "Bad Request: message is not modified: specified new message content and reply "
                                "markup are exactly the same as a current content and reply markup of the message")
        msg.text, msg.source, msg.edited = shown, source, True
        return fake._message_json(chat, msg, bot.user) | {"edit_date": int(time.time())}


DELETE_WINDOW = timedelta(hours=48)  # "a message can only be deleted if it was sent less than 48 hours ago"


@method
async def deleteMessage(fake: FakeTelegram, bot: Bot, params: dict[str, Any]) -> Any:
    """As documented: only within 48 hours of sending (on the bot's clock); another's message only
    with the administrator right ``can_delete_messages``. Refused: 400 "message can't be deleted"."""
    with fake.lock:
        chat = fake._check(params.get("chat_id"), bot)
        msg = next((m for m in chat.messages if m.message_id == params.get("message_id") and not m.deleted), None)
        if msg is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        now = (bot.clock or fake.clock).now()
        if msg.sent is not None and now - msg.sent >= DELETE_WINDOW:
            raise ApiError(400, "Bad Request: message can't be deleted")
        member = chat.members.get(bot.user["id"], {})
        if msg.from_bot != bot.token and not (member.get("status") == "administrator"
                                              and member.get("can_delete_messages")):
            raise ApiError(400, "Bad Request: message can't be deleted")
        msg.deleted = True
        return True


def _may_manage_topics(fake: FakeTelegram, bot: Bot, chat_id: int) -> None:
    member = fake.chats[chat_id].members.get(bot.user["id"], {})
    if member.get("status") != "administrator" or not member.get("can_manage_topics"):
        raise ApiError(400, "Bad Request: not enough rights to manage topics")


@method
async def createForumTopic(fake: FakeTelegram, bot: Bot, params: dict[str, Any]) -> Any:
    from pocketping_testkit.fakes.telegram import Topic

    with fake.lock:
        chat = fake._check(params.get("chat_id"), bot)
        if not chat.is_forum:
            raise ApiError(400, "Bad Request: the chat is not a forum")
        _may_manage_topics(fake, bot, chat.id)
        name = params.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ApiError(400, "Bad Request: TOPIC_TITLE_EMPTY")
        if len(name) > 128:
            raise ApiError(400, "Bad Request: TOPIC_TITLE_INVALID")
        thread_id = chat.next_message_id  # a topic's id is the id of the message that created it
        icon = params.get("icon_color") or 7322096
        chat.topics[thread_id] = Topic(thread_id, name)
        fake._service(chat, bot, thread_id, {"forum_topic_created": {"name": name, "icon_color": icon}})
        return {"message_thread_id": thread_id, "name": name, "icon_color": icon}


def _managed_topic(fake: FakeTelegram, bot: Bot, params: dict[str, Any]) -> tuple[Chat, Topic]:
    chat = fake._check(params.get("chat_id"), bot)
    _may_manage_topics(fake, bot, chat.id)
    topic = chat.topics.get(params.get("message_thread_id"))  # type: ignore[arg-type]
    if topic is None or topic.deleted:
        raise ApiError(400, "Bad Request: TOPIC_ID_INVALID")
    return chat, topic


async def _topic_state(fake: FakeTelegram, bot: Bot, params: dict[str, Any], closed: bool) -> Any:
    with fake.lock:
        chat, topic = _managed_topic(fake, bot, params)
        if topic.closed == closed:
            raise ApiError(400, "Bad Request: TOPIC_NOT_MODIFIED")
        topic.closed = closed
        fake._service(chat, bot, topic.id, {"forum_topic_closed" if closed else "forum_topic_reopened": {}})
        return True


@method
async def closeForumTopic(fake: FakeTelegram, bot: Bot, params: dict[str, Any]) -> Any:
    return await _topic_state(fake, bot, params, True)


@method
async def reopenForumTopic(fake: FakeTelegram, bot: Bot, params: dict[str, Any]) -> Any:
    return await _topic_state(fake, bot, params, False)


@method
async def editForumTopic(fake: FakeTelegram, bot: Bot, params: dict[str, Any]) -> Any:
    with fake.lock:
        _, topic = _managed_topic(fake, bot, params)
        name = params.get("name")
        if isinstance(name, str):
            if not name.strip() or len(name) > 128:
                raise ApiError(400, "Bad Request: TOPIC_TITLE_INVALID")
            if name == topic.name:
                raise ApiError(400, "Bad Request: TOPIC_NOT_MODIFIED")
            topic.name = name
        return True


@method
async def deleteForumTopic(fake: FakeTelegram, bot: Bot, params: dict[str, Any]) -> Any:
    """The topic and every message in it are gone (the fake forgets them)."""
    with fake.lock:
        chat, topic = _managed_topic(fake, bot, params)
        del chat.topics[topic.id]
        chat.messages = [m for m in chat.messages if m.thread_id != topic.id]
        return True


@method
async def sendChatAction(fake: FakeTelegram, bot: Bot, params: dict[str, Any]) -> Any:
    with fake.lock:
        chat = fake._check(params.get("chat_id"), bot)
        if params.get("action") not in ("typing", "upload_photo", "record_video", "upload_video", "record_voice",
                                         "upload_voice", "upload_document", "choose_sticker", "find_location",
                                         "record_video_note", "upload_video_note"):
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        if params.get("message_thread_id") is not None:
            fake._topic(chat, params["message_thread_id"])
        return True


@method
async def setWebhook(fake: FakeTelegram, bot: Bot, params: dict[str, Any]) -> Any:
    from pocketping_testkit.fakes.telegram import webhook_allowed

    url = params.get("url") or ""
    secret = params.get("secret_token")
    if secret is not None and not SECRET_TOKEN.match(str(secret)):
        raise ApiError(400, "Bad Request: secret token contains unallowed characters")
    with fake.lock:
        if not url:
            bot.webhook = None
            return True
        if not webhook_allowed(url):
            raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        bot.webhook = {"url": url, "secret_token": secret, "allowed_updates": params.get("allowed_updates"),
                       "max_connections": params.get("max_connections") or 40}
        bot.webhook_error = None
        if params.get("drop_pending_updates"):
            bot.updates.clear()
        pending = bool(bot.updates)
    if pending:
        fake._push(bot)
    return True


@method
async def deleteWebhook(fake: FakeTelegram, bot: Bot, params: dict[str, Any]) -> Any:
    with fake.lock:
        bot.webhook = None
        if params.get("drop_pending_updates"):
            bot.updates.clear()
    return True


@method
async def getWebhookInfo(fake: FakeTelegram, bot: Bot, params: dict[str, Any]) -> Any:
    with fake.lock:
        hook = bot.webhook or {}
        info: dict[str, Any] = {"url": hook.get("url", ""), "has_custom_certificate": False,
                                "pending_update_count": len(bot.updates)}
        if hook:
            info["max_connections"] = hook["max_connections"]
            if hook.get("allowed_updates"):
                info["allowed_updates"] = hook["allowed_updates"]
        if bot.webhook_error:
            info["last_error_date"], info["last_error_message"] = bot.webhook_error
        return info


@method
async def getUpdates(fake: FakeTelegram, bot: Bot, params: dict[str, Any]) -> Any:
    offset = params.get("offset")
    limit = max(1, min(100, int(params.get("limit") or 100)))
    timeout = max(0, int(params.get("timeout") or 0))
    allowed = params.get("allowed_updates")
    me = object()
    with fake.lock:
        if bot.webhook is not None:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook "
                                "to delete the webhook first")
        if bot.new_update is None:
            bot.new_update = asyncio.Event()
        event = bot.new_update
        if bot.poller is not None:
            event.set()  # wake the earlier request: it loses
        bot.poller = me
    fake._changed()  # a test may wait for a poll to be under way
    deadline = asyncio.get_running_loop().time() + timeout
    try:
        while True:
            with fake.lock:
                if bot.poller is not me:
                    raise ApiError(409, "Conflict: terminated by other getUpdates request; make sure that only one "
                                        "bot instance is running")
                if isinstance(offset, int):
                    # Confirms every update below the offset: Telegram forgets them.
                    bot.updates = [u for u in bot.updates if u["update_id"] >= offset]
                ready = [u for u in bot.updates if not allowed or any(k in u for k in allowed)][:limit]
                if ready or asyncio.get_running_loop().time() >= deadline:
                    return ready
                event.clear()
            left = deadline - asyncio.get_running_loop().time()
            try:
                await asyncio.wait_for(event.wait(), max(0.0, left))
            except TimeoutError:
                pass
    finally:
        with fake.lock:
            if bot.poller is me:
                bot.poller = None
