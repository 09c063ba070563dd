"""Custom events from the backend to visitors: one visitor by id, or every open widget."""

from __future__ import annotations

from typing import Any

from pocketping import ids
from pocketping.actions.messages import emit_event
from pocketping.actions.requests import Sent
from pocketping.actions.services import Services
from pocketping.core.models import iso
from pocketping.core.rules import check_event
from pocketping.errors import NotFound
from pocketping.hub import Event
from pocketping.store import event_log
from pocketping.store import sessions as repo


async def emit_event_to_visitor(svc: Services, project_id: str, visitor_id: str, name: Any, data: Any,
                                client_id: Any = None) -> Sent:
    """Like ``emit_event`` on the visitor's session (a visitor has one session per project)."""
    async with svc.db.read() as tx:
        session = await repo.find_visitor_session(tx, project_id, visitor_id)
    if session is None:
        raise NotFound(f"visitor {visitor_id} not found", code="visitor_not_found")
    return await emit_event(svc, project_id, session.id, name, data, client_id=client_id)


def broadcast_event(svc: Services, project_id: str, name: Any, data: Any) -> dict[str, Any]:
    """Send an event live to every widget of the project that is open now.

    Not stored: a broadcast is about "now" (a flash sale banner), and storing it in every
    session a project ever had would cost more than it is worth. Send to one visitor
    (``emit_event``) for an event that must survive a reconnect.
    """
    name, data = check_event(name, data)
    event = {"id": ids.new_id(ids.EVENT), "sessionId": None, "seq": None, "name": name, "data": data,
             "sender": "system", "createdAt": iso(svc.clock.now()), "broadcast": True}
    svc.hub.publish(Event("event.broadcast", project_id, None, data={"event": event},
                          widget_frame={"type": "event", **event}, broadcast=True))
    return event


async def list_public_events(svc: Services, project_id: str, after: int, *, limit: int = 100,
                             types: tuple[str, ...] | None = None) -> list[event_log.LoggedEvent]:
    async with svc.db.read() as tx:
        return await event_log.after(tx, project_id, after, limit=limit, types=types)


async def latest_event_seq(svc: Services, project_id: str) -> int:
    async with svc.db.read() as tx:
        return await event_log.last_seq(tx, project_id)
