"""Request and response shapes of the webhook and event endpoints."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import BaseModel, Field

from pocketping.server.rest.schemas import Strict

PublicType = Literal["session.created", "session.closed", "session.reopened", "message.created",
                     "event.triggered", "visitor.identified", "session.assigned", "session.rated"]


# Ids are a prefix and letters or digits: anything else cannot exist (and must never reach SQL).
WebhookIdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_]{1,64}$", description="the webhook's id (wh_...)")]


class WebhookIn(Strict):
    url: str = Field(min_length=1, max_length=2000, description="an http:// or https:// URL that accepts POST")
    events: list[PublicType] = Field(default_factory=list, max_length=20,
                                     description="the event types to send; all of them when empty")


class WebhookOut(BaseModel):
    id: str
    url: str
    events: list[str]
    enabled: bool
    createdAt: str


class WebhookCreated(WebhookOut):
    secret: str = Field(description="the signing secret; shown only now")


class WebhookList(BaseModel):
    webhooks: list[WebhookOut]


class WebhookDeleted(BaseModel):
    id: str
    deleted: bool


class DeliveryOut(BaseModel):
    id: int
    webhookId: str
    eventId: str | None
    type: str
    sessionId: str | None
    status: Literal["pending", "done", "failed"]
    attempts: int
    lastError: str | None
    responseStatus: int | None
    durationMs: int | None
    createdAt: str
    nextAttemptAt: str | None
    finishedAt: str | None


class DeliveryList(BaseModel):
    deliveries: list[DeliveryOut]


class PublicEvent(BaseModel):
    """The body of a webhook, and of each stream event (which also has ``seq``)."""

    id: str
    type: str
    createdAt: str
    projectId: str
    data: dict[str, Any]
    seq: int | None = Field(default=None, description="the event's position in the project's log (stream only)")


class PublicEventList(BaseModel):
    events: list[PublicEvent]
    nextCursor: str | None = Field(description="pass as 'after' for the next page; null when this was the last")
    lastSeq: int = Field(description="the seq of the last event returned, or 'after' when none was")


class SendEventIn(Strict):
    name: str = Field(pattern=r"^[a-zA-Z0-9_.:-]{1,64}$")
    data: dict[str, Any] = Field(default_factory=dict, description="a JSON object of at most 8 KB")
    visitorId: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_]{1,64}$",
                                  description="send to this visitor; without it, to every open widget")
    clientId: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.:-]{1,64}$",
                                 description="with visitorId: a retry with the same id is stored once")


class SentEventOut(BaseModel):
    id: str
    sessionId: str | None
    seq: int | None
    name: str | None
    data: dict[str, Any] | None
    sender: str
    createdAt: str
    broadcast: bool = False
