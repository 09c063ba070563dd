"""The small interface every bridge (Telegram, Discord, Slack, the web inbox) implements.

A bridge translates and talks to its platform; it never touches the store. Outgoing
work arrives through the outbox (one call per delivery, retried on ``DeliveryError``);
incoming platform traffic is parsed by the bridge and handed to the ``InboundSink``,
which resolves threads to sessions and calls the same actions as every other edge.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, runtime_checkable

from pocketping.core.models import Message
from pocketping.core.models import SessionCard as SessionCard  # a core record; the bridges take it from here
from pocketping.errors import DeliveryError


@dataclass(frozen=True)
class Outgoing:
    """One timeline item to post into a thread: a stored message, or a line PocketPing writes
    (a notice, a notable event) that is no message of the conversation."""

    # How it should read on the platform: "Visitor: hi", "Sarah (via Slack): hello", "AI: ..."
    author: str
    text: str
    kind: Literal["visitor", "operator", "ai", "notice", "event"]
    message: Message | None = None  # the stored message it shows, if it is one
    note_id: str = ""  # otherwise: the line's own stable id (its outbox row) ...
    note_at: datetime | None = None  # ... and when it was written

    @property
    def ref(self) -> str:
        """A stable id of the item, the same on every retry (idempotency keys, read-backs)."""
        return self.message.id if self.message is not None else self.note_id

    @property
    def at(self) -> datetime:
        """When the item was written (how far back a read-back must look)."""
        if self.message is not None:
            return self.message.created_at
        return self.note_at or datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class OutgoingFile:
    """A file a message carries, read from the store for one delivery."""

    id: str
    name: str
    content_type: str
    size: int
    data: bytes
    link: str  # a signed download link (absolute when the server has a public URL)

    @property
    def is_image(self) -> bool:
        return self.content_type in ("image/png", "image/jpeg", "image/gif", "image/webp")


@dataclass(frozen=True)
class InboundFile:
    """A file an operator shared in a thread; ``fetch(limit)`` downloads it (at most ``limit``
    bytes, else ``DeliveryError``), called only once the thread is known to be ours."""

    name: str
    fetch: Callable[[int], Awaitable[bytes]]
    size: int | None = None


@dataclass(frozen=True)
class Posted:
    """What a platform answered: its ids for the thread (if created) and the posted parts."""

    thread_id: str | None = None
    message_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Finding:
    """One line of ``pocketping doctor``."""

    ok: bool
    check: str
    detail: str
    fix: str | None = None


@dataclass
class InboundReply:
    """An operator wrote in a thread."""

    bridge_id: str
    thread_id: str
    text: str
    operator_name: str
    external_id: str  # the platform's message id (dedupe, edits, deletions)
    platform_label: str  # "Telegram", "Discord", "Slack"
    extra: dict[str, Any] = field(default_factory=dict)
    files: list[InboundFile] = field(default_factory=list)  # photos and documents shared with it


class InboundSink(Protocol):
    """Implemented by the bridge manager; bridges call it for what operators do."""

    async def reply(self, reply: InboundReply) -> None: ...

    async def edited(self, bridge_id: str, thread_id: str, external_id: str, text: str) -> None: ...

    async def deleted(self, bridge_id: str, thread_id: str, external_id: str) -> None: ...

    async def typing(self, bridge_id: str, thread_id: str, operator_name: str) -> None: ...

    async def seen(self, source: str, key: str) -> bool:
        """Record an inbound id (update_id, event_id ...); False if it was already seen."""
        ...

    async def save_state(self, bridge_id: str, changes: dict[str, Any]) -> None:
        """Keep something durably across restarts (a polling offset, gateway resume data); it
        comes back merged into ``record.state`` when the bridge is made again."""
        ...

    async def report(self, bridge_id: str, status: str, detail: str | None = None) -> None:
        """Tell ``pocketping bridge list`` how the connection is: "active" or "error" with a
        plain-words detail ("Telegram rejected the bot token: ..."). Cheap to call often."""
        ...


class Bridge(Protocol):
    id: str
    type: str  # "telegram" | "discord" | "slack" | "inbox"
    label: str  # "Telegram" ...

    async def start(self, sink: InboundSink) -> None:
        """Begin receiving (long polling, gateway, socket mode); return quickly."""

    async def stop(self) -> None: ...

    async def open_thread(self, card: SessionCard) -> Posted:
        """Create the topic/thread for a session, posting the card. Returns its thread id."""

    async def post(self, thread_id: str, item: Outgoing) -> Posted:
        """Post one item (split over several platform messages if too long)."""

    async def close_thread(self, thread_id: str) -> None: ...

    async def reopen_thread(self, thread_id: str) -> None: ...

    async def typing(self, thread_id: str) -> None: ...

    async def check(self) -> list[Finding]:
        """Real checks against the platform for ``pocketping doctor``."""


@runtime_checkable
class SplitsText(Protocol):
    """Optional: a bridge that knows its length limit cuts one item into several. The manager
    then posts the parts one by one and records each, so a crash between two parts never
    posts the first one twice."""

    def parts(self, item: Outgoing) -> list[Outgoing]: ...


@runtime_checkable
class SendsFiles(Protocol):
    """Optional: a bridge that uploads files into its threads. A file over ``max_file_bytes``
    is posted as a link instead. ``item`` is what the file is shown with: the first file of a
    message carries its author and (if short) its text, the others the author only."""

    max_file_bytes: int
    caption_chars: int  # how much text a file can carry (longer texts are posted on their own first)

    async def post_file(self, thread_id: str, item: Outgoing, file: OutgoingFile) -> Posted: ...


@runtime_checkable
class EditsMessages(Protocol):
    """Optional: a bridge that changes a message it posted in place (an operator's edit):
    Telegram ``editMessageText``, Discord ``PATCH /channels/{id}/messages/{id}``, Slack ``chat.update``."""

    async def edit_message(self, thread_id: str, external_id: str, item: Outgoing) -> None: ...


@runtime_checkable
class DeletesMessages(Protocol):
    """Optional: a bridge that deletes a message it posted (an operator's withdrawal): Telegram
    ``deleteMessage``, Discord ``DELETE /channels/{id}/messages/{id}``, Slack ``chat.delete``. A message
    already gone counts as deleted; a platform that refuses (Telegram after 48 hours, missing
    permissions) raises ``DeleteRefused``, and the relay edits the copy to "(deleted)" instead."""

    async def delete_message(self, thread_id: str, external_id: str) -> None: ...


@dataclass(frozen=True)
class Erased:
    """What a bridge deleted of one conversation (counts by kind: "topics", "threads",
    "messages", "files"; only what it deleted, not what was already gone) and what the
    platform kept against our request, each with its reason."""

    deleted: dict[str, int] = field(default_factory=dict)
    kept: list[str] = field(default_factory=list)


@runtime_checkable
class ErasesThreads(Protocol):
    """Optional: a bridge that deletes a conversation's thread and everything in it (an
    erasure): Telegram ``deleteForumTopic``, Discord ``DELETE /channels/{thread_id}``, Slack
    ``files.delete`` for the files it uploaded and ``chat.delete`` for each message, then the
    card. ``message_ids`` are the platform ids of the copies it posted there (Slack: a file's id
    for a file). A thread already gone counts as deleted; a platform that is down
    raises ``DeliveryError`` (retried); a refusal is reported in ``Erased.kept``."""

    async def erase_thread(self, thread_id: str, message_ids: list[str]) -> Erased: ...


@runtime_checkable
class RenamesThreads(Protocol):
    """Optional: a bridge that renames a conversation's thread when the visitor identifies
    (the card's title then carries their name or email)."""

    async def rename_thread(self, thread_id: str, card: SessionCard) -> None: ...


@dataclass(frozen=True)
class WebhookAnswer:
    status: int = 200
    body: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class ReceivesWebhooks(Protocol):
    """Optional: a bridge the platform calls over HTTP at ``/bridges/{type}/{bridge_id}``.
    It must authenticate the call itself (in constant time) before acting on it."""

    async def handle_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookAnswer: ...


class ThreadGone(Exception):
    """The platform says the thread no longer exists (a deleted Telegram topic, a deleted
    Discord thread): the manager opens a new one, remaps the session, and posts again."""


class DeleteRefused(DeliveryError):
    """The platform will not delete this message (too old, no permission, not ours): trying again
    changes nothing. ``reason`` says why, in the platform's words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, permanent=True)
        self.reason = reason


class Throttled(DeliveryError):
    """The platform answered "too many requests, retry after N seconds": the delivery is
    retried then, and the bridge makes every sender to that destination wait it out too."""

    retry_after: float

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message, retry_after=retry_after)
