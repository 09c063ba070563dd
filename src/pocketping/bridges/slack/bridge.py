"""The Slack bridge: one thread per session in the configured channel.

The session card is the thread's parent message and its ``ts`` is the thread id. Every post
is paced per channel, escaped, split at 4,000 characters and tagged with message metadata
(our message id and part number) so that after an answer we never heard (a timeout, a 5xx)
we can look in the thread for what did get posted instead of posting it twice.

Operators' replies arrive as Events API callbacks (``events.SlackEventsRouter``) or over
Socket Mode (``socket.SocketModeClient``); both end in ``receive`` which processes each event
at most once and tells the transport whether to acknowledge it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pocketping.bridges.base import Finding, InboundReply, InboundSink, Outgoing, Posted, SessionCard, ThreadGone
from pocketping.bridges.slack.api import SlackApi, SlackError
from pocketping.bridges.slack.pacing import ChannelPacer
from pocketping.bridges.slack.render import card_message
from pocketping.bridges.slack.text import mention_ids, message_text, plain_message, split_text
from pocketping.clock import Clock
from pocketping.errors import DeliveryError

log = logging.getLogger(__name__)

# Bot scopes the bridge needs (docs/bridges/slack.md has the manifest).
REQUIRED_SCOPES = ("chat:write", "channels:history", "groups:history", "channels:read", "groups:read",
                   "users:read")
META_MESSAGE = "pocketping_message"
META_SESSION = "pocketping_session"
# Errors about what we sent: retrying the same content cannot help.
CONTENT_ERRORS = frozenset({"msg_too_long", "no_text", "invalid_blocks", "invalid_arguments",
                            "too_many_attachments", "invalid_metadata_format", "invalid_metadata_schema"})
# Message subtypes that are an operator writing (anything else is channel housekeeping).
REPLY_SUBTYPES = frozenset({"", "thread_broadcast", "file_share", "me_message"})
EVENT_DEADLINE = 2.5  # Slack wants an answer within 3 s
SEEN_SOURCE = "slack"


@dataclass(frozen=True)
class SlackConfig:
    bot_token: str
    channel_id: str
    signing_secret: str | None = None
    app_token: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SlackConfig:
        def pick(*names: str) -> str | None:
            for name in names:
                value = data.get(name)
                if value:
                    return str(value).strip()
            return None

        bot_token = pick("bot_token", "botToken", "token")
        channel_id = pick("channel_id", "channelId", "channel")
        if not bot_token or not channel_id:
            raise ValueError("a Slack bridge needs a bot token (xoxb-...) and a channel id")
        return cls(bot_token=bot_token, channel_id=channel_id,
                   signing_secret=pick("signing_secret", "signingSecret"),
                   app_token=pick("app_token", "appToken"))

    @property
    def socket_mode(self) -> bool:
        return bool(self.app_token)


def validate_config(data: Mapping[str, Any]) -> list[str]:
    """Problems with a Slack bridge's configuration, in words a user can act on (empty: fine)."""
    try:
        config = SlackConfig.from_dict(data)
    except ValueError as exc:
        return [str(exc)]
    problems = []
    if not config.bot_token.startswith("xoxb-"):
        problems.append("--bot-token must be the Bot User OAuth Token, which starts with xoxb-")
    if config.app_token and not config.app_token.startswith("xapp-"):
        problems.append("--app-token must be an app-level token, which starts with xapp-")
    if not config.app_token and not config.signing_secret:
        problems.append("--signing-secret is required unless --app-token is given (Socket Mode)")
    if config.channel_id[:1] not in ("C", "G"):
        problems.append("--channel-id must be a channel id such as C0123456789 (not the channel's name)")
    return problems


