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
import logging
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from pocketping.bridges.base import InboundReply
from pocketping.bridges.slack.text import mention_ids, plain_message

if TYPE_CHECKING:
    from pocketping.bridges.slack.bridge import SlackBridge

log = logging.getLogger(__name__)

SEEN_SOURCE = "slack"
# Message subtypes that are a person writing (anything else is channel housekeeping).
REPLY_SUBTYPES = frozenset({"", "thread_broadcast", "file_share", "me_message"})
# Slack keeps messages that start with "/" for its own slash commands, so in Slack our thread
# commands may also start with "!" ("!close"); only these names, so "!important" stays text.
COMMANDS = ("close", "reopen", "info", "help", "away", "back", "ai")
_BANG = re.compile(r"^\s*!(" + "|".join(COMMANDS) + r")(?=\s|$)", re.IGNORECASE)
MAX_REMEMBERED = 2000

Action = Callable[[], Awaitable[None]]


def command_alias(text: str) -> str:
    return _BANG.sub(lambda m: "/" + m.group(1), text, count=1)


class EventHandler:
    def __init__(self, bridge: SlackBridge) -> None:
        self.bridge = bridge
        self._events: OrderedDict[str, asyncio.Task[None]] = OrderedDict()
        self._claimed: set[str] = set()

    def accepts(self, payload: Mapping[str, Any]) -> bool:
        """Whether an event_callback is about this bridge's channel (cheap, before any work)."""
        event = payload.get("event")
        if not isinstance(event, Mapping) or event.get("type") != "message":
            return False
        team = self.bridge.team_id
        if team and payload.get("team_id") not in (None, team):
            return False
        return event.get("channel") == self.bridge.channel_id

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
        done, _ = await asyncio.wait({task}, timeout=self.bridge.event_deadline)
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
        sink = self.bridge.sink
        assert sink is not None, "the bridge was not started"
        if event_id and event_id not in self._claimed:
            first = await sink.seen(SEEN_SOURCE, f"{self.bridge.id}:{event_id}")
            if not first and not redo:
                return  # another node (or an earlier delivery) has it
            self._claimed.add(event_id)
        await action()

    async def _parse(self, event: Mapping[str, Any]) -> Action | None:
        """What an event means for us, as something to run once; None to ignore it."""
        bridge, sink = self.bridge, self.bridge.sink
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
            return lambda: sink.edited(bridge.id, str(thread_ts), str(message.get("ts")), text)
        if subtype == "message_deleted":
            previous = event.get("previous_message") or {}
            thread_ts, deleted = previous.get("thread_ts"), event.get("deleted_ts")
            if self._from_bot(previous) or not thread_ts or not deleted or thread_ts == deleted:
                return None
            return lambda: sink.deleted(bridge.id, str(thread_ts), str(deleted))
        if subtype not in REPLY_SUBTYPES or self._from_bot(event) or event.get("hidden"):
            return None
        thread_ts, ts, user = event.get("thread_ts"), event.get("ts"), event.get("user")
        if not thread_ts or thread_ts == ts or not user or not ts:
            return None  # channel chatter outside our threads
        text = command_alias(plain_message(event, await self._names_for(event)))
        if not text:
            return None
        reply = InboundReply(bridge_id=bridge.id, thread_id=str(thread_ts), text=text,
                             operator_name=await bridge.user_name(str(user)), external_id=str(ts),
                             platform_label=bridge.label, extra={"user": str(user)})
        return lambda: sink.reply(reply)

    def _from_bot(self, message: Mapping[str, Any]) -> bool:
        """Bots' posts, ours included (Slack sends the app its own messages back)."""
        own = self.bridge.bot_user_id
        return bool(message.get("bot_id") or message.get("subtype") == "bot_message"
                    or (own and message.get("user") == own))

    async def _names_for(self, message: Mapping[str, Any]) -> dict[str, str]:
        ids = mention_ids(str(message.get("text") or ""), message.get("blocks") or ())
        return {user: await self.bridge.user_name(user) for user in ids}
