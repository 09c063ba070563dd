"""What each API call sends and how its answer is read: shared by the sync and async clients."""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Generic, TypeVar

from pocketping_sdk.models import Attachment, CustomEvent, Delivery, Message, Page, Session, Webhook, WebhookEvent

T = TypeVar("T")
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Call(Generic[T]):
    method: str
    path: str
    parse: Callable[[Any], T]
    params: dict[str, Any] = field(default_factory=dict)
    json: Any = None
    files: Any = None  # multipart uploads (then no JSON body)
    # Safe to send again after a 5xx or a dropped connection (reads, or writes with a clientId).
    idempotent: bool = True


def backoff(attempt: int, retry_after: float | None = None, *, base: float = 0.5, cap: float = 30.0) -> float:
    """Exponential backoff with jitter; the server's ``Retry-After`` wins when it says more."""
    delay = min(cap, base * (2.0 ** attempt))
    delay = delay / 2 + random.uniform(0, delay / 2)
    return max(delay, retry_after or 0.0)


def should_retry(call: Call[Any], status: int, attempt: int, max_retries: int) -> bool:
    """429 always (nothing was done); 5xx only when sending again cannot do a thing twice."""
    return status in RETRY_STATUSES and attempt < max_retries and (call.idempotent or status == 429)


def retry_after_of(headers: Any) -> float | None:
    value = headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def new_client_id() -> str:
    return f"sdk_{uuid.uuid4().hex}"