class SlackBridge:
    type = "slack"
    label = "Slack"

    def __init__(self, bridge_id: str, config: SlackConfig, *, api_url: str, clock: Clock,
                 router: Any = None, public_url: str | None = None, timeout: float = 10.0,
                 event_deadline: float = EVENT_DEADLINE, pacer: ChannelPacer | None = None) -> None:
        self.id = bridge_id
        self.config = config
        self.clock = clock
        self.api = SlackApi(api_url, config.bot_token, timeout=timeout)
        self.api_url = api_url
        self.timeout = timeout
        self.event_deadline = event_deadline
        self.router = router
        self.public_url = public_url
        self.pacer = pacer or ChannelPacer(clock)
        self.sink: InboundSink | None = None
        self.bot_user_id: str | None = None
        self.team_id: str | None = None
        self._socket: Any = None
        self._names: OrderedDict[str, str] = OrderedDict()
        # Posting progress kept across retries of one delivery: parts already posted, and
        # deliveries whose last attempt may have landed without us hearing back.
        self._progress: dict[tuple[str, str], list[str]] = {}
        self._uncertain: dict[tuple[str, str], float] = {}
        # Inbound events being or recently processed here, by event id.
        self._events: OrderedDict[str, asyncio.Task[None]] = OrderedDict()
        self._claimed: set[str] = set()
        self._background: set[asyncio.Task[Any]] = set()

    @property
    def channel_id(self) -> str:
        return self.config.channel_id

    @property
    def signing_secret(self) -> str | None:
        return self.config.signing_secret

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self, sink: InboundSink) -> None:
        self.sink = sink
        self._spawn(self._identify())
        if self.config.socket_mode:
            from pocketping.bridges.slack.socket import SocketModeClient

            assert self.config.app_token is not None
            self._socket = SocketModeClient(self.api_url, self.config.app_token, self.receive, self.clock,
                                            name=self.id, timeout=self.timeout)
            self._socket.start()
        elif self.router is not None:
            self.router.add(self)

    async def stop(self) -> None:
        if self.router is not None:
            self.router.remove(self)
        if self._socket is not None:
            await self._socket.stop()
            self._socket = None
        tasks = [*self._background, *(t for t in self._events.values() if not t.done())]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.api.aclose()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _identify(self) -> None:
        with contextlib.suppress(SlackError):
            me = await self.api.call("auth.test")
            self.bot_user_id = me.get("user_id")
            self.team_id = me.get("team_id")

    # --- outgoing -------------------------------------------------------------------------

    async def open_thread(self, card: SessionCard) -> Posted:
        key = ("", card.session.id)
        if key in self._uncertain:
            found = await self._find_card(card.session.id, self._uncertain[key])
            if found:
                self._uncertain.pop(key, None)
                return Posted(thread_id=found, message_ids=(found,))
        text, blocks = card_message(card)
        metadata = {"event_type": META_SESSION, "event_payload": {"session_id": card.session.id}}
        answer = await self._send(key, text=text, blocks=blocks, metadata=metadata)
        self._uncertain.pop(key, None)
        ts = str(answer["ts"])
        return Posted(thread_id=ts, message_ids=(ts,))

    async def post(self, thread_id: str, item: Outgoing) -> Posted:
        key = (thread_id, item.message.id)
        parts = split_text(message_text(item.author, item.text))
        done = self._progress.get(key, [])
        if key in self._uncertain:
            done = await self._find_parts(thread_id, item.message.id, self._uncertain[key])
        for index in range(len(done), len(parts)):
            metadata = {"event_type": META_MESSAGE,
                        "event_payload": {"message_id": item.message.id, "part": index}}
            answer = await self._send(key, text=parts[index], thread_ts=thread_id, metadata=metadata)
            done = [*done, str(answer["ts"])]
            self._progress[key] = done
        self._progress.pop(key, None)
        self._uncertain.pop(key, None)
        return Posted(message_ids=tuple(done))

    async def close_thread(self, thread_id: str) -> None:
        await self._notice(thread_id, "closed", "_This conversation is closed. "
                                                "It reopens when the visitor writes again._")

    async def reopen_thread(self, thread_id: str) -> None:
        await self._notice(thread_id, "reopened", "_This conversation is open again._")

    async def typing(self, thread_id: str) -> None:
        """Slack's Web API has no typing indicator for bots: nothing to do."""

    async def _notice(self, thread_id: str, what: str, text: str) -> None:
        key = (thread_id, f"notice:{what}")
        await self._send(key, text=text, thread_ts=thread_id)
        self._uncertain.pop(key, None)

    async def _send(self, key: tuple[str, str], *, text: str, thread_ts: str | None = None,
                    blocks: list[dict[str, Any]] | None = None,
                    metadata: dict[str, Any] | None = None) -> dict[str, Any]:
        await self.pacer.wait()
        try:
            answer = await self.api.call(
                "chat.postMessage", channel=self.channel_id, text=text, thread_ts=thread_ts, blocks=blocks,
                metadata=metadata, unfurl_links=False, unfurl_media=False)
        except SlackError as exc:
            if exc.ambiguous:
                self._uncertain.setdefault(key, self.clock.now().timestamp())
            raise self._delivery_error(exc, thread_ts) from exc
        message = answer.get("message")
        if thread_ts is not None and isinstance(message, Mapping):
            if message.get("thread_ts") != thread_ts:
                # The parent is gone and Slack posted a stray top-level message instead.
                with contextlib.suppress(SlackError):
                    await self.api.call("chat.delete", channel=self.channel_id, ts=answer.get("ts"))
                raise ThreadGone(f"Slack thread {thread_ts} no longer exists")
        return answer

    def _delivery_error(self, exc: SlackError, thread_ts: str | None) -> Exception:
        if exc.error in ("thread_not_found", "message_not_found") and thread_ts is not None:
            return ThreadGone(f"Slack thread {thread_ts} no longer exists")
        if exc.status == 429 or exc.error in ("ratelimited", "rate_limited"):
            retry_after = exc.retry_after if exc.retry_after is not None else 1.0
            self.pacer.hold(retry_after)
            return DeliveryError("Slack rate limit", retry_after=retry_after)
        if exc.error in CONTENT_ERRORS:
            return DeliveryError(f"Slack refused the message: {exc.error}", permanent=True)
        hint = _FIXES.get(exc.error)
        message = f"Slack {exc.method} failed: {exc.error}" + (f" ({hint})" if hint else "")
        return DeliveryError(message, retry_after=exc.retry_after)

    async def _find_parts(self, thread_id: str, message_id: str, since: float) -> list[str]:
        """The parts of a message an earlier, unanswered attempt did post (their ts, in order)."""
        found: dict[int, str] = {}
        for message in await self._history("conversations.replies", since, ts=thread_id):
            payload = _metadata(message, META_MESSAGE)
            if payload is not None and payload.get("message_id") == message_id:
                found[int(payload.get("part", 0))] = str(message["ts"])
        done: list[str] = []
        while len(done) in found:
            done.append(found[len(done)])
        return done

    async def _find_card(self, session_id: str, since: float) -> str | None:
        for message in await self._history("conversations.history", since):
            payload = _metadata(message, META_SESSION)
            if payload is not None and payload.get("session_id") == session_id:
                return str(message["ts"])
        return None

    async def _history(self, method: str, since: float, **params: Any) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        cursor = None
        try:
            for _ in range(20):
                page = await self.api.call(method, channel=self.channel_id, oldest=f"{since - 120:.6f}",
                                           include_all_metadata=True, limit=200, cursor=cursor, **params)
                messages.extend(m for m in page.get("messages") or () if isinstance(m, dict))
                cursor = (page.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    break
        except SlackError as exc:
            raise self._delivery_error(exc, params.get("ts")) from exc
        return messages

    # --- incoming -------------------------------------------------------------------------

    def accepts(self, payload: Mapping[str, Any]) -> bool:
        """Whether an event_callback is about this bridge's channel (cheap, before any work)."""
        event = payload.get("event")
        if not isinstance(event, Mapping) or event.get("type") != "message":
            return False
        if self.team_id and payload.get("team_id") not in (None, self.team_id):
            return False
        return event.get("channel") == self.channel_id

    async def receive(self, payload: Mapping[str, Any]) -> bool:
        """Process an event_callback at most once. True: acknowledge it; False: let Slack retry.

        A retry of an event still being processed joins it; a retry of one that failed here
        processes it again; a first delivery is never dropped.
        """
        if not self.accepts(payload):
            return True
        event_id = str(payload.get("event_id") or "")
        task = self._events.get(event_id) if event_id else None
        if task is None or (task.done() and (task.cancelled() or task.exception() is not None)):
            task = asyncio.create_task(self._process(payload, event_id))
            if event_id:
                self._events[event_id] = task
                self._events.move_to_end(event_id)
                while len(self._events) > 2000:
                    oldest, old = next(iter(self._events.items()))
                    if not old.done():
                        break
                    del self._events[oldest]
                    self._claimed.discard(oldest)
        done, _ = await asyncio.wait({task}, timeout=self.event_deadline)
        if not done:
            log.warning("Slack event %s is taking long; Slack will retry it and the retry will wait for it", event_id)
            return False
        if task.cancelled():
            return False
        error = task.exception()
        if error is not None:
            log.error("could not process Slack event %s: %s", event_id, error, exc_info=error)
            return False
        return True

    async def _process(self, payload: Mapping[str, Any], event_id: str) -> None:
        event = payload["event"]
        action = await self._parse(event)
        if action is None:
            return
        assert self.sink is not None, "the bridge was not started"
        if event_id and event_id not in self._claimed:
            if not await self.sink.seen(SEEN_SOURCE, f"{self.id}:{event_id}"):
                return
            self._claimed.add(event_id)
        await action()

    async def _parse(self, event: Mapping[str, Any]) -> Callable[[], Awaitable[None]] | None:
        """What an event means for us, as a coroutine function to run once; None to ignore it."""
        sink = self.sink
        assert sink is not None
        subtype = str(event.get("subtype") or "")
        if subtype == "message_changed":
            message, previous = event.get("message") or {}, event.get("previous_message") or {}
            thread_ts = message.get("thread_ts")
            if self._from_bot(message) or not thread_ts or thread_ts == message.get("ts"):
                return None
            names = await self._names_for(message)
            text = plain_message(message, names)
            if previous and text == plain_message(previous, names):
                return None  # an unfurl or a language tag, not an edit
            return lambda: sink.edited(self.id, str(thread_ts), str(message.get("ts")), text)
        if subtype == "message_deleted":
            previous = event.get("previous_message") or {}
            thread_ts, deleted = previous.get("thread_ts"), event.get("deleted_ts")
            if self._from_bot(previous) or not thread_ts or not deleted or thread_ts == deleted:
                return None
            return lambda: sink.deleted(self.id, str(thread_ts), str(deleted))
        if subtype not in REPLY_SUBTYPES or self._from_bot(event) or event.get("hidden"):
            return None
        thread_ts, ts, user = event.get("thread_ts"), event.get("ts"), event.get("user")
        if not thread_ts or thread_ts == ts or not user or not ts:
            return None  # channel chatter outside our threads
        names = await self._names_for(event)
        text = plain_message(event, names)
        if not text:
            return None
        reply = InboundReply(bridge_id=self.id, thread_id=str(thread_ts), text=text,
                             operator_name=await self.user_name(str(user)), external_id=str(ts),
                             platform_label=self.label, extra={"user": str(user)})
        return lambda: sink.reply(reply)

    def _from_bot(self, message: Mapping[str, Any]) -> bool:
        return bool(message.get("bot_id") or message.get("subtype") == "bot_message"
                    or (self.bot_user_id and message.get("user") == self.bot_user_id))

    async def _names_for(self, message: Mapping[str, Any]) -> dict[str, str]:
        ids = mention_ids(str(message.get("text") or ""), message.get("blocks") or ())
        return {user: await self.user_name(user) for user in ids}

    async def user_name(self, user_id: str) -> str:
        """The name the team knows a user by (display name, else real name), cached."""
        if user_id in self._names:
            self._names.move_to_end(user_id)
            return self._names[user_id]
        name = user_id
        try:
            info = await self.api.call("users.info", user=user_id)
            user = info.get("user") or {}
            profile = user.get("profile") or {}
            name = str(profile.get("display_name") or profile.get("real_name") or user.get("real_name")
                       or user.get("name") or user_id)
        except SlackError as exc:
            log.info("could not look up Slack user %s: %s", user_id, exc.error)
            return name  # not cached: try again next time
        self._names[user_id] = name
        if len(self._names) > 1000:
            self._names.popitem(last=False)
        return name

    # --- doctor ---------------------------------------------------------------------------

    async def check(self) -> list[Finding]:
        from pocketping.bridges.slack.doctor import run_checks

        return await run_checks(self)


def _metadata(message: Mapping[str, Any], event_type: str) -> dict[str, Any] | None:
    metadata = message.get("metadata")
    if isinstance(metadata, Mapping) and metadata.get("event_type") == event_type:
        payload = metadata.get("event_payload")
        return dict(payload) if isinstance(payload, Mapping) else None
    return None


_FIXES = {
    "not_in_channel": "invite the bot to the channel: type /invite @YourBot in it",
    "channel_not_found": "check --channel-id; for a private channel, invite the bot first",
    "is_archived": "the channel is archived: unarchive it or point the bridge at another channel",
    "invalid_auth": "the bot token is wrong or was revoked: copy it again from OAuth & Permissions",
    "token_revoked": "the app was uninstalled or the token revoked: reinstall the app",
    "account_inactive": "the app was uninstalled or the token revoked: reinstall the app",
    "missing_scope": "add the missing bot scopes in OAuth & Permissions and reinstall the app",
}
