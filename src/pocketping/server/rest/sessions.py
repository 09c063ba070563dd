"""Sessions and their messages, for the site's backend."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from pocketping.actions import assignment, notes
from pocketping.actions import erasure as erasure_actions
from pocketping.actions import messages as message_actions
from pocketping.actions import sessions as session_actions
from pocketping.errors import InvalidInput
from pocketping.server.rest.deps import ProjectDep, ServicesDep
from pocketping.server.rest.schemas import (
    EventIn,
    EventOut,
    IdentifyIn,
    MessageIn,
    MessageList,
    MessageOut,
    SessionErasureOut,
    SessionList,
    SessionOut,
    SessionPatchIn,
)
from pocketping.store import sessions as repo

router = APIRouter(prefix="/sessions", tags=["sessions"])


def _encode_cursor(at: datetime, session_id: str) -> str:
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{session_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, session_id = raw.split("|", 1)
        parsed = datetime.fromisoformat(at)
        if parsed.tzinfo is None:
            raise ValueError("naive")
        return parsed, session_id
    except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
        raise InvalidInput("cursor is not one this API gave out", code="invalid_cursor") from exc


@router.get("", response_model=SessionList, summary="List sessions, most recently active first")
async def list_sessions(project: ProjectDep, svc: ServicesDep,
                        status: Annotated[Literal["active", "closed"] | None, Query()] = None,
                        limit: Annotated[int, Query(ge=1, le=200)] = 50,
                        cursor: Annotated[str | None, Query(max_length=500)] = None) -> dict[str, object]:
    before = _decode_cursor(cursor) if cursor else None
    async with svc.db.read() as tx:
        found = await repo.list_sessions(tx, project.id, status=status, limit=limit + 1, before=before)
    more = len(found) > limit
    found = found[:limit]
    next_cursor = _encode_cursor(found[-1].last_activity, found[-1].id) if more and found else None
    return {"sessions": [s.to_api() for s in found], "nextCursor": next_cursor}


@router.get("/{session_id}", response_model=SessionOut, summary="One session")
async def get_session(session_id: str, project: ProjectDep, svc: ServicesDep) -> dict[str, object]:
    session = await session_actions.get_session(svc, project.id, session_id)
    return session.to_api()


@router.patch("/{session_id}", response_model=SessionOut,
              summary="Change a session: assign it to an operator (\"assignee\": id or email) or to nobody (null)")
async def patch_session(session_id: str, body: SessionPatchIn, project: ProjectDep, svc: ServicesDep
                        ) -> dict[str, object]:
    if "assignee" not in body.model_fields_set:
        return (await session_actions.get_session(svc, project.id, session_id)).to_api()
    session = await assignment.assign_session(svc, project.id, session_id, body.assignee, origin="api")
    return session.to_api()


@router.get("/{session_id}/messages", response_model=MessageList,
            summary="A session's messages in order; page with after_seq or the returned cursor")
async def list_messages(session_id: str, project: ProjectDep, svc: ServicesDep,
                        after_seq: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
                        limit: Annotated[int, Query(ge=1, le=500)] = 100,
                        cursor: Annotated[str | None, Query(pattern=r"^\d{1,10}$")] = None,
                        include_events: Annotated[bool, Query()] = False,
                        include_notes: Annotated[bool, Query()] = False) -> dict[str, object]:
    if cursor and int(cursor) > 2**31 - 1:  # a seq is an INTEGER column
        raise InvalidInput("cursor is not one this API gave out", code="invalid_cursor")
    after = max(after_seq, int(cursor)) if cursor else after_seq
    kinds = ("message", "notice", *(("event",) if include_events else ()), *(("note",) if include_notes else ()))
    found = await message_actions.list_messages(svc, project.id, session_id, after_seq=after, limit=limit + 1,
                                                kinds=kinds)
    more = len(found) > limit
    found = found[:limit]
    return {"messages": [m.to_api() for m in found], "nextCursor": str(found[-1].seq) if more and found else None}


@router.post("/{session_id}/messages", response_model=MessageOut, status_code=201,
             summary="Send an operator reply; it reaches the widget live and every bridge")
async def send_message(session_id: str, body: MessageIn, project: ProjectDep, svc: ServicesDep) -> dict[str, object]:
    if body.internal:
        note = await notes.add_note(svc, project.id, session_id, body.text, operator_name=body.operatorName,
                                    source="api", origin="api")
        return note.to_api()
    sent = await message_actions.send_operator_message(svc, project.id, session_id, body.text,
                                                       operator_name=body.operatorName, source="api",
                                                       client_id=body.clientId, attachments=body.attachments)
    return sent.message.to_api()


@router.post("/{session_id}/close", response_model=SessionOut, summary="Close a session")
async def close_session(session_id: str, project: ProjectDep, svc: ServicesDep) -> dict[str, object]:
    return (await session_actions.close_session(svc, project.id, session_id, origin="api")).to_api()


@router.post("/{session_id}/reopen", response_model=SessionOut, summary="Reopen a closed session")
async def reopen_session(session_id: str, project: ProjectDep, svc: ServicesDep) -> dict[str, object]:
    return (await session_actions.reopen_session(svc, project.id, session_id, origin="api")).to_api()


@router.post("/{session_id}/events", response_model=EventOut, status_code=201,
             summary="Send a custom event to every open tab of the visitor (replayed on reconnect)")
async def emit_event(session_id: str, body: EventIn, project: ProjectDep, svc: ServicesDep) -> dict[str, object]:
    sent = await message_actions.emit_event(svc, project.id, session_id, body.name, body.data,
                                            client_id=body.clientId)
    return sent.message.to_event_api()


@router.post("/{session_id}/identify", response_model=SessionOut,
             summary="Attach one of your users to the session (verified: the secret key vouches for it)")
async def identify_session(session_id: str, body: IdentifyIn, project: ProjectDep, svc: ServicesDep
                           ) -> dict[str, object]:
    session = await session_actions.identify_by_backend(svc, project.id, session_id, user_id=body.id,
                                                        email=body.email, name=body.name, traits=body.traits)
    return session.to_api()


@router.delete("/{session_id}", response_model=SessionErasureOut, tags=["privacy"],
               summary="Erase a session and its messages")
async def erase_session(session_id: str, project: ProjectDep, svc: ServicesDep) -> dict[str, object]:
    done = await erasure_actions.erase_session(svc, project.id, session_id)
    return {"sessionId": session_id, "deleted": done.counts(), "eraseId": done.erase_id}
