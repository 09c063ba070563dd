"""Messages and custom events: one path, whoever sends them."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.exc import IntegrityError

from pocketping import ids
from pocketping.actions.files import MAX_ATTACHMENTS
from pocketping.actions.requests import AppendRequest, Sent
from pocketping.actions.services import Services
from pocketping.actions.sessions import set_status
from pocketping.actions.unit import unit_of_work
from pocketping.core.models import Message, Sender, Session
from pocketping.core.rules import check_client_id, check_event, check_operator_name, clean_text
from pocketping.errors import InvalidInput, NotFound
from pocketping.groupcommit import GroupCommit
from pocketping.hub import Event
from pocketping.store import files as files_repo
from pocketping.store import projects as project_repo
from pocketping.store import sessions as repo
from pocketping.store.db import Tx
from pocketping.store.files import StoredFile


def message_event(message: Message, session: Session, *, origin: str | None, first: bool = False) -> Event:
    api = message.to_api()
    return Event("message.created", session.project_id, session.id,
                 data={"message": api, "session": session.to_api(), "firstMessage": first},
                 widget_frame={"type": "message", "message": api}, origin=origin)


# Runs inside the message's transaction once the session row is locked; raising aborts it.
BeforeInsert = Callable[[Tx, Session], Awaitable[None]]


async def _append_batch(tx: Tx, requests: list[AppendRequest]) -> list[Sent | BaseException]:
    """Store many messages set-wise: one lookup for resends, one for sessions, one seq
    reservation per session and one multi-row INSERT, whatever the batch size."""
    results: list[Sent | BaseException | None] = [None] * len(requests)
    stored = await files_repo.find_files(tx, [f for r in requests for f in r.attachments])
    links: list[tuple[str, str, str]] = []
    claimed: set[str] = set()
    locked, resent = await repo.lock_sessions_for(tx, [(r.session_id, r.client_id) for r in requests])
    by_session: dict[str, list[int]] = {}
    for i, r in enumerate(requests):
        by_session.setdefault(r.session_id, []).append(i)
    rows: list[Message] = []
    last_seqs: dict[str, Session] = {}
    for session_id in sorted(by_session):
        session = locked.get(session_id)
        fresh: list[int] = []
        first_of: dict[str, int] = {}  # clientId -> index of its first request in this batch
        for i in by_session[session_id]:
            r = requests[i]
            if session is None or session.project_id != r.project_id:
                results[i] = NotFound(f"session {session_id} not found", code="session_not_found")
            elif r.client_id is not None and (session_id, r.client_id) in resent:
                results[i] = Sent(resent[(session_id, r.client_id)], session, duplicate=True)
            elif r.client_id is not None and r.client_id in first_of:
                pass  # the same message twice in one batch: answered below, from the first
            elif (bad := _bad_attachment(r, stored, claimed)) is not None:
                results[i] = bad
            else:
                if r.client_id is not None:
                    first_of[r.client_id] = i
                fresh.append(i)
        if session is None or not fresh:
            continue
        if session.status == "closed" and any(requests[i].reopen for i in fresh):
            session = await set_status(tx, session, "active", origin=requests[fresh[0]].origin)
        # The row is locked (FOR UPDATE, or SQLite's write lock): its last_seq is ours to extend.
        start = session.last_seq + 1
        unread = session.operator_unread  # an operator's reply reads everything before it
        for i in fresh:
            if requests[i].sender == "visitor":
                unread += 1
            elif requests[i].sender == "operator":
                unread = 0
        changes: dict[str, Any] = {"last_seq": start + len(fresh) - 1, "last_activity": tx.now,
                                   "last_message_seq": start + len(fresh) - 1, "operator_unread": unread}
        first_visitor = session.first_message_at is None and any(requests[i].sender == "visitor" for i in fresh)
        if first_visitor:
            await repo.update_session(tx, session_id, first_message_at=tx.now)
            changes["first_message_at"] = tx.now
        waiting = session.waiting_since
        for i in fresh:  # the visitor waits from their first unanswered message; any answer ends it
            waiting = (waiting or tx.now) if requests[i].sender == "visitor" else None
        answered = session.first_response_at is None and session.first_message_at is not None and any(
            requests[i].sender in ("operator", "ai") for i in fresh)
        if waiting != session.waiting_since or answered:
            timing: dict[str, Any] = {"waiting_since": waiting}
            if answered:
                timing["first_response_at"] = tx.now
            await repo.update_session(tx, session_id, **timing)
            changes.update(timing)
        operator_seqs = [start + k for k, i in enumerate(fresh) if requests[i].sender == "operator"]
        if operator_seqs:
            # Replying means the operator has read everything up to here (written by set_last_seqs).
            await project_repo.set_operator_presence(tx, session.project_id, active=True)
            changes["operator_read_seq"] = max(max(operator_seqs), session.operator_read_seq)
        after = last_seqs[session_id] = dataclasses.replace(session, **changes)
        announced_first = False
        for k, i in enumerate(fresh):
            r = requests[i]
            message = Message(id=ids.new_id(ids.MESSAGE), session_id=session_id, seq=start + k, kind="message",
                              sender=r.sender, source=r.source, text=r.text, created_at=tx.now,
                              operator_name=r.operator_name, client_id=r.client_id,
                              attachments=tuple(stored[f].attachment(tx) for f in r.attachments))
            links.extend((f, session_id, message.id) for f in r.attachments)
            rows.append(message)
            first = first_visitor and r.sender == "visitor" and not announced_first
            announced_first = announced_first or first
            tx.emit(message_event(message, after, origin=r.origin, first=first))
            results[i] = Sent(message, after)
        if operator_seqs:
            seq = max(operator_seqs)
            tx.emit(Event("read", session.project_id, session_id, data={"by": "operator", "seq": seq},
                          widget_frame={"type": "read", "by": "operator", "seq": seq}))
        for i in by_session[session_id]:
            r = requests[i]
            if results[i] is None and r.client_id is not None:
                original = results[first_of[r.client_id]]
                if isinstance(original, Sent):
                    results[i] = dataclasses.replace(original, duplicate=True)
    await repo.store_batch(tx, last_seqs, rows)
    await files_repo.attach_files(tx, links)
    return [r if r is not None else RuntimeError("unanswered") for r in results]


def _bad_attachment(r: AppendRequest, stored: dict[str, StoredFile], claimed: set[str]) -> InvalidInput | None:
    """Why a message may not name its files: unknown, another project's or session's, or
    already named by a message (this batch's included). Claims them if they are fine."""
    for file_id in r.attachments:
        f = stored.get(file_id)
        if (f is None or f.project_id != r.project_id or f.message_id is not None or file_id in claimed
                or (f.session_id is not None and f.session_id != r.session_id)):
            return InvalidInput(f"attachment {file_id[:64]} is not an upload of this conversation waiting "
                                "to be sent; upload the file again", code="invalid_attachment",
                                field="attachments")
    claimed.update(r.attachments)
    return None


def check_attachments(value: Any) -> tuple[str, ...]:
    """The ``attachments`` of a message frame or request: a list of file ids (at most 10)."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and 0 < len(v) <= 64 for v in value):
        raise InvalidInput("attachments must be a list of file ids", code="invalid_attachment", field="attachments")
    if len(value) > MAX_ATTACHMENTS:
        raise InvalidInput(f"a message names at most {MAX_ATTACHMENTS} files", code="too_many_attachments",
                           limit=MAX_ATTACHMENTS)
    if len(set(value)) != len(value):
        raise InvalidInput("a file is named twice", code="invalid_attachment", field="attachments")
    return tuple(value)


def _text_of(text: Any, attachments: tuple[str, ...], max_chars: int) -> str:
    """The message's text: optional (empty) when it carries files."""
    if attachments and (text is None or (isinstance(text, str) and not text.strip())):
        return ""
    return clean_text(text, max_chars)


def _writer(svc: Services) -> GroupCommit[AppendRequest, Sent]:
    if svc.message_writer is None:
        async def process(requests: list[AppendRequest]) -> list[Sent | BaseException]:
            async with unit_of_work(svc) as tx:
                return await _append_batch(tx, requests)

        svc.message_writer = GroupCommit(process, writers=svc.writers())
    return svc.message_writer


async def _append(svc: Services, session_id: str, project_id: str, *, sender: Sender, source: str, text: str,
                  client_id: str | None, operator_name: str | None, origin: str | None,
                  reopen: bool, attachments: tuple[str, ...] = ()) -> Sent:
    request = AppendRequest(project_id, session_id, sender, source, text, client_id, operator_name, origin, reopen,
                            attachments)
    try:
        return await _writer(svc).run(request)
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
                               client_id: Any = None, attachments: Any = None, *, source: str = "widget") -> Sent:
    """A visitor's message (from the widget, or ``source="email"``: an answer to a reply mail).
    Idempotent on ``client_id``; writing into a closed session reopens it.
    ``attachments`` names files the visitor uploaded (text is then optional)."""
    files = check_attachments(attachments)
    return await _append(svc, session_id, project_id, sender="visitor", source=source,
                         text=_text_of(text, files, svc.settings.max_text_chars), client_id=check_client_id(client_id),
                         operator_name=None, origin=source, reopen=True, attachments=files)


