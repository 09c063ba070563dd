"""The inbox page's JSON API under ``/inbox/api``: signed-in cookie, CSRF token on every change.

Only the operator's projects are reachable; any other session answers 404 like a missing one.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from pocketping.actions import assignment, replies
from pocketping.actions import files as file_actions
from pocketping.actions import inbox as inbox_actions
from pocketping.actions import search as search_actions
from pocketping.actions import stats as stats_actions
from pocketping.actions.projects import get_project
from pocketping.server.inbox.deps import ChangeDep, LoginDep, ServicesDep
from pocketping.server.inbox.security import PAGE_HEADERS
from pocketping.server.inbox.views import conversation_json, me_json, message_json, session_json, teammate_json
from pocketping.server.rest.sessions import _decode_cursor, _encode_cursor
from pocketping.server.uploads import receive_file
from pocketping.store import inbox as inbox_repo

router = APIRouter(prefix="/inbox/api", include_in_schema=False)

_NO_STORE = {"Cache-Control": PAGE_HEADERS["Cache-Control"]}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReplyIn(_Body):
    text: str = Field(default="", max_length=100_000)
    clientId: str | None = None
    attachments: list[str] = Field(default_factory=list, max_length=10)
    internal: bool = False  # a note for the team, never sent to the visitor


class AiIn(_Body):
    enabled: bool


class AssignIn(_Body):
    assignee: str | None = Field(max_length=320)  # "me", an operator's id or email, or null


class SavedReplyIn(_Body):
    projectId: str = Field(max_length=64)
    shortcut: str = Field(max_length=64)
    text: str = Field(max_length=4000)


class ReadIn(_Body):
    seq: int = Field(ge=0, le=2**31 - 1)


@router.get("/me")
async def me(login: LoginDep, svc: ServicesDep, response: Response) -> dict[str, Any]:
    response.headers.update(_NO_STORE)
    async with svc.db.read() as tx:
        names = await inbox_repo.project_names(tx, login.project_ids)
    team = await assignment.team_of(svc, login.project_ids)
    return {**me_json(login, names), "team": [teammate_json(op, login.project_ids) for op in team]}


@router.get("/conversations/{session_id}/earlier")
async def earlier(session_id: str, login: LoginDep, svc: ServicesDep, response: Response) -> dict[str, Any]:
    """The same person's other conversations (same email), for the details panel."""
    response.headers.update(_NO_STORE)
    found = await inbox_actions.earlier_conversations(svc, login, session_id)
    return {"conversations": [conversation_json(c) for c in found]}


@router.post("/conversations/{session_id}/assign")
async def assign(session_id: str, body: AssignIn, login: ChangeDep, svc: ServicesDep) -> dict[str, Any]:
    return await _session_answer(svc, await inbox_actions.assign(svc, login, session_id, body.assignee))


@router.get("/conversations")
async def conversations(login: LoginDep, svc: ServicesDep, response: Response,
                        status: Annotated[Literal["active", "closed"], Query()] = "active",
                        limit: Annotated[int, Query(ge=1, le=200)] = 50,
                        cursor: Annotated[str | None, Query(max_length=500)] = None,
                        project: Annotated[str | None, Query(max_length=64)] = None,
                        view: Annotated[Literal["all", "mine", "unassigned"], Query()] = "all",
                        sort: Annotated[Literal["activity", "waiting"], Query()] = "activity") -> dict[str, Any]:
    response.headers.update(_NO_STORE)
    found, more = await inbox_actions.list_conversations(
        svc, login, status=status, limit=limit, before=_decode_cursor(cursor) if cursor else None,
        project_id=project, view=view, sort=sort)
    more = more and sort == "activity"  # the waiting order is one page: the longest waits
    next_cursor = _encode_cursor(found[-1].session.last_activity, found[-1].session.id) if more and found else None
    return {"conversations": [conversation_json(c) for c in found], "nextCursor": next_cursor}


@router.get("/conversations/{session_id}")
async def conversation(session_id: str, login: LoginDep, svc: ServicesDep, response: Response,
                       after_seq: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
                       limit: Annotated[int, Query(ge=1, le=500)] = 200) -> dict[str, Any]:
    """The conversation and its timeline after ``after_seq``, in seq order (page with ``nextCursor``)."""
    response.headers.update(_NO_STORE)
    conv, items = await inbox_actions.open_conversation(svc, login, session_id, after_seq=after_seq,
                                                        limit=limit + 1)
    more = len(items) > limit
    items = items[:limit]
    return {"conversation": conversation_json(conv), "messages": [message_json(m) for m in items],
            "nextCursor": str(items[-1].seq) if more and items else None}


@router.post("/conversations/{session_id}/messages", status_code=201)
async def reply(session_id: str, body: ReplyIn, login: ChangeDep, svc: ServicesDep) -> dict[str, Any]:
    if body.internal:
        note = await inbox_actions.note(svc, login, session_id, body.text)
        return {"message": message_json(note), "duplicate": False}
    sent = await inbox_actions.reply(svc, login, session_id, body.text, body.clientId, attachments=body.attachments)
    return {"message": message_json(sent.message), "duplicate": sent.duplicate}


