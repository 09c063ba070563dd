"""Typed models of what the server sends. Each keeps the raw JSON in ``raw``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

T = TypeVar("T")
Sender = Literal["visitor", "operator", "ai", "system"]


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _time(value: Any) -> datetime:
    parsed = parse_time(value)
    if parsed is None:
        raise ValueError(f"expected a time, got {value!r}")
    return parsed


class Page(list[T], Generic[T]):
    """A list of results with the cursor of the next page (None when this is the last)."""

    def __init__(self, items: list[T], next_cursor: str | None = None) -> None:
        super().__init__(items)
        self.next_cursor = next_cursor


@dataclass(frozen=True)
class Identity:
    id: str
    email: str | None = None
    name: str | None = None
    traits: dict[str, Any] = field(default_factory=dict)
    verified: bool = False

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Identity:
        return cls(id=str(data["id"]), email=data.get("email"), name=data.get("name"),
                   traits=dict(data.get("traits") or {}), verified=bool(data.get("verified")))


@dataclass(frozen=True)
class Session:
    id: str
    project_id: str
    visitor_id: str
    status: Literal["active", "closed"]
    metadata: dict[str, Any]
    identity: Identity | None
    created_at: datetime
    last_activity: datetime
    closed_at: datetime | None
    last_seq: int
    ai_enabled: bool
    visitor_read_seq: int = 0
    operator_read_seq: int = 0
    assignee_id: str | None = None
    waiting_since: datetime | None = None
    rating: dict[str, Any] | None = None  # {"score", "scale": "stars" | "thumbs", "comment", "ratedAt"}
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Session:
        identity = data.get("identity")
        return cls(id=data["id"], project_id=data["projectId"], visitor_id=data["visitorId"], status=data["status"],
                   metadata=dict(data.get("metadata") or {}),
                   identity=Identity.from_api(identity) if isinstance(identity, dict) else None,
                   created_at=_time(data["createdAt"]), last_activity=_time(data["lastActivity"]),
                   closed_at=parse_time(data.get("closedAt")), last_seq=int(data.get("lastSeq", 0)),
                   ai_enabled=bool(data.get("aiEnabled", True)),
                   visitor_read_seq=int(data.get("visitorReadSeq", 0)),
                   operator_read_seq=int(data.get("operatorReadSeq", 0)), assignee_id=data.get("assigneeId"),
                   waiting_since=parse_time(data.get("waitingSince")), rating=data.get("rating"), raw=data)


@dataclass(frozen=True)
class Attachment:
    """A stored file: what ``upload_file`` answers and what a message's ``attachments`` list.
    ``url`` is a signed link, relative to the server, valid for about a day."""

    id: str
    name: str
    size: int
    content_type: str
    width: int | None = None
    height: int | None = None
    url: str = ""
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Attachment:
        return cls(id=data["id"], name=data.get("name", ""), size=int(data.get("size", 0)),
                   content_type=data.get("contentType", "application/octet-stream"), width=data.get("width"),
                   height=data.get("height"), url=data.get("url", ""), raw=data)


@dataclass(frozen=True)
class Message:
    id: str
    session_id: str
    seq: int
    kind: Literal["message", "event", "notice", "note"]
    sender: Sender
    source: str
    text: str
    operator_name: str | None
    client_id: str | None
    created_at: datetime
    name: str | None = None
    data: dict[str, Any] | None = None
    edited_at: datetime | None = None
    deleted_at: datetime | None = None
    attachments: tuple[Attachment, ...] = ()
    internal: bool = False  # an internal note of the team (kind "note")
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Message:
        return cls(id=data["id"], session_id=data["sessionId"], seq=int(data["seq"]), kind=data.get("kind", "message"),
                   sender=data["sender"], source=data.get("source", ""), text=data.get("text", ""),
                   operator_name=data.get("operatorName"), client_id=data.get("clientId"),
                   created_at=_time(data["createdAt"]), name=data.get("name"), data=data.get("data"),
                   edited_at=parse_time(data.get("editedAt")), deleted_at=parse_time(data.get("deletedAt")),
                   attachments=tuple(Attachment.from_api(a) for a in data.get("attachments") or ()),
                   internal=bool(data.get("internal")), raw=data)


@dataclass(frozen=True)
class CustomEvent:
    """A custom event: from a page's ``PocketPing.trigger(name, data)`` (in webhooks and the
    stream, ``id`` is the delivery's event id) or sent to a visitor by ``emit_event``."""

    id: str
    name: str
    data: dict[str, Any]
    session_id: str | None
    visitor_id: str | None
    created_at: datetime
    seq: int | None = None
    sender: str | None = None  # who sent it ("operator" for emit_event); None for a page's trigger
    broadcast: bool = False
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> CustomEvent:
        return cls(id=data["id"], name=data["name"], data=dict(data.get("data") or {}),
                   session_id=data.get("sessionId"), visitor_id=data.get("visitorId"),
                   created_at=_time(data["createdAt"]), seq=data.get("seq"), sender=data.get("sender"),
                   broadcast=bool(data.get("broadcast", False)), raw=data)


