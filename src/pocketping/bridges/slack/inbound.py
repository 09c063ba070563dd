"""What operators do in Slack, from Events API callbacks or Socket Mode envelopes.

``receive`` processes each event at most once and tells the transport whether to
acknowledge it (HTTP 200 / an envelope ack) or to let Slack deliver it again:

* a first delivery claims its ``event_id`` with the sink's ``seen`` (another node, or an
  earlier delivery, already has it: acknowledged and skipped);
* a retry of an event still being processed here joins it; of one that failed here, or
  that this process never saw finish (a crash, another node that died), is processed
  again: the sink stores a reply under the platform message id, so doing it twice is safe,
  while dropping it would lose the reply;
* answers come within Slack's 3 seconds: what takes longer keeps running, Slack retries,
  and the retry joins it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from pocketping.bridges.base import InboundFile, InboundReply, InboundSink
from pocketping.bridges.slack.api import SlackApi, SlackError
from pocketping.bridges.slack.text import mention_ids, plain_message

log = logging.getLogger(__name__)

SEEN_SOURCE = "slack"
# Message subtypes that are a person writing (anything else is channel housekeeping).
REPLY_SUBTYPES = frozenset({"", "thread_broadcast", "file_share", "me_message"})
# Slack keeps messages that start with "/" for its own slash commands, so in Slack our thread
# commands may also start with "!" ("!close"); only these names, so "!important" stays text.
COMMANDS = ("close", "reopen", "info", "help", "away", "back", "ai", "assign", "r", "note")
_BANG = re.compile(r"^\s*!(" + "|".join(COMMANDS) + r")(?=\s|$)", re.IGNORECASE)
MAX_REMEMBERED = 2000
MAX_NAMES = 1000
EVENT_DEADLINE = 2.5  # Slack wants an answer within 3 s

Action = Callable[[], Awaitable[None]]


def command_alias(text: str) -> str:
    return _BANG.sub(lambda m: "/" + m.group(1), text, count=1)


class EventHandler:
    """One bridge's inbound side: which events are about its channel, what they mean, and
    each handed to the sink once (``sink`` is set when the bridge starts)."""

    def __init__(self, bridge_id: str, channel_id: str, api: SlackApi, *, label: str = "Slack",
                 deadline: float = EVENT_DEADLINE) -> None:
        self.bridge_id = bridge_id
        self.channel_id = channel_id
        self.api = api
        self.label = label
        self.deadline = deadline
        self.sink: InboundSink | None = None
        # Who we are in the workspace (``identify``): our own posts come back as events.
        self.bot_user_id: str | None = None
        self.team_id: str | None = None
        self._names: OrderedDict[str, str] = OrderedDict()
        self._events: OrderedDict[str, asyncio.Task[None]] = OrderedDict()
        self._claimed: set[str] = set()

    async def identify(self) -> None:
        with contextlib.suppress(SlackError):
            me = await self.api.call("auth.test")
            self.bot_user_id = me.get("user_id")
            self.team_id = me.get("team_id")

    def accepts(self, payload: Mapping[str, Any]) -> bool:
        """Whether an event_callback is about this bridge's channel (cheap, before any work)."""
        event = payload.get("event")
        if not isinstance(event, Mapping) or event.get("type") != "message":
            return False
        team = self.team_id
        if team and payload.get("team_id") not in (None, team):
            return False
        return event.get("channel") == self.channel_id

    async def receive(self, payload: Mapping[str, Any], retry: int = 0) -> bool:
        if not self.accepts(payload):
            return True
        event_id = str(payload.get("event_id") or "")
        task = self._events.get(event_id) if event_id else None
        if task is None or (task.done() and (task.cancelled() or task.exception() is not None)):
            # A retry we never saw finish may follow a crash here or elsewhere: do it again.
            redo = task is not None or retry > 0
            task = asyncio.create_task(self._process(payload, event_id, redo))
            if event_id:
                self._remember(event_id, task)
        done, _ = await asyncio.wait({task}, timeout=self.deadline)
        if not done:
            log.warning("Slack event %s is taking long; Slack will retry it and the retry will wait for it",
                        event_id)
            return False
        if task.cancelled():
            return False
        error = task.exception()
        if error is not None:
            log.error("could not process Slack event %s: %s", event_id, error, exc_info=error)
            return False
        return True

    def _remember(self, event_id: str, task: asyncio.Task[None]) -> None:
        self._events[event_id] = task
        self._events.move_to_end(event_id)
        while len(self._events) > MAX_REMEMBERED:
            oldest, old = next(iter(self._events.items()))
            if not old.done():
                break
            del self._events[oldest]
            self._claimed.discard(oldest)

    async def stop(self) -> None:
        running = [t for t in self._events.values() if not t.done()]
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    async def _process(self, payload: Mapping[str, Any], event_id: str, redo: bool) -> None:
        action = await self._parse(payload["event"])
        if action is None:
            return
        sink = self.sink
        assert sink is not None, "the bridge was not started"
        if event_id and event_id not in self._claimed:
            first = await sink.seen(SEEN_SOURCE, f"{self.bridge_id}:{event_id}")
            if not first and not redo:
                return  # another node (or an earlier delivery) has it
            self._claimed.add(event_id)
        await action()

    async def _parse(self, event: Mapping[str, Any]) -> Action | None:
        """What an event means for us, as something to run once; None to ignore it."""
        bridge_id, sink = self.bridge_id, self.sink
        assert sink is not None
        subtype = str(event.get("subtype") or "")
        if subtype == "message_changed":
            message, previous = event.get("message") or {}, event.get("previous_message") or {}
            thread_ts = message.get("thread_ts")
            if self._from_bot(message) or not thread_ts or thread_ts == message.get("ts"):
                return None
            names = await self._names_for(message)
            text = plain_message(message, names)
            if not text or (previous and text == plain_message(previous, names)):
                return None  # an unfurl or a language tag, not an edit
            return lambda: sink.edited(bridge_id, str(thread_ts), str(message.get("ts")), text)
        if subtype == "message_deleted":
            previous = event.get("previous_message") or {}
            thread_ts, deleted = previous.get("thread_ts"), event.get("deleted_ts")
            if self._from_bot(previous) or not thread_ts or not deleted or thread_ts == deleted:
                return None
            return lambda: sink.deleted(bridge_id, str(thread_ts), str(deleted))
        if subtype not in REPLY_SUBTYPES or self._from_bot(event) or event.get("hidden"):
            return None
        thread_ts, ts, user = event.get("thread_ts"), event.get("ts"), event.get("user")
        if not thread_ts or thread_ts == ts or not user or not ts:
            return None  # channel chatter outside our threads
        text = command_alias(plain_message(event, await self._names_for(event)))
        files = self._files(event)
        if not text and not files:
            return None
        reply = InboundReply(bridge_id=bridge_id, thread_id=str(thread_ts), text=text,
                             operator_name=await self.user_name(str(user)), external_id=str(ts),
                             platform_label=self.label, extra={"user": str(user)}, files=files)
        return lambda: sink.reply(reply)

    def _files(self, event: Mapping[str, Any]) -> list[InboundFile]:
        """Files shared with the message, fetched from ``url_private`` with the bot token."""
        out: list[InboundFile] = []
        api = self.api
        for f in event.get("files") or ():
            url = isinstance(f, Mapping) and (f.get("url_private_download") or f.get("url_private"))
            if not url:
                continue  # a file the app may not see (tombstoned, external)

            async def fetch(limit: int, url: str = str(url)) -> bytes:
                return await api.download(url, limit)

            size = f.get("size")
            out.append(InboundFile(name=str(f.get("name") or f.get("title") or "file"), fetch=fetch,
                                   size=size if isinstance(size, int) else None))
        return out

    def _from_bot(self, message: Mapping[str, Any]) -> bool:
        """Bots' posts, ours included (Slack sends the app its own messages back)."""
        own = self.bot_user_id
        return bool(message.get("bot_id") or message.get("subtype") == "bot_message"
                    or (own and message.get("user") == own))

    async def _names_for(self, message: Mapping[str, Any]) -> dict[str, str]:
        ids = mention_ids(str(message.get("text") or ""), message.get("blocks") or ())
        return {user: await self.user_name(user) for user in ids}

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
        if len(self._names) > MAX_NAMES:
            self._names.popitem(last=False)
        return name
