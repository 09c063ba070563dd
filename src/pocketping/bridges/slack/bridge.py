"""The Slack bridge: one thread per session in the configured channel.

The session card is the thread's parent message and its ``ts`` is the thread id. Every post
is paced per channel, escaped, cut at 4,000 characters and tagged with message metadata (our
message id and a digest of the text). Slack has no idempotency keys, so when a post may
already have landed (an answer we never heard, or a delivery retried long after its message
was written, as after a crash), the thread is read back first and what is there is not
posted again.

Operators' replies arrive as Events API callbacks (``events.SlackEventsRouter``) or over
Socket Mode (``socket.SocketModeClient``); ``inbound.EventHandler`` turns them into calls
on the sink.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pocketping.bridges.base import Finding, InboundSink, Outgoing, Posted, SessionCard, ThreadGone
from pocketping.bridges.pacing import Limit, Pacer
from pocketping.bridges.slack.api import SlackApi, SlackError
from pocketping.bridges.slack.inbound import EventHandler
from pocketping.bridges.slack.render import card_message, card_status
from pocketping.bridges.slack.text import MAX_CHARS, escape, message_text, split_text, unescape
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
EVENT_DEADLINE = 2.5  # Slack wants an answer within 3 s
# Slack: chat.postMessage "one message per second per channel, short bursts allowed".
CHANNEL_LIMIT = Limit(rate=1.0, burst=3)
# A delivery retried after a crash comes at least one outbox lease after its first try, so
# anything older than that may already be in Slack: look first (the factory passes the lease).
RECHECK_AFTER = 60.0
RECHECK_WINDOW = 3600.0  # ... at most this far back


@dataclass(frozen=True)
class SlackConfig:
    bot_token: str
    channel_id: str
    signing_secret: str | None = None
    app_token: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SlackConfig:
        bot_token, channel_id = str(data.get("bot_token") or ""), str(data.get("channel_id") or "")
        if not bot_token or not channel_id:
            raise ValueError("a Slack bridge needs a bot token (xoxb-...) and a channel id")
        return cls(bot_token=bot_token, channel_id=channel_id,
                   signing_secret=str(data["signing_secret"]) if data.get("signing_secret") else None,
                   app_token=str(data["app_token"]) if data.get("app_token") else None)


class SlackBridge:
    type = "slack"
    label = "Slack"

    def __init__(self, bridge_id: str, config: SlackConfig, *, api_url: str, clock: Clock,
                 router: Any = None, public_url: str | None = None, timeout: float = 10.0,
                 event_deadline: float = EVENT_DEADLINE, pacer: Pacer | None = None,
                 pace: Limit = CHANNEL_LIMIT, max_wait: float = 30.0, recheck_after: float = RECHECK_AFTER) -> None:
        self.id = bridge_id
        self.config = config
        self.clock = clock
        self.api = SlackApi(api_url, config.bot_token, timeout=timeout)
        self.api_url = api_url
        self.timeout = timeout
        self.event_deadline = event_deadline
        self.router = router
        self.public_url = public_url
        # Shared by every bridge of the process posting to this channel (see the factory).
        self.pacer = pacer or Pacer(clock)
        self.pace = pace
        self.pace_key = f"slack:{config.channel_id}"
        self.max_wait = max_wait  # longer than this, a delivery gives its outbox lease back
        self.recheck_after = recheck_after
        self.sink: InboundSink | None = None
        self.bot_user_id: str | None = None
        self.team_id: str | None = None
        self.events = EventHandler(self)
        self._socket: Any = None
        self._names: OrderedDict[str, str] = OrderedDict()
        # Posts whose answer we never heard (they may have landed), by (thread, message id, digest).
        self._uncertain: dict[tuple[str, str, str], float] = {}
        self._posted: OrderedDict[tuple[str, str, str], str] = OrderedDict()  # recent posts, same key
        # What a read-back found in a thread: {thread: (read at, {(message id, digest): ts})}.
        self._readback: OrderedDict[str, tuple[float, dict[tuple[str, str], str]]] = OrderedDict()
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
        task = asyncio.create_task(self._identify())
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        if self.config.app_token:
            from pocketping.bridges.slack.socket import SocketModeClient

            self._socket = SocketModeClient(self.api_url, self.config.app_token, self.receive, self.clock,
                                            name=self.id, timeout=self.timeout,
                                            on_status=lambda status, detail: sink.report(self.id, status, detail))
            self._socket.start()
        elif self.router is not None:
            self.router.add(self)

    async def stop(self) -> None:
        if self.router is not None:
            self.router.remove(self)
        if self._socket is not None:
            await self._socket.stop()
            self._socket = None
        await self.events.stop()
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await self.api.aclose()

    async def _identify(self) -> None:
        with contextlib.suppress(SlackError):
            me = await self.api.call("auth.test")
            self.bot_user_id = me.get("user_id")
            self.team_id = me.get("team_id")

    # --- outgoing -------------------------------------------------------------------------

    async def open_thread(self, card: SessionCard) -> Posted:
        session = card.session
        key = ("", session.id, "card")
        since = self._uncertain.get(key)
        started = (session.first_message_at or session.created_at).timestamp()
        if since is None and self.clock.now().timestamp() - started >= self.recheck_after:
            since = started
        if since is not None:
            found = await self._find_card(session.id, since)
            if found:
                self._uncertain.pop(key, None)
                return Posted(thread_id=found, message_ids=(found,))
        text, blocks = card_message(card)
        metadata = {"event_type": META_SESSION, "event_payload": {"session_id": session.id, "title": card.title}}
        answer = await self._send(key, text=text, blocks=blocks, metadata=metadata)
        self._uncertain.pop(key, None)
        ts = str(answer["ts"])
        return Posted(thread_id=ts, message_ids=(ts,))

    def parts(self, item: Outgoing) -> list[Outgoing]:
        """The item cut so that each part, escaped and signed, fits Slack's 4,000 characters."""
        budget = MAX_CHARS - len(message_text(item.author, ""))
        pieces = split_text(escape(item.text), max(budget, MAX_CHARS // 2))
        if len(pieces) <= 1:
            return [item]
        return [dataclasses.replace(item, text=unescape(piece)) for piece in pieces]

    async def post(self, thread_id: str, item: Outgoing) -> Posted:
        return Posted(message_ids=tuple([await self._post_one(thread_id, part) for part in self.parts(item)]))

    async def _post_one(self, thread_id: str, item: Outgoing) -> str:
        text = message_text(item.author, item.text)
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        key = (thread_id, item.message.id, digest)
        if key in self._posted:  # a retry of a delivery whose first parts went through
            return self._posted[key]
        since = self._uncertain.get(key)
        written = item.message.created_at.timestamp()
        if since is None and self.clock.now().timestamp() - written >= self.recheck_after:
            since = written
        if since is not None:
            found = (await self._read_back(thread_id, since, fresh=key in self._uncertain)).get(
                (item.message.id, digest))
            if found:
                self._uncertain.pop(key, None)
                return found
        metadata = {"event_type": META_MESSAGE, "event_payload": {"message_id": item.message.id, "digest": digest}}
        answer = await self._send(key, text=text, thread_ts=thread_id, metadata=metadata)
        self._uncertain.pop(key, None)
        ts = str(answer["ts"])
        cached = self._readback.get(thread_id)
        if cached is not None:
            cached[1][(item.message.id, digest)] = ts
        self._posted[key] = ts
        while len(self._posted) > 2000:
            self._posted.popitem(last=False)
        return ts

    async def close_thread(self, thread_id: str) -> None:
        await self._mark_card(thread_id, closed=True)

    async def reopen_thread(self, thread_id: str) -> None:
        await self._mark_card(thread_id, closed=False)

    async def typing(self, thread_id: str) -> None:
        """Slack's Web API has no typing indicator for bots: nothing to do."""

    async def _send(self, key: tuple[str, str, str], *, text: str, thread_ts: str | None = None,
                    blocks: list[dict[str, Any]] | None = None,
                    metadata: dict[str, Any] | None = None) -> dict[str, Any]:
        await self.pacer.wait(self.pace_key, self.pace, max_wait=self.max_wait)
        try:
            answer = await self.api.call(
                "chat.postMessage", channel=self.channel_id, text=text, thread_ts=thread_ts, blocks=blocks,
                metadata=metadata, unfurl_links=False, unfurl_media=False)
        except SlackError as exc:
            if exc.ambiguous:
                self._uncertain.setdefault(key, self.clock.now().timestamp())
                if len(self._uncertain) > 1000:  # deliveries given up on long ago
                    del self._uncertain[min(self._uncertain, key=self._uncertain.__getitem__)]
            raise self._delivery_error(exc, thread_ts) from exc
        message = answer.get("message")
        if thread_ts is not None and isinstance(message, Mapping) and message.get("thread_ts") != thread_ts:
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
            self.pacer.penalize(self.pace_key, retry_after)
            return DeliveryError("Slack rate limit", retry_after=retry_after)
        if exc.error in CONTENT_ERRORS:
            return DeliveryError(f"Slack refused the message: {exc.error}", permanent=True)
        hint = _FIXES.get(exc.error)
        message = f"Slack {exc.method} failed: {exc.error}" + (f" ({hint})" if hint else "")
        return DeliveryError(message, retry_after=exc.retry_after)

    async def _mark_card(self, thread_id: str, *, closed: bool) -> None:
        """Show on the card (the thread's parent) whether the conversation is closed. The planner
        posts the notice line in the thread; this only keeps the channel's overview right."""
        try:
            page = await self.api.call("conversations.replies", channel=self.channel_id, ts=thread_id, limit=1,
                                       include_all_metadata=True)
        except SlackError as exc:
            if exc.error == "thread_not_found":
                raise ThreadGone(f"Slack thread {thread_id} no longer exists") from exc
            raise self._delivery_error(exc, None) from exc
        parent = next((m for m in page.get("messages") or () if m.get("ts") == thread_id), None)
        meta = _metadata(parent, META_SESSION) if parent is not None else None
        if parent is None or meta is None or not meta.get("title"):
            return  # not a card of ours (or Slack did not say): nothing to update
        changed = card_status(str(meta["title"]), list(parent.get("blocks") or ()), closed=closed)
        if changed is None:
            return
        text, blocks = changed
        try:
            await self.api.call("chat.update", channel=self.channel_id, ts=thread_id, text=text, blocks=blocks,
                                metadata=parent.get("metadata"))
        except SlackError as exc:
            raise self._delivery_error(exc, None) from exc

    # --- reading back what may already be there -----------------------------------------------

    async def _read_back(self, thread_id: str, since: float, *, fresh: bool) -> dict[tuple[str, str], str]:
        """Our posts in a thread since ``since``, by (message id, digest); read once per backlog
        (a cached read knows everything posted before it, and what we posted since)."""
        now = self.clock.now().timestamp()
        cached = self._readback.get(thread_id)
        if not fresh and cached is not None and cached[0] >= since and now - cached[0] < 120:
            return cached[1]
        found: dict[tuple[str, str], str] = {}
        for message in await self._history("conversations.replies", since, ts=thread_id):
            payload = _metadata(message, META_MESSAGE)
            if payload is not None and payload.get("message_id") and payload.get("digest"):
                found.setdefault((str(payload["message_id"]), str(payload["digest"])), str(message["ts"]))
        self._readback[thread_id] = (now, found)
        self._readback.move_to_end(thread_id)
        while len(self._readback) > 200:
            self._readback.popitem(last=False)
        return found

    async def _find_card(self, session_id: str, since: float) -> str | None:
        for message in await self._history("conversations.history", since):
            payload = _metadata(message, META_SESSION)
            if payload is not None and payload.get("session_id") == session_id:
                return str(message["ts"])
        return None

    async def _history(self, method: str, since: float, **params: Any) -> list[dict[str, Any]]:
        oldest = max(since - 120, self.clock.now().timestamp() - RECHECK_WINDOW)
        messages: list[dict[str, Any]] = []
        cursor = None
        try:
            for _ in range(20):
                page = await self.api.call(method, channel=self.channel_id, oldest=f"{oldest:.6f}",
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
        return self.events.accepts(payload)

    async def receive(self, payload: Mapping[str, Any], retry: int = 0) -> bool:
        """Process an event_callback at most once. True: acknowledge it; False: let Slack retry."""
        return await self.events.receive(payload, retry)

    async def user_name(self, user_id: str) -> str:
        """The name the team knows a user by (display name, else real name), cached."""
        if user_id in self._names:
            self._names.move_to_end(user_id)
            return self._names[user_id]
        try:
            info = await self.api.call("users.info", user=user_id)
        except SlackError as exc:
            log.info("could not look up Slack user %s: %s", user_id, exc.error)
            return user_id  # not cached: try again next time
        user = info.get("user") or {}
        profile = user.get("profile") or {}
        name = str(profile.get("display_name") or profile.get("real_name") or user.get("real_name")
                   or user.get("name") or user_id)
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
