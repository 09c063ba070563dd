"""Messages and custom events: one path, whoever sends them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError

from pocketping import ids
from pocketping.actions.sessions import set_status
from pocketping.actions.unit import unit_of_work
from pocketping.core.models import Message, Sender, Session
from pocketping.core.rules import check_client_id, check_event, check_operator_name, clean_text
from pocketping.hub import Event
from pocketping.services import Services
from pocketping.store import projects as project_repo
from pocketping.store import sessions as repo
from pocketping.store.db import Tx


@dataclass(frozen=True)
class Sent:
    message: Message
    session: Session
    duplicate: bool = False


def message_event(message: Message, session: Session, *, origin: str | None, first: bool = False) -> Event:
    api = message.to_api()
    return Event("message.created", session.project_id, session.id,
                 data={"message": api, "session": session.to_api(), "firstMessage": first},
                 widget_frame={"type": "message", "message": api}, origin=origin)


async def _append(svc: Services, session_id: str, project_id: str, *, sender: Sender, source: str, text: str,
                  client_id: str | None, operator_name: str | None, origin: str | None,
                  reopen: bool) -> Sent:
    async def write(tx: Tx) -> Sent:
        if client_id is not None:
            existing = await repo.find_by_client_id(tx, session_id, client_id)
            if existing is not None:
                return Sent(existing, await repo.get_session(tx, project_id, session_id), duplicate=True)
        session = await repo.get_session(tx, project_id, session_id, for_update=True)
        if reopen and session.status == "closed":
            session = await set_status(tx, session, "active", origin=origin)
        first = sender == "visitor" and session.first_message_at is None
        seq = await repo.next_seq(tx, session.id)
        message = await repo.insert_item(tx, id=ids.new_id(ids.MESSAGE), session_id=session.id, seq=seq,
                                         kind="message", sender=sender, source=source, text=text,
                                         operator_name=operator_name, client_id=client_id)
        if first:
            await repo.update_session(tx, session.id, first_message_at=tx.now)
        if sender == "operator":
            # Replying means the operator has read everything up to here.
            await repo.raise_read_seq(tx, session.id, "operator_read_seq", seq)
            await project_repo.set_operator_presence(tx, project_id, active=True)
        session = await repo.get_session(tx, project_id, session.id)
        tx.emit(message_event(message, session, origin=origin, first=first))
        if sender == "operator":
            tx.emit(Event("read", project_id, session.id, data={"by": "operator", "seq": seq},
                          widget_frame={"type": "read", "by": "operator", "seq": seq}))
        return Sent(message, session)

    try:
        async with unit_of_work(svc) as tx:
            return await write(tx)
    except IntegrityError:
        # Two tabs raced with the same clientId: the other one won; answer with its message.
        if client_id is None:
            raise
        async with svc.db.read() as tx:
            existing = await repo.find_by_client_id(tx, session_id, client_id)
            if existing is None:
                raise
            return Sent(existing, await repo.get_session(tx, project_id, session_id), duplicate=True)


async def send_visitor_message(svc: Services, project_id: str, session_id: str, text: Any,
                               client_id: Any = None) -> Sent:
    """A visitor's message. Idempotent on ``client_id``; writing into a closed session reopens it."""
    return await _append(svc, session_id, project_id, sender="visitor", source="widget",
                         text=clean_text(text, svc.settings.max_text_chars), client_id=check_client_id(client_id),
                         operator_name=None, origin="widget", reopen=True)


async def send_operator_message(svc: Services, project_id: str, session_id: str, text: Any, *,
                                operator_name: Any = None, source: str = "api", origin: str | None = None,
                                client_id: Any = None) -> Sent:
    """An operator's reply from the API, the inbox or a bridge (``origin`` names which bridge)."""
    return await _append(svc, session_id, project_id, sender="operator", source=source,
                         text=clean_text(text, svc.settings.max_text_chars), client_id=check_client_id(client_id),
                         operator_name=check_operator_name(operator_name), origin=origin or source, reopen=True)


async def send_ai_message(svc: Services, project_id: str, session_id: str, text: str, *,
                          client_id: str | None = None) -> Sent:
    return await _append(svc, session_id, project_id, sender="ai", source="ai",
                         text=clean_text(text, svc.settings.max_text_chars), client_id=client_id,
                         operator_name=None, origin="ai", reopen=False)


async def list_messages(svc: Services, project_id: str, session_id: str, *, after_seq: int = 0,
                        limit: int = 100, kinds: tuple[str, ...] | None = ("message", "notice")) -> list[Message]:
    async with svc.db.read() as tx:
        await repo.get_session(tx, project_id, session_id)
        return await repo.list_items(tx, session_id, after_seq=after_seq, limit=limit, kinds=kinds)


# --- custom events ------------------------------------------------------------------------

async def trigger_event(svc: Services, project_id: str, session_id: str, name: Any, data: Any,
                        client_id: Any = None) -> Sent:
    """A custom event from the widget to the site's backend (stored, then webhook / stream)."""
    name, data = check_event(name, data)
    client_id = check_client_id(client_id)
    async with unit_of_work(svc) as tx:
        if client_id is not None:
            existing = await repo.find_by_client_id(tx, session_id, client_id)
            if existing is not None:
                return Sent(existing, await repo.get_session(tx, project_id, session_id), duplicate=True)
        session = await repo.get_session(tx, project_id, session_id, for_update=True)
        seq = await repo.next_seq(tx, session.id)
        item = await repo.insert_item(tx, id=ids.new_id(ids.EVENT), session_id=session.id, seq=seq, kind="event",
                                      sender="visitor", source="widget", name=name, data=data, client_id=client_id)
        tx.emit(Event("event.triggered", project_id, session.id,
                      data={"event": item.to_event_api(), "session": session.to_api()}, origin="widget"))
        return Sent(item, session)


async def emit_event(svc: Services, project_id: str, session_id: str, name: Any, data: Any,
                     client_id: Any = None) -> Sent:
    """A custom event from the backend to every open tab of the visitor (replayed on reconnect).
    Idempotent on ``client_id``, so a backend may retry it safely."""
    name, data = check_event(name, data)
    client_id = check_client_id(client_id)
    async with unit_of_work(svc) as tx:
        session = await repo.get_session(tx, project_id, session_id, for_update=True)
        if client_id is not None:
            existing = await repo.find_by_client_id(tx, session.id, client_id)
            if existing is not None:
                return Sent(existing, session, duplicate=True)
        seq = await repo.next_seq(tx, session.id)
        item = await repo.insert_item(tx, id=ids.new_id(ids.EVENT), session_id=session.id, seq=seq, kind="event",
                                      sender="system", source="api", name=name, data=data, client_id=client_id)
        frame = {"type": "event", **item.to_event_api()}
        tx.emit(Event("event.emitted", project_id, session.id,
                      data={"event": item.to_event_api(), "session": session.to_api()}, widget_frame=frame))
        return Sent(item, session)


def widget_frame_for(item: Message) -> dict[str, Any]:
    """How a stored timeline item is replayed to a widget."""
    if item.kind == "event":
        return {"type": "event", **item.to_event_api()}
    return {"type": "message", "message": item.to_api()}
