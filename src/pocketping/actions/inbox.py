"""What a signed-in operator does in the web inbox. Every call checks that the session
belongs to one of the operator's projects first (``access_session``); a session of any other
project answers exactly like one that does not exist."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pocketping.actions import assignment, edits, notes, replies
from pocketping.actions import messages as message_actions
from pocketping.actions import sessions as session_actions
from pocketping.actions.requests import Sent
from pocketping.actions.services import Services
from pocketping.actions.unit import unit_of_work
from pocketping.core.models import Message, Session
from pocketping.core.operators import InboxLogin
from pocketping.core.replies import SavedReply
from pocketping.ephemeral import typing_event
from pocketping.errors import NotFound
from pocketping.hub import Event
from pocketping.store import inbox as repo
from pocketping.store import projects as project_repo
from pocketping.store import sessions as session_repo
from pocketping.store.db import Tx

SOURCE = "inbox"
TIMELINE_KINDS = ("message", "notice", "event", "note")


@dataclass(frozen=True)
class Conversation:
    session: Session
    project_name: str
    last_message: Message | None
    unread: int


async def access_session(svc: Services, login: InboxLogin, session_id: str) -> Session:
    async with svc.db.read() as tx:
        session = await session_repo.find_session_any_project(tx, session_id)
    if session is None or not login.reaches(session.project_id):
        raise NotFound(f"session {session_id} not found", code="session_not_found")
    return session


def scope(login: InboxLogin, project_id: str | None) -> tuple[str, ...]:
    """The operator's projects, or the one asked for if it is theirs (else 404)."""
    if project_id is None:
        return login.project_ids
    if not login.reaches(project_id):
        raise NotFound(f"project {project_id} not found", code="project_not_found")
    return (project_id,)


async def list_conversations(svc: Services, login: InboxLogin, *, status: str, limit: int,
                             before: tuple[datetime, str] | None = None,
                             project_id: str | None = None, view: str = "all",
                             sort: str = "activity") -> tuple[list[Conversation], bool]:
    """One page of conversations; the flag says whether there are more. ``view`` narrows to
    ``mine`` (assigned to this operator) or ``unassigned``."""
    projects = scope(login, project_id)
    async with svc.db.read() as tx:
        found = await repo.list_conversations(
            tx, projects, status=status, limit=limit + 1, before=before, sort=sort,
            assignee=login.operator.id if view == "mine" else None, unassigned=view == "unassigned")
        more = len(found) > limit
        found = found[:limit]
        return await _describe(tx, found), more


async def _describe(tx: Tx, found: list[Session]) -> list[Conversation]:
    last = await repo.last_messages(tx, found)  # the unread count and last seq are on the session rows
    names = await repo.project_names(tx, tuple({s.project_id for s in found}))
    return [Conversation(s, names.get(s.project_id, ""), last.get(s.id), s.operator_unread) for s in found]


async def open_conversation(svc: Services, login: InboxLogin, session_id: str, *, after_seq: int = 0,
                            limit: int = 200) -> tuple[Conversation, list[Message]]:
    """The conversation and one page of its timeline (messages, notices and custom events)."""
    session = await access_session(svc, login, session_id)
    async with svc.db.read() as tx:
        items = await session_repo.list_items(tx, session.id, after_seq=after_seq, limit=limit,
                                              kinds=TIMELINE_KINDS)
        described = await _describe(tx, [session])
    return described[0], items


async def reply(svc: Services, login: InboxLogin, session_id: str, text: object,
                client_id: object = None, *, attachments: object = None) -> Sent:
    """An ordinary operator message: it reaches the widget and is mirrored to every bridge."""
    session = await access_session(svc, login, session_id)
    return await message_actions.send_operator_message(
        svc, session.project_id, session.id, text, operator_name=login.operator.display_name, source=SOURCE,
        origin=SOURCE, client_id=client_id, attachments=attachments)


