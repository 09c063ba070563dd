"""Public events: what webhooks and the stream carry, built from what the actions emit.

The body is ``{"id", "type", "createdAt", "projectId", "data"}``; ``id`` is made once when
the change commits and is the same on every delivery attempt and every endpoint, so
receivers can deduplicate.
"""

from __future__ import annotations

from typing import Any

from pocketping import ids
from pocketping.hub import Event

# The event types a webhook can subscribe to (all of them when it names none).
PUBLIC_TYPES = ("session.created", "session.closed", "session.reopened", "message.created",
                "event.triggered", "visitor.identified", "session.assigned", "session.rated")


def public_data(event: Event) -> dict[str, Any] | None:
    """The ``data`` of the public event for this internal one, or None if it is not public."""
    if event.type not in PUBLIC_TYPES:
        return None
    session: dict[str, Any] = event.data.get("session") or {}
    head = {"sessionId": session.get("id", event.session_id), "visitorId": session.get("visitorId")}
    if event.type == "event.triggered":
        item = event.data["event"]
        return {**head, "name": item["name"], "data": item["data"], "createdAt": item["createdAt"]}
    if event.type == "message.created":
        return {**head, "message": event.data["message"], "session": session}
    if event.type == "visitor.identified":
        return {**head, "identity": session.get("identity"), "session": session}
    if event.type == "session.assigned":
        return {**head, "assignee": event.data.get("assignee"), "session": session}
    if event.type == "session.rated":
        return {**head, "rating": event.data.get("rating"), "session": session}
    return {**head, "session": session}


def public_body(event: Event, created_at: str) -> dict[str, Any] | None:
    data = public_data(event)
    if data is None:
        return None
    return {"id": ids.new_id(ids.PUBLIC_EVENT), "type": event.type, "createdAt": created_at,
            "projectId": event.project_id, "data": data}
