"""Request and response shapes of the REST API (camelCase, as the protocol)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    code: str = Field(description="stable machine-readable error code")
    message: str


class ErrorResponse(BaseModel):
    error: ErrorBody


class Identity(BaseModel):
    id: str
    email: str | None = None
    name: str | None = None
    traits: dict[str, Any] = {}
    verified: bool = False


class SessionOut(BaseModel):
    id: str
    projectId: str
    visitorId: str
    status: Literal["active", "closed"]
    metadata: dict[str, Any]
    identity: Identity | None = None
    createdAt: str
    lastActivity: str
    closedAt: str | None = None
    lastSeq: int
    visitorReadSeq: int
    operatorReadSeq: int
    aiEnabled: bool
    assigneeId: str | None = None
    waitingSince: str | None = None
    rating: dict[str, Any] | None = Field(default=None, description='the visitor\'s rating once closed: {"score", '
                                          '"scale": "stars" (1-5) | "thumbs" (0-1), "comment", "ratedAt"}')


class SessionList(BaseModel):
    sessions: list[SessionOut]
    nextCursor: str | None = None


class AttachmentOut(BaseModel):
    id: str
    name: str
    size: int
    contentType: str
    width: int | None = None
    height: int | None = None
    url: str = Field(description="a signed link to the file, valid for about a day (relative to the server)")


class FileOut(AttachmentOut):
    """A stored upload, to name in a message's ``attachments``."""


class MessageOut(BaseModel):
    id: str
    sessionId: str
    seq: int
    kind: Literal["message", "event", "notice", "note"]
    sender: Literal["visitor", "operator", "ai", "system"]
    source: str
    text: str
    operatorName: str | None = None
    clientId: str | None = None
    createdAt: str
    editedAt: str | None = None
    deletedAt: str | None = None
    name: str | None = None
    data: dict[str, Any] | None = None
    attachments: list[AttachmentOut] = Field(default_factory=list)
    internal: bool | None = Field(default=None, description="true for an internal note (never shown to the visitor)")


class SessionPatchIn(Strict):
    assignee: str | None = Field(default=None, min_length=1, max_length=320,
                                 description="the operator to assign the conversation to (id or email); null unassigns")


class MessageList(BaseModel):
    messages: list[MessageOut]
    nextCursor: str | None = None


class MessageIn(Strict):
    text: str = Field(default="", max_length=100_000,
                      description="the reply; at most the server's text limit; optional with attachments")
    attachments: list[str] = Field(default_factory=list, max_length=10,
                                   description="ids of files uploaded with POST /api/v1/files")
    internal: bool = Field(default=False, description="an internal note for the team: stored and mirrored to "
                                                      "every chat app thread, never sent to the visitor")
    operatorName: str | None = Field(default=None, min_length=1, max_length=100)
    clientId: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.:-]{1,64}$",
                                 description="makes the call idempotent: a retry with the same id is stored once")


class MessagePatchIn(Strict):
    text: str = Field(max_length=100_000, description="the new text of an operator's message (the earlier "
                                                      "one is kept, encrypted, in its history)")


class EventIn(Strict):
    name: str = Field(pattern=r"^[a-zA-Z0-9_.:-]{1,64}$")
    data: dict[str, Any] = Field(default_factory=dict, description="a JSON object of at most 8 KB")
    clientId: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.:-]{1,64}$",
                                 description="makes the call idempotent: a retry with the same id is stored once")


class EventOut(BaseModel):
    id: str
    sessionId: str
    seq: int
    name: str | None
    data: dict[str, Any] | None
    sender: str
    createdAt: str


class IdentifyIn(Strict):
    id: str = Field(min_length=1, max_length=200, description="your user's id")
    email: str | None = Field(default=None, max_length=320)
    name: str | None = Field(default=None, max_length=320)
    traits: dict[str, Any] = Field(default_factory=dict, description="anything else to show the team "
                                   "(a JSON object of at most 4 KB)")


class SessionErasureOut(BaseModel):
    sessionId: str
    deleted: dict[str, int] = Field(description='what was removed: {"sessions": 1, "messages": N}')
    eraseId: str = Field(description="follow the deletion of the copies elsewhere: GET /api/v1/erasures/{eraseId}")


class ErasureOut(BaseModel):
    visitorId: str
    deleted: dict[str, int]
    eraseId: str = Field(description="follow the deletion of the copies elsewhere: GET /api/v1/erasures/{eraseId}")


class ErasureStepOut(BaseModel):
    target: str = Field(description='"telegram", "discord", "slack" or "files"')
    targetId: str = Field(description='the bridge id, or "files"')
    status: str = Field(description="pending (being deleted, retried while the platform is down), done, "
                                    "partial or failed")
    deleted: dict[str, int] = Field(description='what was deleted there: {"topics": 1}, {"messages": 5} ...')
    kept: list[str] = Field(description="what the platform kept against our request, and why")
    updatedAt: str
    note: str | None = None
    attempts: int | None = None
    error: str | None = Field(None, description="while pending: why the last attempt failed")


class ErasureStatusOut(BaseModel):
    eraseId: str
    projectId: str
    reason: str = Field(description='"request" (an erase) or "retention"')
    createdAt: str
    status: str = Field(description="pending, done, or incomplete (something was kept: see platforms)")
    deleted: dict[str, int] = Field(description="what was removed from the database: sessions, messages")
    platforms: list[ErasureStepOut]


class ConsentOut(BaseModel):
    at: str = Field(description="when the visitor left their address under the project's consent line")
    text: str = Field(description="the consent line they saw (project update --consent-text)")


class PrivacyConsentOut(BaseModel):
    choice: str = Field(description='the visitor\'s answer to the consent text: "accepted" or "declined"')
    at: str = Field(description="when they answered")


class ExportSession(BaseModel):
    session: SessionOut
    messages: list[MessageOut]
    consent: ConsentOut | None = None
    privacyConsent: PrivacyConsentOut | None = Field(
        None, description="the answer to the consent text (project update --consent), if the visitor gave one")


class ExportOut(BaseModel):
    visitorId: str
    exportedAt: str
    sessions: list[ExportSession]


class ProjectOut(BaseModel):
    id: str
    name: str
    publicKey: str
    secretKeyHint: str
    allowedOrigins: list[str]
    widget: dict[str, Any]
    collectCountry: bool
    storeIp: bool
    notifyEvents: list[str]
    identityVerification: bool
    consent: str = Field(description="off | notice | required (project update --consent): see docs/privacy.md")
    createdAt: str
    updatedAt: str