async def note(svc: Services, login: InboxLogin, session_id: str, text: object) -> Message:
    """An internal note: the team sees it (here and in every thread), the visitor never does."""
    session = await access_session(svc, login, session_id)
    return await notes.add_note(svc, session.project_id, session.id, text, operator_name=login.operator.display_name,
                                source=SOURCE, origin=SOURCE)


async def edit(svc: Services, login: InboxLogin, session_id: str, message_id: str, text: object) -> Message:
    """An operator's message, changed in place (the widget and every chat app copy follow)."""
    session = await access_session(svc, login, session_id)
    return await edits.edit_message_by_id(svc, session.project_id, message_id, text, origin=SOURCE,
                                          session_id=session.id)


async def delete(svc: Services, login: InboxLogin, session_id: str, message_id: str) -> Message:
    """An operator's message withdrawn: its text goes from the widget and every chat app copy."""
    session = await access_session(svc, login, session_id)
    return await edits.delete_message_by_id(svc, session.project_id, message_id, origin=SOURCE,
                                            session_id=session.id)


async def saved_replies(svc: Services, login: InboxLogin, project_id: str | None) -> list[SavedReply]:
    return await replies.list_replies(svc, scope(login, project_id))


async def set_status(svc: Services, login: InboxLogin, session_id: str, *, open_: bool) -> Session:
    session = await access_session(svc, login, session_id)
    if open_:
        return await session_actions.reopen_session(svc, session.project_id, session.id, origin=SOURCE)
    return await session_actions.close_session(svc, session.project_id, session.id, origin=SOURCE)


async def set_ai(svc: Services, login: InboxLogin, session_id: str, enabled: bool) -> Session:
    session = await access_session(svc, login, session_id)
    return await session_actions.set_ai_enabled(svc, session.project_id, session.id, enabled, origin=SOURCE)


async def assign(svc: Services, login: InboxLogin, session_id: str, who: str | None) -> Session:
    """Assign to ``"me"``, to a teammate (id or email) who works on the project, or to nobody."""
    session = await access_session(svc, login, session_id)
    if who == "me":
        return await assignment.assign_to_operator(svc, session, login.operator, origin=SOURCE)
    return await assignment.assign_session(svc, session.project_id, session.id, who, origin=SOURCE)


async def earlier_conversations(svc: Services, login: InboxLogin, session_id: str) -> list[Conversation]:
    """The same person's other conversations in the operator's projects: the same identified
    user id or email (found through the search index), most recent first."""
    session = await access_session(svc, login, session_id)
    if session.identity is None:
        return []
    async with svc.db.read() as tx:
        found = await repo.same_person(tx, login.project_ids, session)
        return await _describe(tx, found)


async def mark_read(svc: Services, login: InboxLogin, session_id: str, seq: int) -> bool:
    session = await access_session(svc, login, session_id)
    return await session_actions.mark_read(svc, session, by="operator", seq=min(seq, session.last_seq))


def typing(svc: Services, login: InboxLogin, session: Session, active: bool) -> None:
    """Ephemeral: published, never stored. The widget shows "<name> is typing"."""
    svc.hub.publish(typing_event(session.project_id, session.id, sender="operator", active=active,
                                 operator_name=login.operator.display_name, origin=SOURCE))


async def operator_active(svc: Services, project_ids: tuple[str, ...]) -> None:
    """An operator has the inbox open (or just did something): they count as online.

    Widgets hear of it when a project goes from offline to online.
    """
    timeout = svc.settings.presence_timeout_seconds
    async with unit_of_work(svc) as tx:
        for project_id in project_ids:
            project = await project_repo.find_project(tx, project_id)
            if project is None:
                continue
            was_online = session_actions.operators_online(project, tx.now.timestamp(), timeout)
            await project_repo.set_operator_presence(tx, project_id, active=True)
            if not was_online and project.operator_status != "away":
                tx.emit(Event("presence", project_id, data={"online": True}, broadcast=True,
                              widget_frame={"type": "presence", "online": True}, origin=SOURCE))
