"""``POST /bridges/slack/events``: the Request URL of every Slack bridge on this server."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from pocketping.bridges.slack.events import MAX_BODY
from pocketping.relay.deps import shared_bridge_deps

router = APIRouter(include_in_schema=False)


@router.post("/bridges/slack/events")
async def slack_events(request: Request) -> JSONResponse:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_BODY:
        return JSONResponse({"error": {"code": "too_large", "message": "body too large"}}, status_code=413)
    body = await request.body()
    if len(body) > MAX_BODY:
        return JSONResponse({"error": {"code": "too_large", "message": "body too large"}}, status_code=413)
    answer = await shared_bridge_deps(request.app.state.svc).slack_events.handle(request.headers, body)
    return JSONResponse(answer.body, status_code=answer.status, headers=answer.headers)
