"""A session's timeline events rebuilt from the database: what a node that missed some
pub/sub messages (a restart, a Redis blip) gives its listeners instead (see redishub)."""

from __future__ import annotations

from pocketping.actions.messages import message_event
from pocketping.actions.services import Services
from pocketping.core.models import Message, Session
from pocketping.hub import Event
from pocketping.store import sessions as repo

PAGE = 500


def item_event(item: Message, session: Session) -> Event:
    """The event the action that stored ``item`` published (origin and first-message flag aside)."""
    if item.kind == "event":
        api = item.to_event_api()
        if item.sender == "visitor":
            return Event("event.triggered", session.project_id, session.id,
                         data={"event": api, "session": session.to_api()}, origin="widget")
        return Event("event.emitted", session.project_id, session.id,
                     data={"event": api, "session": session.to_api()}, widget_frame={"type": "event", **api})
    if item.kind == "notice":
        api = item.to_api()
        return Event("notice.created", session.project_id, session.id,
                     data={"message": api, "session": session.to_api()},
                     widget_frame={"type": "message", "message": api})
    return message_event(item, session, origin=None)


async def timeline_events(svc: Services, session_id: str, after: int, upto: int | None) -> list[Event]:
    """Events for the items with ``after < seq < upto`` (every later one when ``upto`` is None)."""
    events: list[Event] = []
    async with svc.db.read() as tx:
        session = await repo.find_session_any_project(tx, session_id)
        if session is None:
            return []
        while True:
            page = await repo.list_items(tx, session_id, after_seq=after, limit=PAGE)
            for item in page:
                if upto is not None and item.seq >= upto:
                    return events
                events.append(item_event(item, session))
            if len(page) < PAGE:
                return events
            after = page[-1].seq
