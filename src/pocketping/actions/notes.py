"""Internal notes: a line for the team in a conversation, never sent to the visitor.

A note is a timeline item of kind ``note`` (sender ``operator``, ``internal: true`` in the
API). Its event, ``note.created``, carries no widget frame, the widget's replay leaves notes
out (``list_items`` returns them only when asked for by kind), and the bridge planner posts
it into every thread marked as a note.
"""

from __future__ import annotations

from pocketping import ids
from pocketping.actions.services import Services
from pocketping.actions.unit import unit_of_work
from pocketping.core.models import Message
from pocketping.core.rules import clean_text
from pocketping.hub import Event
from pocketping.store import sessions as repo


async def add_note(svc: Services, project_id: str, session_id: str, text: object, *, operator_name: str | None,
                   source: str, origin: str | None = None) -> Message:
    clean = clean_text(text, svc.settings.max_text_chars)
    async with unit_of_work(svc) as tx:
        session = await repo.get_session(tx, project_id, session_id, for_update=True)
        seq = await repo.next_seq(tx, session.id)
        note = await repo.insert_item(tx, id=ids.new_id(ids.MESSAGE), session_id=session.id, seq=seq, kind="note",
                                      sender="operator", source=source, text=clean, operator_name=operator_name)
        session = await repo.get_session(tx, project_id, session_id)
        tx.emit(Event("note.created", project_id, session_id,
                      data={"message": note.to_api(), "session": session.to_api()}, origin=origin))
        return note
