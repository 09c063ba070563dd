"""HTTP endpoints platforms call: ``POST /bridges/telegram/{bridge_id}`` (Telegram webhooks).

Each call is authenticated by the bridge itself (Telegram: the secret token header,
compared in constant time) before anything is read from it.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from pocketping.bridges.base import ReceivesWebhooks

router = APIRouter(include_in_schema=False)

MAX_BODY = 1 << 20


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


@router.post("/bridges/telegram/{bridge_id}")
async def telegram_webhook(bridge_id: str, request: Request) -> JSONResponse:
    manager = request.app.state.svc.extras.get("bridge_manager")
    record = manager.record(bridge_id) if manager is not None else None
    if record is None or record.type != "telegram":
        return _error(404, "bridge_not_found", "no such Telegram bridge on this server")
    bridge = manager.live[bridge_id].bridge
    if not isinstance(bridge, ReceivesWebhooks):
        return _error(503, "bridge_not_running", "the bridge is not running")
    body = await request.body()
    if len(body) > MAX_BODY:
        return _error(413, "too_large", "the update is too large")
    answer = await bridge.handle_webhook(request.headers, body)
    return JSONResponse(answer.body, status_code=answer.status)
