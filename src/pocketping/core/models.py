"""Domain records. Plain frozen dataclasses: no I/O, no framework imports."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pocketping.core.mail import consent_mode

Sender = Literal["visitor", "operator", "ai", "system"]
SessionStatus = Literal["active", "closed"]
ItemKind = Literal["message", "event", "notice", "note"]  # note: internal, for the team only

POSITIONS = ("bottom-right", "bottom-left")
LOCALES = ("en", "fr", "de", "es", "pt", "ar")


def iso(dt: datetime | None) -> str | None:
    """ISO 8601 UTC with a ``Z`` and milliseconds, as every API answer shows times."""
    if dt is None:
        return None
    # isoformat is C; strftime plus an f-string cost several times more, on every event.
    return dt.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


# What the widget asks once a conversation is closed, in each of its locales.
RATE_QUESTION = {"en": "How was this conversation?", "fr": "Comment s’est passée cette conversation ?",
                 "de": "Wie war diese Unterhaltung?", "es": "¿Qué tal fue esta conversación?",
                 "pt": "Como foi esta conversa?", "ar": "كيف كانت هذه المحادثة؟"}


@dataclass(frozen=True)
class WidgetSettings:
    primary_color: str = "#2563eb"
    operator_name: str = "Support"
    welcome_message: str = "Hi! How can we help?"
    position: str = "bottom-right"
    locale: str | None = None  # None: follow the visitor's browser
    offline_form: bool = False
    ratings: str = "stars"  # stars | thumbs | off: what the widget asks once a conversation closes

    def to_public(self) -> dict[str, Any]:
        return {
            "primaryColor": self.primary_color,
            "operatorName": self.operator_name,
            "welcomeMessage": self.welcome_message,
            "position": self.position,
            "locale": self.locale,
            "offlineForm": self.offline_form,
            "ratings": self.ratings,
            "rate": RATE_QUESTION,  # the widget's question, per locale (kept out of its bundle)
        }


@dataclass(frozen=True)
class Project:
    id: str
    name: str
    public_key: str
    secret_key_hint: str
    allowed_origins: tuple[str, ...]
    widget: WidgetSettings
    collect_country: bool
    store_ip: bool
    notify_events: tuple[str, ...]
    has_identity_secret: bool
    is_demo: bool
    operator_status: str
    operator_active_at: datetime | None
    created_at: datetime
    updated_at: datetime
    extra: dict[str, Any] = field(default_factory=dict)

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "publicKey": self.public_key,
            "secretKeyHint": self.secret_key_hint,
            "allowedOrigins": list(self.allowed_origins),
            "widget": self.widget.to_public(),
            "collectCountry": self.collect_country,
            "storeIp": self.store_ip,
            "notifyEvents": list(self.notify_events),
            "identityVerification": self.has_identity_secret,
            "consent": consent_mode(self.extra),
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
        }


@dataclass(frozen=True)
class Identity:
    id: str
    email: str | None = None
    name: str | None = None
    traits: dict[str, Any] = field(default_factory=dict)
    verified: bool = False

    def to_api(self) -> dict[str, Any]:
        return {"id": self.id, "email": self.email, "name": self.name, "traits": self.traits,
                "verified": self.verified}


@dataclass(frozen=True)
class Rating:
    """What the visitor thought: ``stars`` 1-5, or ``thumbs`` 0 (down) / 1 (up)."""

    score: int
    scale: str
    comment: str | None
    rated_at: datetime

    def to_api(self) -> dict[str, Any]:
        return {"score": self.score, "scale": self.scale, "comment": self.comment, "ratedAt": iso(self.rated_at)}


@dataclass(frozen=True)
class Session:
    id: str
    project_id: str
    visitor_id: str
    status: SessionStatus
    metadata: dict[str, Any]
    identity: Identity | None
    created_at: datetime
    last_activity: datetime
    closed_at: datetime | None
    first_message_at: datetime | None
    last_seq: int
    visitor_read_seq: int
    operator_read_seq: int
    ai_enabled: bool
    ai_due_at: datetime | None
    ai_reply_count: int
    ip: str | None = None
    country: str | None = None
    assignee_id: str | None = None
    waiting_since: datetime | None = None
    rating: Rating | None = None
    first_response_at: datetime | None = None
    consent: str | None = None  # "accepted" once the visitor accepted the consent text
    consent_at: datetime | None = None
    last_message_seq: int = 0  # the latest chat message's seq (0: none yet)
    operator_unread: int = 0  # the visitor's messages after operator_read_seq

    def to_api(self) -> dict[str, Any]:
        meta = dict(self.metadata)
        if self.country:
            meta["country"] = self.country
        if self.ip:
            meta["ip"] = self.ip
        return {
            "id": self.id,
            "projectId": self.project_id,
            "visitorId": self.visitor_id,
            "status": self.status,
            "metadata": meta,
            "identity": self.identity.to_api() if self.identity else None,
            "createdAt": iso(self.created_at),
            "lastActivity": iso(self.last_activity),
            "closedAt": iso(self.closed_at),
            "lastSeq": self.last_seq,
            "visitorReadSeq": self.visitor_read_seq,
            "operatorReadSeq": self.operator_read_seq,
            "aiEnabled": self.ai_enabled,
            "assigneeId": self.assignee_id,
            "waitingSince": iso(self.waiting_since),
            "rating": self.rating.to_api() if self.rating else None,
        }

    def label(self) -> str:
        """A short human name: the identified user's name or email, else a visitor label."""
        if self.identity and (self.identity.name or self.identity.email):
            return str(self.identity.name or self.identity.email)
        return f"Visitor {self.visitor_id[-6:]}"


