"""The framework-neutral part of the webhook receivers: verify, dispatch, answer."""

from __future__ import annotations

import logging
from typing import Any

from pocketping_sdk.client import PocketPing
from pocketping_sdk.errors import WebhookVerificationError
from pocketping_sdk.sync import PocketPingSync

log = logging.getLogger("pocketping_sdk")

Client = PocketPing | PocketPingSync


def receive_blocking(pp: Client, raw_body: bytes, headers: Any) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body) for a webhook, dispatching synchronously.

    A bad signature answers 400 (PocketPing records the failure and retries); a handler
    that raises answers 500, so the same event (same id) comes again later.
    """
    try:
        event = pp.verify_webhook(raw_body, headers)
    except WebhookVerificationError as exc:
        log.warning("refused a webhook: %s", exc)
        return 400, {"error": {"code": exc.code, "message": exc.message}}
    try:
        handled = pp.dispatch_blocking(event)
    except Exception:
        log.exception("a PocketPing handler failed for %s %s", event.type, event.id)
        return 500, {"error": {"code": "handler_failed", "message": "a handler raised; PocketPing will retry"}}
    return 200, {"received": event.id, "handled": handled}