@dataclass(frozen=True)
class WebhookEvent:
    """What a webhook or the stream carries: ``{"id","type","createdAt","projectId","data"}``.

    ``id`` is the same on every retry of the same event: use it to deduplicate.
    """

    id: str
    type: str
    created_at: datetime
    project_id: str
    data: dict[str, Any]
    seq: int | None = None
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> WebhookEvent:
        return cls(id=data["id"], type=data["type"], created_at=_time(data["createdAt"]),
                   project_id=data["projectId"], data=dict(data.get("data") or {}), seq=data.get("seq"), raw=data)

    @property
    def session_id(self) -> str | None:
        value = self.data.get("sessionId")
        return str(value) if value is not None else None

    def custom_event(self) -> CustomEvent:
        """The custom event of an ``event.triggered``."""
        d = self.data
        return CustomEvent(id=self.id, name=d["name"], data=dict(d.get("data") or {}), session_id=d.get("sessionId"),
                           visitor_id=d.get("visitorId"), created_at=_time(d.get("createdAt") or self.raw["createdAt"]),
                           seq=self.seq, raw=d)

    def message(self) -> Message:
        """The message of a ``message.created``."""
        return Message.from_api(self.data["message"])

    def session(self) -> Session | None:
        """The session snapshot the event carries (all types but ``event.triggered``)."""
        value = self.data.get("session")
        return Session.from_api(value) if isinstance(value, dict) else None


@dataclass(frozen=True)
class Webhook:
    id: str
    url: str
    events: list[str]
    enabled: bool
    created_at: datetime | None
    secret: str | None = None  # only when created or rotated

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Webhook:
        return cls(id=data["id"], url=data["url"], events=list(data.get("events") or []),
                   enabled=bool(data.get("enabled", True)), created_at=parse_time(data.get("createdAt")),
                   secret=data.get("secret"))


@dataclass(frozen=True)
class Delivery:
    id: int
    webhook_id: str
    event_id: str | None
    type: str
    session_id: str | None
    status: Literal["pending", "done", "failed"]
    attempts: int
    last_error: str | None
    response_status: int | None
    created_at: datetime | None
    next_attempt_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None = None

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Delivery:
        return cls(id=int(data["id"]), webhook_id=data["webhookId"], event_id=data.get("eventId"), type=data["type"],
                   session_id=data.get("sessionId"), status=data["status"], attempts=int(data.get("attempts", 0)),
                   last_error=data.get("lastError"), response_status=data.get("responseStatus"),
                   created_at=parse_time(data.get("createdAt")), next_attempt_at=parse_time(data.get("nextAttemptAt")),
                   finished_at=parse_time(data.get("finishedAt")), duration_ms=data.get("durationMs"))