@dataclass(frozen=True)
class Attachment:
    """A stored file as a message names it; ``url`` is a short-lived signed link (made by the
    store when the message is read, so every answer carries a fresh one)."""

    id: str
    name: str
    size: int
    content_type: str
    width: int | None = None
    height: int | None = None
    url: str = ""

    def to_api(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "size": self.size, "contentType": self.content_type,
                "width": self.width, "height": self.height, "url": self.url}

    def to_stored(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "size": self.size, "contentType": self.content_type,
                "width": self.width, "height": self.height}


@dataclass(frozen=True)
class Message:
    """One item of a session's timeline: a chat message, a custom event or a notice."""

    id: str
    session_id: str
    seq: int
    kind: ItemKind
    sender: Sender
    source: str
    text: str
    created_at: datetime
    operator_name: str | None = None
    client_id: str | None = None
    name: str | None = None  # event name
    data: dict[str, Any] | None = None  # event data
    edited_at: datetime | None = None
    deleted_at: datetime | None = None
    attachments: tuple[Attachment, ...] = ()

    def to_api(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "sessionId": self.session_id,
            "seq": self.seq,
            "kind": self.kind,
            "sender": self.sender,
            "source": self.source,
            "text": "" if self.deleted_at else self.text,
            "operatorName": self.operator_name,
            "clientId": self.client_id,
            "createdAt": iso(self.created_at),
            "editedAt": iso(self.edited_at),
            "deletedAt": iso(self.deleted_at),
            "attachments": [] if self.deleted_at else [a.to_api() for a in self.attachments],
        }
        if self.kind != "message":
            body["name"] = self.name  # the event's name, or the notice's code (closed/reopened)
        if self.kind == "event":
            body["data"] = self.data
        if self.kind == "note":
            body["internal"] = True
        return body

    def to_event_api(self) -> dict[str, Any]:
        return {"id": self.id, "sessionId": self.session_id, "seq": self.seq, "name": self.name,
                "data": self.data, "sender": self.sender, "createdAt": iso(self.created_at)}


@dataclass(frozen=True)
class BridgeRecord:
    """A configured bridge as stored (``config`` decrypted); ``bridges.base.Bridge`` is the live one."""

    id: str
    project_id: str
    type: str
    config: dict[str, Any]
    status: str
    status_detail: str | None
    state: dict[str, Any]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Webhook:
    id: str
    project_id: str
    url: str
    events: tuple[str, ...]
    secret: str
    enabled: bool
    created_at: datetime


@dataclass(frozen=True)
class OutboxItem:
    id: int
    project_id: str
    session_id: str | None
    message_id: str | None
    target: str
    target_id: str
    action: str
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    result: dict[str, Any] | None
    created_at: datetime
    done_at: datetime | None = None


@dataclass(frozen=True)
class SessionCard:
    """What the team sees when a conversation starts: who, from where."""

    session: Session
    title: str  # a readable thread name: identity or short visitor label, plus the page
    lines: tuple[tuple[str, str], ...]  # ("Page", "https://..."), ("Browser", "Chrome 131") ...
    link: str | None = None  # the session in the inbox, when the server has a public URL