def _clean(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


def _page_sessions(body: Any) -> Page[Session]:
    return Page([Session.from_api(s) for s in body["sessions"]], body.get("nextCursor"))


def _page_messages(body: Any) -> Page[Message]:
    return Page([Message.from_api(m) for m in body["messages"]], body.get("nextCursor"))


def _page_events(body: Any) -> Page[WebhookEvent]:
    return Page([WebhookEvent.from_api(e) for e in body["events"]], body.get("nextCursor"))


def _sent_event(body: Any) -> CustomEvent:
    return CustomEvent.from_api(body)


def _identity(body: Any) -> Any:
    return body


class Api:
    """Request builders, one per endpoint of ``/api/v1``."""

    @staticmethod
    def get_project() -> Call[dict[str, Any]]:
        return Call("GET", "/project", _identity)

    @staticmethod
    def list_sessions(status: str | None, limit: int, cursor: str | None) -> Call[Page[Session]]:
        return Call("GET", "/sessions", _page_sessions, params=_clean({"status": status, "limit": limit,
                                                                          "cursor": cursor}))

    @staticmethod
    def get_session(session_id: str) -> Call[Session]:
        return Call("GET", f"/sessions/{session_id}", Session.from_api)

    @staticmethod
    def list_messages(session_id: str, after_seq: int, limit: int, include_events: bool) -> Call[Page[Message]]:
        return Call("GET", f"/sessions/{session_id}/messages", _page_messages,
                    params={"after_seq": after_seq, "limit": limit, "include_events": str(include_events).lower()})

    @staticmethod
    def send_message(session_id: str, text: str, operator_name: str | None, client_id: str | None,
                     files: Sequence[Attachment | str] = ()) -> Call[Message]:
        body = _clean({"text": text, "operatorName": operator_name, "clientId": client_id or new_client_id()})
        if files:
            body["attachments"] = [f.id if isinstance(f, Attachment) else str(f) for f in files]
        return Call("POST", f"/sessions/{session_id}/messages", Message.from_api, json=body)

    @staticmethod
    def upload_file(file: bytes | str | os.PathLike[str] | BinaryIO, name: str | None,
                    content_type: str | None) -> Call[Attachment]:
        if isinstance(file, (str, os.PathLike)):
            data: bytes | BinaryIO = Path(file).read_bytes()
            name = name or Path(file).name
        else:
            data = file
        part = (name or "file", data, content_type or "application/octet-stream")
        # Not idempotent: a retried upload would store a second copy (harmless, but not retried blindly).
        return Call("POST", "/files", Attachment.from_api, files={"file": part}, idempotent=False)

    @staticmethod
    def close_session(session_id: str) -> Call[Session]:
        return Call("POST", f"/sessions/{session_id}/close", Session.from_api)

    @staticmethod
    def reopen_session(session_id: str) -> Call[Session]:
        return Call("POST", f"/sessions/{session_id}/reopen", Session.from_api)

    @staticmethod
    def emit_event(session_id: str, name: str, data: dict[str, Any] | None, client_id: str | None
                   ) -> Call[CustomEvent]:
        body = {"name": name, "data": data or {}, "clientId": client_id or new_client_id()}
        return Call("POST", f"/sessions/{session_id}/events", _sent_event, json=body)

    @staticmethod
    def emit_event_to_visitor(visitor_id: str, name: str, data: dict[str, Any] | None, client_id: str | None
                              ) -> Call[CustomEvent]:
        body = {"visitorId": visitor_id, "name": name, "data": data or {}, "clientId": client_id or new_client_id()}
        return Call("POST", "/events", _sent_event, json=body)

    @staticmethod
    def broadcast_event(name: str, data: dict[str, Any] | None) -> Call[CustomEvent]:
        return Call("POST", "/events", _sent_event, json={"name": name, "data": data or {}}, idempotent=False)

    @staticmethod
    def list_events(after: int, limit: int, types: list[str] | None) -> Call[Page[WebhookEvent]]:
        params: dict[str, Any] = {"after": after, "limit": limit}
        if types:
            params["type"] = list(types)
        return Call("GET", "/events", _page_events, params=params)

    @staticmethod
    def identify(session_id: str, user_id: str, email: str | None, name: str | None,
                 traits: dict[str, Any] | None) -> Call[Session]:
        body = _clean({"id": user_id, "email": email, "name": name, "traits": traits})
        return Call("POST", f"/sessions/{session_id}/identify", Session.from_api, json=body)

    @staticmethod
    def erase_session(session_id: str) -> Call[dict[str, Any]]:
        return Call("DELETE", f"/sessions/{session_id}", _identity)

    @staticmethod
    def export_visitor(visitor_id: str) -> Call[dict[str, Any]]:
        return Call("GET", f"/visitors/{visitor_id}/export", _identity)

    @staticmethod
    def erase_visitor(visitor_id: str) -> Call[dict[str, Any]]:
        return Call("DELETE", f"/visitors/{visitor_id}", _identity)

    @staticmethod
    def get_erasure(erase_id: str) -> Call[dict[str, Any]]:
        return Call("GET", f"/erasures/{erase_id}", _identity)

    @staticmethod
    def create_webhook(url: str, events: list[str] | None) -> Call[Webhook]:
        return Call("POST", "/webhooks", Webhook.from_api, json={"url": url, "events": list(events or [])},
                    idempotent=False)

    @staticmethod
    def list_webhooks() -> Call[list[Webhook]]:
        return Call("GET", "/webhooks", lambda body: [Webhook.from_api(w) for w in body["webhooks"]])

    @staticmethod
    def delete_webhook(webhook_id: str) -> Call[dict[str, Any]]:
        return Call("DELETE", f"/webhooks/{webhook_id}", _identity)

    @staticmethod
    def list_deliveries(webhook_id: str, status: str | None, limit: int) -> Call[list[Delivery]]:
        return Call("GET", f"/webhooks/{webhook_id}/deliveries",
                    lambda body: [Delivery.from_api(d) for d in body["deliveries"]],
                    params=_clean({"status": status, "limit": limit}))

    @staticmethod
    def replay_delivery(webhook_id: str, delivery_id: int) -> Call[Delivery]:
        return Call("POST", f"/webhooks/{webhook_id}/deliveries/{delivery_id}/replay", Delivery.from_api,
                    idempotent=False)
