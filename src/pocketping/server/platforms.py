"""HTTP endpoints the platforms call, all in one place: ``POST /bridges/telegram/{bridge_id}``
(Telegram webhooks) and ``POST /bridges/slack/events`` (Slack's Events API Request URL).

Each call is authenticated by the bridge itself (Telegram: the secret token header; Slack:
the request signature, both compared in constant time) before anything is read from it.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from pocketping.bridges.base import ReceivesWebhooks
from pocketping.server.state import edges_of

router = APIRouter(include_in_schema=False)

MAX_BODY = 1 << 20


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def _too_large(request: Request) -> bool:
    length = request.headers.get("content-length")
    return length is not None and length.isdigit() and int(length) > MAX_BODY


@router.post("/bridges/telegram/{bridge_id}")
async def telegram_webhook(bridge_id: str, request: Request) -> JSONResponse:
    manager = edges_of(request.app).bridges
    record = manager.live.record(bridge_id) if manager is not None else None
    if manager is None or record is None or record.type != "telegram":
        return _error(404, "bridge_not_found", "no such Telegram bridge on this server")
    bridge = manager.live.running(bridge_id)
    if not isinstance(bridge, ReceivesWebhooks):
        return _error(503, "bridge_not_running", "the bridge is not running")
    body = await request.body()
    if len(body) > MAX_BODY:
        return _error(413, "too_large", "the update is too large")
    answer = await bridge.handle_webhook(request.headers, body)
    return JSONResponse(answer.body, status_code=answer.status)


@router.post("/bridges/slack/events")
async def slack_events(request: Request) -> JSONResponse:
    if _too_large(request):
        return _error(413, "too_large", "body too large")
    body = await request.body()
    if len(body) > MAX_BODY:
        return _error(413, "too_large", "body too large")
    answer = await edges_of(request.app).slack_events.handle(request.headers, body)
    return JSONResponse(answer.body, status_code=answer.status, headers=answer.headers)
