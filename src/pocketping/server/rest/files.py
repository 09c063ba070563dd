"""Files: uploads (backends with the secret key, widgets with their session token), downloads,
and the signed links messages carry. Every file is served inert: as a download, except images
PocketPing re-encoded itself, with ``nosniff`` and a sandboxing CSP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials

from pocketping import tokens
from pocketping.actions import files as file_actions
from pocketping.actions.projects import get_project
from pocketping.actions.services import Services
from pocketping.core.models import Project
from pocketping.core.rules import origin_allowed
from pocketping.errors import Forbidden, NotFound, PocketPingError, Unauthorized
from pocketping.files.sniff import IMAGES
from pocketping.server.app import error_response
from pocketping.server.rest.deps import ProjectDep, ServicesDep, bearer
from pocketping.server.rest.schemas import FileOut
from pocketping.server.uploads import receive_file
from pocketping.store import sessions as session_repo
from pocketping.store.files import StoredFile

router = APIRouter(prefix="/files", tags=["files"])
_BINARY: dict[int | str, dict[str, object]] = {
    200: {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
          "description": "the file's bytes"}}
widget_router = APIRouter(prefix="/widget", tags=["widget"])
links = APIRouter(tags=["files"])

_INERT = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox",
          "Cache-Control": "private, max-age=3600", "Cross-Origin-Resource-Policy": "cross-origin"}


def _disposition(record: StoredFile) -> str:
    kind = "inline" if record.content_type in IMAGES else "attachment"
    ascii_name = record.name.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(record.name)}"


async def serve_file(svc: Services, record: StoredFile) -> Response:
    """The file as an inert response (read from the store before the status line is sent)."""
    stream = file_actions.open_file(svc, record)
    first = await anext(stream, b"")

    async def body() -> AsyncIterator[bytes]:
        yield first
        async for piece in stream:
            yield piece

    media = record.content_type if record.content_type in IMAGES else "application/octet-stream"
    headers = {**_INERT, "Content-Disposition": _disposition(record)}
    if record.size >= 0:
        headers["Content-Length"] = str(record.size)
    return StreamingResponse(body(), media_type=media, headers=headers)


@router.post("", response_model=FileOut, status_code=201,
             summary="Upload a file (multipart/form-data, field 'file'); name its id in a message's attachments")
async def upload(request: Request, project: ProjectDep, svc: ServicesDep) -> dict[str, object]:
    async with receive_file(request, svc.settings.max_upload_bytes) as got:
        record = await file_actions.store_file(svc, project, got.path, name=got.name, uploader="api",
                                               session_id=None)
    return file_actions.file_api(svc, record)


@router.get("/{file_id}", summary="Download a file of this project", response_class=Response, responses=_BINARY)
async def download(file_id: str, project: ProjectDep, svc: ServicesDep) -> Response:
    return await serve_file(svc, await file_actions.access_file_by_key(svc, project.id, file_id))


# --- the widget: the visitor's session token as Bearer -------------------------------------

@dataclass(frozen=True)
class Visitor:
    """Who a widget request comes from: the session its token names, from an allowed origin."""

    project: Project
    session_id: str
    origin: str | None


async def current_visitor(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None,
                                                                  Depends(bearer)]) -> Visitor:
    svc: Services = request.app.state.svc
    claims = tokens.read(svc.db.keyring, credentials.credentials if credentials else None)
    if claims is None:
        raise Unauthorized("send the widget's session token as 'Authorization: Bearer <token>'",
                           code="invalid_token")
    try:
        project = await get_project(svc, claims.project_id)
    except NotFound as exc:
        raise Unauthorized("the session token names no project", code="invalid_token") from exc
    origin = request.headers.get("origin")
    if not origin_allowed(origin, project.allowed_origins):
        raise Forbidden(f"origin {origin!r} is not allowed for this project", code="origin_not_allowed")
    async with svc.db.read() as tx:
        session = await session_repo.find_session(tx, project.id, claims.session_id)
    if session is None:
        raise NotFound("the session no longer exists", code="session_not_found")
    return Visitor(project, session.id, origin)


VisitorDep = Annotated[Visitor, Depends(current_visitor)]


def _cors(origin: str | None) -> dict[str, str]:
    if not origin:
        return {}
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin",
            "Access-Control-Expose-Headers": "Retry-After"}


@widget_router.options("/uploads", include_in_schema=False)
async def upload_preflight(request: Request) -> Response:
    # The origin is checked on the upload itself (the preflight carries no token to tell the project).
    headers = {**_cors(request.headers.get("origin")), "Access-Control-Allow-Methods": "POST",
               "Access-Control-Allow-Headers": "authorization", "Access-Control-Max-Age": "600"}
    return Response(status_code=204, headers=headers)


@widget_router.post("/uploads", response_model=FileOut, status_code=201,
                    summary="A visitor's upload (the session token as Bearer, from an allowed origin)")
async def widget_upload(request: Request, visitor: VisitorDep, svc: ServicesDep) -> Response:
    headers = _cors(visitor.origin)
    try:
        file_actions.check_upload_rate(svc, visitor.session_id)
        async with receive_file(request, svc.settings.max_upload_bytes) as got:
            record = await file_actions.store_file(svc, visitor.project, got.path, name=got.name,
                                                   uploader="visitor", session_id=visitor.session_id)
    except PocketPingError as exc:
        # The page must be able to read why (CORS headers on the error too).
        response = error_response(exc)
        response.headers.update(headers)
        return response
    return JSONResponse(file_actions.file_api(svc, record), status_code=201, headers=headers)


@widget_router.get("/files/{file_id}", summary="A file of the visitor's own conversation", response_class=Response,
                   responses=_BINARY)
async def widget_download(file_id: str, visitor: VisitorDep, svc: ServicesDep) -> Response:
    record = await file_actions.access_file_by_session(svc, visitor.project.id, visitor.session_id, file_id)
    return await serve_file(svc, record)


# --- signed links (what messages carry) -----------------------------------------------------

@links.get("/files/{file_id}", summary="A file through the signed link a message carries", response_class=Response,
           responses=_BINARY)
async def signed_download(file_id: str, svc: ServicesDep, exp: Annotated[int, Query(ge=0, le=2**40)],
                          sig: Annotated[str, Query(min_length=8, max_length=64)],
                          thumb: Annotated[bool, Query(description="an image's small preview (320 px)")] = False
                          ) -> Response:
    record = await file_actions.access_file_by_link(svc, file_id, exp, sig)
    if thumb and file_actions.has_thumbnail(record):
        return await serve_file(svc, file_actions.thumbnail_of(record))
    return await serve_file(svc, record)
