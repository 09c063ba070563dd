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
import hashlib
import re
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Mapping
from typing import Any, TypeVar

from pocketping.bridges.base import (
    Erased,
    Finding,
    InboundSink,
    Outgoing,
    OutgoingFile,
    Posted,
    SessionCard,
    ThreadGone,
    Throttled,
)
from pocketping.bridges.deps import DEFAULT_HTTP, BridgeDeps, HttpClientFactory
from pocketping.bridges.pacing import Limit, Pacer
from pocketping.bridges.slack import format as fmt
from pocketping.bridges.slack.api import MaybePosted, SlackApi
from pocketping.bridges.slack.config import SlackConfig
from pocketping.bridges.slack.doctor import run_checks
from pocketping.bridges.slack.events import SlackEventsRouter
from pocketping.bridges.slack.inbound import EVENT_DEADLINE, EventHandler
from pocketping.bridges.slack.text import message_text
from pocketping.clock import Clock
from pocketping.core.models import BridgeRecord
from pocketping.errors import DeliveryError

T = TypeVar("T")

META_MESSAGE = "pocketping_message"
META_SESSION = "pocketping_session"
# Slack: chat.postMessage "one message per second per channel, short bursts allowed".
CHANNEL_LIMIT = Limit(rate=1.0, burst=3)
SLACK_TS = re.compile(r"^\d+\.\d+$")  # a message's ts (a copy's id); a file we shared is recorded by its id
# A delivery retried after a crash comes at least one outbox lease after its first try, so
# anything older than that may already be in Slack: look first (the factory passes the lease).
RECHECK_AFTER = 60.0
RECHECK_WINDOW = 3600.0  # ... at most this far back