class EditIn(_Body):
    text: str = Field(max_length=100_000)


@router.patch("/conversations/{session_id}/messages/{message_id}")
async def edit(session_id: str, message_id: str, body: EditIn, login: ChangeDep, svc: ServicesDep
               ) -> dict[str, Any]:
    """Edit an operator's message in place (PATCH /api/v1/messages/{id} for the inbox)."""
    return {"message": message_json(await inbox_actions.edit(svc, login, session_id, message_id, body.text))}


@router.delete("/conversations/{session_id}/messages/{message_id}")
async def delete(session_id: str, message_id: str, login: ChangeDep, svc: ServicesDep) -> dict[str, Any]:
    """Delete an operator's message (DELETE /api/v1/messages/{id} for the inbox)."""
    return {"message": message_json(await inbox_actions.delete(svc, login, session_id, message_id))}


@router.post("/conversations/{session_id}/uploads", status_code=201)
async def upload(session_id: str, request: Request, login: ChangeDep, svc: ServicesDep) -> dict[str, Any]:
    """A file for the operator's next reply in this conversation (multipart, field ``file``)."""
    session = await inbox_actions.access_session(svc, login, session_id)
    project = await get_project(svc, session.project_id)
    async with receive_file(request, svc.settings.max_upload_bytes) as got:
        record = await file_actions.store_file(svc, project, got.path, name=got.name, uploader="inbox",
                                               session_id=session.id)
    return file_actions.file_api(svc, record)


async def _session_answer(svc: ServicesDep, session: Any) -> dict[str, Any]:
    async with svc.db.read() as tx:
        names = await inbox_repo.project_names(tx, (session.project_id,))
    return {"session": session_json(session.to_api(), names.get(session.project_id, ""))}


@router.post("/conversations/{session_id}/close")
async def close(session_id: str, login: ChangeDep, svc: ServicesDep) -> dict[str, Any]:
    return await _session_answer(svc, await inbox_actions.set_status(svc, login, session_id, open_=False))


@router.post("/conversations/{session_id}/reopen")
async def reopen(session_id: str, login: ChangeDep, svc: ServicesDep) -> dict[str, Any]:
    return await _session_answer(svc, await inbox_actions.set_status(svc, login, session_id, open_=True))


@router.post("/conversations/{session_id}/ai")
async def set_ai(session_id: str, body: AiIn, login: ChangeDep, svc: ServicesDep) -> dict[str, Any]:
    return await _session_answer(svc, await inbox_actions.set_ai(svc, login, session_id, body.enabled))


@router.post("/conversations/{session_id}/read")
async def read(session_id: str, body: ReadIn, login: ChangeDep, svc: ServicesDep) -> dict[str, Any]:
    changed = await inbox_actions.mark_read(svc, login, session_id, body.seq)
    return {"changed": changed}


@router.get("/search")
async def search(login: LoginDep, svc: ServicesDep, response: Response, q: Annotated[str, Query(max_length=200)],
                 project: Annotated[str | None, Query(max_length=64)] = None,
                 limit: Annotated[int, Query(ge=1, le=200)] = 50) -> dict[str, Any]:
    """Messages and visitors of the operator's projects (or one of them) holding every word of ``q``."""
    response.headers.update(_NO_STORE)
    found = await search_actions.search(svc, inbox_actions.scope(login, project), q, limit=limit)
    async with svc.db.read() as tx:
        names = await inbox_repo.project_names(tx, tuple({h.project_id for h in found}))
    return {"results": [{**h.to_api(), "projectName": names.get(h.project_id, "")} for h in found]}


@router.get("/replies")
async def saved_replies(login: LoginDep, svc: ServicesDep, response: Response,
                        project: Annotated[str | None, Query(max_length=64)] = None) -> dict[str, Any]:
    """The saved replies of the operator's projects (what ``/`` in the reply box offers)."""
    response.headers.update(_NO_STORE)
    return {"replies": [r.to_api() for r in await inbox_actions.saved_replies(svc, login, project)]}


@router.post("/replies", status_code=201)
async def add_saved_reply(body: SavedReplyIn, login: ChangeDep, svc: ServicesDep) -> dict[str, Any]:
    inbox_actions.scope(login, body.projectId)
    saved, created = await replies.add_reply(svc, body.projectId, body.shortcut, body.text)
    return {"reply": saved.to_api(), "created": created}


@router.delete("/replies/{project_id}/{shortcut}")
async def remove_saved_reply(project_id: str, shortcut: str, login: ChangeDep, svc: ServicesDep) -> dict[str, Any]:
    inbox_actions.scope(login, project_id)
    await replies.remove_reply(svc, project_id, shortcut)
    return {"deleted": True}


@router.get("/stats")
async def project_stats(login: LoginDep, svc: ServicesDep, response: Response,
                        project: Annotated[str, Query(max_length=64)],
                        since: Annotated[str, Query(max_length=8)] = "30d") -> dict[str, Any]:
    """The numbers of one of the operator's projects (as ``pocketping stats``)."""
    response.headers.update(_NO_STORE)
    inbox_actions.scope(login, project)
    return await stats_actions.project_stats(svc, project, since)
