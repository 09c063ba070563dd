"""Custom events to visitors, and the project's public events (list and live stream)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import StreamingResponse

from pocketping.actions import events as actions
from pocketping.errors import InvalidInput
from pocketping.server.rest.deps import ProjectDep, ServicesDep
from pocketping.server.rest.hook_schemas import PublicEventList, PublicType, SendEventIn, SentEventOut
from pocketping.store.event_log import LoggedEvent
from pocketping.webhooks.feed import follow

router = APIRouter(prefix="/events", tags=["events"])

TypesQuery = Annotated[list[PublicType] | None, Query(
    alias="type", description="only these event types (repeatable); all when absent")]


@router.post("", response_model=SentEventOut, status_code=201,
             responses={202: {"model": SentEventOut, "description": "broadcast to every open widget"}},
             summary="Send a custom event to one visitor (visitorId) or, without it, to every open widget")
async def send_event(body: SendEventIn, project: ProjectDep, svc: ServicesDep, response: Response
                     ) -> dict[str, Any]:
    if body.visitorId is None:
        if body.clientId is not None:
            raise InvalidInput("clientId needs a visitorId (broadcasts are not stored)", code="invalid_client_id")
        response.status_code = 202
        return actions.broadcast_event(svc, project.id, body.name, body.data)
    sent = await actions.emit_event_to_visitor(svc, project.id, body.visitorId, body.name, body.data,
                                               client_id=body.clientId)
    return {**sent.message.to_event_api(), "broadcast": False}


def _api(item: LoggedEvent) -> dict[str, Any]:
    return {**item.body, "seq": item.seq}


@router.get("", response_model=PublicEventList,
            summary="The project's public events after a cursor, oldest first (what webhooks carry)")
async def list_events(project: ProjectDep, svc: ServicesDep,
                      after: Annotated[int, Query(ge=0, le=2**62, description="a seq; 0 for the oldest kept")] = 0,
                      limit: Annotated[int, Query(ge=1, le=500)] = 100,
                      types: TypesQuery = None) -> dict[str, Any]:
    found = await actions.list_public_events(svc, project.id, after, limit=limit + 1,
                                             types=tuple(types) if types else None)
    more = len(found) > limit
    found = found[:limit]
    last = found[-1].seq if found else after
    return {"events": [_api(e) for e in found], "nextCursor": str(last) if more else None, "lastSeq": last}


def _sse(item: LoggedEvent) -> bytes:
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (item.seq, item.type.encode(), orjson.dumps(_api(item)))


@router.get("/stream", response_class=StreamingResponse,
            responses={200: {"description": "Server-Sent Events: one `id:` (the seq), `event:` (the type) and "
                                            "`data:` (the event as JSON) per event; `: ping` comments while idle",
                             "content": {"text/event-stream": {"schema": {"type": "string"}}}}},
            summary="Follow the project's public events live (Server-Sent Events); resume with Last-Event-ID")
async def stream_events(project: ProjectDep, svc: ServicesDep,
                        after: Annotated[int | None, Query(ge=0, le=2**62, description="start after this seq "
                                                           "(0: everything kept); default: from now on")] = None,
                        types: TypesQuery = None,
                        last_event_id: Annotated[str | None, Header(max_length=20)] = None) -> StreamingResponse:
    cursor = after
    if last_event_id is not None:
        if not (last_event_id.isascii() and last_event_id.isdigit() and int(last_event_id) <= 2**62):
            raise InvalidInput("Last-Event-ID must be a seq this stream gave", code="invalid_cursor")
        cursor = int(last_event_id)
    if cursor is None:
        cursor = await actions.latest_event_seq(svc, project.id)
    start = cursor
    chosen = tuple(types) if types else None

    async def body() -> AsyncIterator[bytes]:
        # An id-only message: the client's cursor is set even before the first event arrives.
        yield b"retry: 2000\nid: %d\n\n" % start
        async for batch in follow(svc.db, svc.hub, project.id, start, types=chosen,
                                  poll_seconds=max(0.2, svc.settings.outbox_poll_seconds)):
            if not batch:
                yield b": ping\n\n"
                continue
            yield b"".join(_sse(item) for item in batch)

    return StreamingResponse(body(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