class SlackBridge:
    type = "slack"
    label = "Slack"
    max_file_bytes = 1024 * 1024 * 1024  # Slack's per-file limit; a workspace's storage limit answers an error
    caption_chars = 3000

    def __init__(self, bridge_id: str, config: SlackConfig, *, api_url: str, clock: Clock,
                 router: SlackEventsRouter | None = None, public_url: str | None = None, timeout: float = 10.0,
                 event_deadline: float = EVENT_DEADLINE, pacer: Pacer | None = None,
                 pace: Limit = CHANNEL_LIMIT, max_wait: float = 30.0, recheck_after: float = RECHECK_AFTER,
                 http: HttpClientFactory = DEFAULT_HTTP) -> None:
        self.id = bridge_id
        self.config = config
        self.clock = clock
        self.http = http
        self.api = SlackApi(api_url, config.bot_token, timeout=timeout, http=http)
        self.api_url = api_url
        self.timeout = timeout
        self.router = router
        self.public_url = public_url
        # Shared by every bridge of the process posting to this channel (see the factory).
        self.pacer = pacer or Pacer(clock)
        self.pace = pace
        self.pace_key = f"slack:{config.channel_id}"
        self.max_wait = max_wait  # longer than this, a delivery gives its outbox lease back
        self.recheck_after = recheck_after
        self.events = EventHandler(self.id, config.channel_id, self.api, label=self.label, deadline=event_deadline)
        self._socket: Any = None
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
        self.events.sink = sink
        task = asyncio.create_task(self.events.identify())
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        if self.config.app_token:
            from pocketping.bridges.slack.socket import SocketModeClient

            self._socket = SocketModeClient(self.api_url, self.config.app_token, self.receive, self.clock,
                                            name=self.id, timeout=self.timeout, http=self.http,
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
        text, blocks = fmt.card_message(card)
        metadata = {"event_type": META_SESSION, "event_payload": {"session_id": session.id, "title": card.title}}
        answer = await self._send(key, text=text, blocks=blocks, metadata=metadata)
        self._uncertain.pop(key, None)
        ts = str(answer["ts"])
        return Posted(thread_id=ts, message_ids=(ts,))

    def parts(self, item: Outgoing) -> list[Outgoing]:
        """The item cut so that each part, escaped and signed, fits Slack's 4,000 characters."""
        return fmt.split(item)

    async def post_file(self, thread_id: str, item: Outgoing, file: OutgoingFile) -> Posted:
        """The file into the thread (external upload flow), with who sent it and the text as its comment."""
        await self.pacer.wait(self.pace_key, self.pace, max_wait=self.max_wait)
        comment = message_text(item.author, item.text, links=item.kind == "ai") if item.text else f"*{item.author}*"
        file_id = await self.api.upload_file(self.channel_id, thread_id, name=file.name, data=file.data,
                                             content_type=file.content_type, comment=comment)
        return Posted(message_ids=(file_id,))

    async def post(self, thread_id: str, item: Outgoing) -> Posted:
        return Posted(message_ids=tuple([await self._post_one(thread_id, part) for part in self.parts(item)]))

    async def edit_message(self, thread_id: str, external_id: str, item: Outgoing) -> None:
        await self.pacer.wait(self.pace_key, self.pace, max_wait=self.max_wait)
        await self._paced(self.api.update_message(self.channel_id, external_id,
                                                  text=message_text(item.author, item.text,
                                                                    links=item.kind == "ai")))

    async def delete_message(self, thread_id: str, external_id: str) -> None:
        """``chat.delete`` (a bot may delete only its own messages: others are ``DeleteRefused``).
        A file we shared is recorded by its file id: the thread's message that shares it goes."""
        ts = external_id
        if not SLACK_TS.match(external_id):
            replies = await self._paced(self.api.history("conversations.replies", self.channel_id, 0.0,
                                                         thread_ts=thread_id))
            sharing = next((str(m["ts"]) for m in replies if m.get("ts") and any(
                isinstance(f, dict) and f.get("id") == external_id for f in m.get("files") or ())), None)
            if sharing is None:
                return  # no message shares it any more
            ts = sharing
        await self.pacer.wait(self.pace_key, self.pace, max_wait=self.max_wait)
        await self._paced(self.api.delete_message(self.channel_id, ts))

    async def _post_one(self, thread_id: str, item: Outgoing) -> str:
        text = message_text(item.author, item.text, links=item.kind == "ai")
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        key = (thread_id, item.ref, digest)
        if key in self._posted:  # a retry of a delivery whose first parts went through
            return self._posted[key]
        since = self._uncertain.get(key)
        written = item.at.timestamp()
        if since is None and self.clock.now().timestamp() - written >= self.recheck_after:
            since = written
        if since is not None:
            found = (await self._read_back(thread_id, since, fresh=key in self._uncertain)).get(
                (item.ref, digest))
            if found:
                self._uncertain.pop(key, None)
                return found
        metadata = {"event_type": META_MESSAGE, "event_payload": {"message_id": item.ref, "digest": digest}}
        answer = await self._send(key, text=text, thread_ts=thread_id, metadata=metadata)
        self._uncertain.pop(key, None)
        ts = str(answer["ts"])
        cached = self._readback.get(thread_id)
        if cached is not None:
            cached[1][(item.ref, digest)] = ts
        self._posted[key] = ts
        while len(self._posted) > 2000:
            self._posted.popitem(last=False)
        return ts

    async def close_thread(self, thread_id: str) -> None:
        await self._mark_card(thread_id, closed=True)

    async def reopen_thread(self, thread_id: str) -> None:
        await self._mark_card(thread_id, closed=False)

    async def erase_thread(self, thread_id: str, message_ids: list[str]) -> Erased:
        """``chat.delete`` for every message of the thread (what Slack lists, and the copies we
        recorded), then for the card (the parent); ``files.delete`` for the files we shared
        (recorded by their file ids: the message that shared one is among the thread's). Counted
        is what this call deleted ("messages", "files"), not what was already gone. Slack lets a
        bot delete only its own messages: the others are reported as kept."""
        try:
            replies = await self._paced(self.api.history("conversations.replies", self.channel_id, 0.0,
                                                         thread_ts=thread_id))
        except ThreadGone:
            replies = []
        found = [str(m["ts"]) for m in replies if m.get("ts") and str(m["ts"]) != thread_id]
        recorded = [i for i in message_ids if i != thread_id and SLACK_TS.match(i)]
        files = list(dict.fromkeys(i for i in message_ids if not SLACK_TS.match(i)))
        doomed = list(dict.fromkeys([*found, *recorded, thread_id]))
        deleted: Counter[str] = Counter()
        refused: Counter[tuple[str, str]] = Counter()

        async def attempt(kind: str, call: Awaitable[bool]) -> None:
            try:
                if await self._paced(call):
                    deleted[kind] += 1
            except DeliveryError as exc:
                if not exc.permanent:
                    raise
                refused[(kind, exc.message)] += 1

        for file_id in files:
            await attempt("file", self.api.delete_file(file_id))
        for ts in doomed:
            await attempt("message", self.api.delete_message(self.channel_id, ts))
        return Erased(deleted={"messages": deleted["message"], **({"files": deleted["file"]} if files else {})},
                      kept=[f"{n} {kind}(s): {why}" for (kind, why), n in refused.items()])

    async def typing(self, thread_id: str) -> None:
        """Slack's Web API has no typing indicator for bots: nothing to do."""

    async def _paced(self, call: Awaitable[T]) -> T:
        """A call about this channel: after a 429, everyone posting here waits it out."""
        try:
            return await call
        except Throttled as exc:
            self.pacer.penalize(self.pace_key, exc.retry_after)
            raise

    async def _send(self, key: tuple[str, str, str], *, text: str, thread_ts: str | None = None,
                    blocks: list[dict[str, Any]] | None = None,
                    metadata: dict[str, Any] | None = None) -> dict[str, Any]:
        await self.pacer.wait(self.pace_key, self.pace, max_wait=self.max_wait)
        try:
            return await self._paced(self.api.post_message(self.channel_id, text=text, thread_ts=thread_ts,
                                                           blocks=blocks, metadata=metadata))
        except MaybePosted:
            self._uncertain.setdefault(key, self.clock.now().timestamp())
            if len(self._uncertain) > 1000:  # deliveries given up on long ago
                del self._uncertain[min(self._uncertain, key=self._uncertain.__getitem__)]
            raise

    async def _mark_card(self, thread_id: str, *, closed: bool) -> None:
        """Show on the card (the thread's parent) whether the conversation is closed. The planner
        posts the notice line in the thread; this only keeps the channel's overview right."""
        parent = await self._paced(self.api.thread_parent(self.channel_id, thread_id))
        meta = _metadata(parent, META_SESSION) if parent is not None else None
        if parent is None or meta is None or not meta.get("title"):
            return  # not a card of ours (or Slack did not say): nothing to update
        changed = fmt.card_status(str(meta["title"]), list(parent.get("blocks") or ()), closed=closed)
        if changed is None:
            return
        text, blocks = changed
        await self._paced(self.api.update_message(self.channel_id, thread_id, text=text, blocks=blocks,
                                                  metadata=parent.get("metadata")))

    # --- reading back what may already be there -----------------------------------------------

    async def _read_back(self, thread_id: str, since: float, *, fresh: bool) -> dict[tuple[str, str], str]:
        """Our posts in a thread since ``since``, by (message id, digest); read once per backlog
        (a cached read knows everything posted before it, and what we posted since)."""
        now = self.clock.now().timestamp()
        cached = self._readback.get(thread_id)
        if not fresh and cached is not None and cached[0] >= since and now - cached[0] < 120:
            return cached[1]
        found: dict[tuple[str, str], str] = {}
        for message in await self._history("conversations.replies", since, thread_ts=thread_id):
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

    async def _history(self, method: str, since: float, *, thread_ts: str | None = None) -> list[dict[str, Any]]:
        oldest = max(since - 120, self.clock.now().timestamp() - RECHECK_WINDOW)
        return await self._paced(self.api.history(method, self.channel_id, oldest, thread_ts=thread_ts))

    # --- incoming -------------------------------------------------------------------------

    def accepts(self, payload: Mapping[str, Any]) -> bool:
        return self.events.accepts(payload)

    async def receive(self, payload: Mapping[str, Any], retry: int = 0) -> bool:
        """Process an event_callback at most once. True: acknowledge it; False: let Slack retry."""
        return await self.events.receive(payload, retry)

    # --- doctor ---------------------------------------------------------------------------

    async def check(self) -> list[Finding]:
        app_api = None
        if self.config.app_token:  # Socket Mode: its app-level token is checked too
            app_api = SlackApi(self.api_url, self.config.app_token, timeout=self.timeout, http=self.http)
        try:
            return await run_checks(self.api, self.config, self.public_url, app_api=app_api)
        finally:
            if app_api is not None:
                await app_api.aclose()


def _metadata(message: Mapping[str, Any], event_type: str) -> dict[str, Any] | None:
    metadata = message.get("metadata")
    if isinstance(metadata, Mapping) and metadata.get("event_type") == event_type:
        payload = metadata.get("event_payload")
        return dict(payload) if isinstance(payload, Mapping) else None
    return None



def create(record: BridgeRecord, deps: BridgeDeps) -> SlackBridge:
    settings = deps.settings
    return SlackBridge(record.id, SlackConfig.from_dict(record.config), api_url=settings.slack_api_url,
                       clock=deps.clock, router=deps.slack_events, public_url=settings.public_url,
                       pacer=deps.pacer, max_wait=settings.max_pacing_wait,
                       recheck_after=float(settings.outbox_lease_seconds), http=deps.http)