async def send_operator_message(svc: Services, project_id: str, session_id: str, text: Any, *,
                                operator_name: Any = None, source: str = "api", origin: str | None = None,
                                client_id: Any = None, attachments: Any = None) -> Sent:
    """An operator's reply from the API, the inbox or a bridge (``origin`` names which bridge)."""
    files = check_attachments(attachments)
    return await _append(svc, session_id, project_id, sender="operator", source=source,
                         text=_text_of(text, files, svc.settings.max_text_chars), client_id=check_client_id(client_id),
                         operator_name=check_operator_name(operator_name), origin=origin or source, reopen=True,
                         attachments=files)


async def send_ai_message(svc: Services, project_id: str, session_id: str, text: str, *,
                          client_id: str | None = None, before_insert: BeforeInsert | None = None) -> Sent:
    """The AI fallback's answer. ``before_insert`` runs in the message's own transaction once
    the session row is locked, to check that the answer is still wanted (no operator replied
    meanwhile) and to count it; raising aborts the message."""
    text = clean_text(text, svc.settings.max_text_chars)
    if before_insert is None:
        return await _append(svc, session_id, project_id, sender="ai", source="ai", text=text, client_id=client_id,
                             operator_name=None, origin="ai", reopen=False)
    # Not through the group commit: a hook that aborts must not take other messages with it.
    async with unit_of_work(svc) as tx:
        session = await repo.get_session(tx, project_id, session_id, for_update=True)
        await before_insert(tx, session)
        (result,) = await _append_batch(tx, [AppendRequest(project_id, session_id, "ai", "ai", text, client_id, None,
                                                     "ai", False)])
        if isinstance(result, BaseException):
            raise result
        return result


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
