"""Webhook receiver for Starlette and FastAPI.

    from pocketping_sdk.starlette import webhook_endpoint
    app.add_api_route("/webhooks/pocketping", webhook_endpoint(pp), methods=["POST"],
                      include_in_schema=False)            # FastAPI
    Route("/webhooks/pocketping", webhook_endpoint(pp), methods=["POST"])   # Starlette
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pocketping_sdk._receiver import Client, receive_blocking
from pocketping_sdk.client import PocketPing
from pocketping_sdk.errors import WebhookVerificationError

log = logging.getLogger("pocketping_sdk")


def webhook_endpoint(pp: Client) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint that verifies each webhook and dispatches it to ``pp``'s handlers."""

    async def endpoint(request: Request) -> Response:
        body = await request.body()
        if not isinstance(pp, PocketPing):
            status, answer = await run_in_threadpool(receive_blocking, pp, body, request.headers)
            return JSONResponse(answer, status_code=status)
        try:
            event = pp.verify_webhook(body, request.headers)
        except WebhookVerificationError as exc:
            log.warning("refused a webhook: %s", exc)
            return JSONResponse({"error": {"code": exc.code, "message": exc.message}}, status_code=400)
        try:
            handled = await pp.dispatch(event)
        except Exception:
            log.exception("a PocketPing handler failed for %s %s", event.type, event.id)
            return JSONResponse({"error": {"code": "handler_failed", "message": "a handler raised; "
                                           "PocketPing will retry"}}, status_code=500)
        return JSONResponse({"received": event.id, "handled": handled})

    return endpoint
