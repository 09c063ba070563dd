"""The synchronous client: ``PocketPingSync`` (same methods as ``PocketPing``, without await)."""

from __future__ import annotations

import asyncio
import inspect
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, BinaryIO, TypeVar

import httpx

from pocketping_sdk import _api
from pocketping_sdk._api import Api, Call
from pocketping_sdk._base import Base, embedded_session, session_of
from pocketping_sdk.client import STREAM_READ_TIMEOUT, _json, _json_bytes
from pocketping_sdk.errors import APIConnectionError, PocketPingError, error_from_response
from pocketping_sdk.models import Attachment, CustomEvent, Delivery, Message, Page, Session, Webhook, WebhookEvent
from pocketping_sdk.sse import EventReader

T = TypeVar("T")


class PocketPingSync(Base):
    """Blocking client, for scripts, Flask, Django and workers without an event loop."""

    def __init__(self, secret_key: str | None = None, base_url: str | None = None, *,
                 http_client: httpx.Client | None = None, **options: Any) -> None:
        super().__init__(secret_key, base_url, **options)
        self._client = http_client or httpx.Client(timeout=self.timeout, headers=self.headers)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> PocketPingSync:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, call: Call[T]) -> T:
        attempt = 0
        while True:
            try:
                response = self._client.request(call.method, self.api_url + call.path, params=call.params,
                                                json=call.json, files=call.files, headers=self.headers)
            except httpx.TransportError as exc:
                if call.idempotent and attempt < self.max_retries:
                    time.sleep(_api.backoff(attempt, base=self.retry_backoff))
                    attempt += 1
                    continue
                raise APIConnectionError(f"could not reach {self.base_url}: {exc}", code="connection_error") from exc
            if _api.should_retry(call, response.status_code, attempt, self.max_retries):
                time.sleep(_api.backoff(attempt, _api.retry_after_of(response.headers), base=self.retry_backoff))
                attempt += 1
                continue
            body = _json(response)
            if response.status_code >= 400:
                raise error_from_response(response.status_code, body)
            return call.parse(body)

    # --- REST (see PocketPing for the documentation of each) ------------------------------------
    def get_project(self) -> dict[str, Any]:
        return self._call(Api.get_project())

    def list_sessions(self, status: str | None = None, *, limit: int = 50, cursor: str | None = None
                      ) -> Page[Session]:
        return self._call(Api.list_sessions(status, limit, cursor))

    def iter_sessions(self, status: str | None = None) -> Iterator[Session]:
        cursor: str | None = None
        while True:
            page = self.list_sessions(status, limit=200, cursor=cursor)
            yield from page
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def get_session(self, session_id: str) -> Session:
        return self._call(Api.get_session(session_id))

    def list_messages(self, session_id: str, *, after_seq: int = 0, limit: int = 100,
                      include_events: bool = False) -> Page[Message]:
        return self._call(Api.list_messages(session_id, after_seq, limit, include_events))

    def send_message(self, session_id: str, text: str = "", *, operator_name: str | None = None,
                     client_id: str | None = None, files: Sequence[Attachment | str] = ()) -> Message:
        return self._call(Api.send_message(session_id, text, operator_name, client_id, files))

    def upload_file(self, file: bytes | str | os.PathLike[str] | BinaryIO, *, name: str | None = None,
                    content_type: str | None = None) -> Attachment:
        return self._call(Api.upload_file(file, name, content_type))

    def close_session(self, session_id: str) -> Session:
        return self._call(Api.close_session(session_id))

    def reopen_session(self, session_id: str) -> Session:
        return self._call(Api.reopen_session(session_id))

    def emit_event(self, session_id: str, name: str, data: dict[str, Any] | None = None, *,
                   client_id: str | None = None) -> CustomEvent:
        return self._call(Api.emit_event(session_id, name, data, client_id))

    def emit_event_to_visitor(self, visitor_id: str, name: str, data: dict[str, Any] | None = None, *,
                              client_id: str | None = None) -> CustomEvent:
        return self._call(Api.emit_event_to_visitor(visitor_id, name, data, client_id))

    def broadcast_event(self, name: str, data: dict[str, Any] | None = None) -> CustomEvent:
        return self._call(Api.broadcast_event(name, data))

    def list_events(self, *, after: int = 0, limit: int = 100, types: list[str] | None = None
                    ) -> Page[WebhookEvent]:
        return self._call(Api.list_events(after, limit, types))

    def identify(self, session_id: str, user_id: str, *, email: str | None = None, name: str | None = None,
                 traits: dict[str, Any] | None = None) -> Session:
        return self._call(Api.identify(session_id, user_id, email, name, traits))

    def erase_session(self, session_id: str) -> dict[str, Any]:
        return self._call(Api.erase_session(session_id))

    def export_visitor(self, visitor_id: str) -> dict[str, Any]:
        return self._call(Api.export_visitor(visitor_id))

    def erase_visitor(self, visitor_id: str) -> dict[str, Any]:
        return self._call(Api.erase_visitor(visitor_id))

    def get_erasure(self, erase_id: str) -> dict[str, Any]:
        return self._call(Api.get_erasure(erase_id))

    def create_webhook(self, url: str, events: list[str] | None = None) -> Webhook:
        return self._call(Api.create_webhook(url, events))

    def list_webhooks(self) -> list[Webhook]:
        return self._call(Api.list_webhooks())

    def delete_webhook(self, webhook_id: str) -> None:
        self._call(Api.delete_webhook(webhook_id))

    def list_deliveries(self, webhook_id: str, *, status: str | None = None, limit: int = 50) -> list[Delivery]:
        return self._call(Api.list_deliveries(webhook_id, status, limit))

    def replay_delivery(self, webhook_id: str, delivery_id: int) -> Delivery:
        return self._call(Api.replay_delivery(webhook_id, delivery_id))

    # --- dispatching -------------------------------------------------------------------------
    def dispatch(self, event: WebhookEvent) -> int:
        """Call the registered handlers (async ones run in an event loop of their own)."""
        if self._already_handled(event):
            return 0
        calls = self._plan(event)
        session = embedded_session(event)
        for handler, args in calls:
            if handler.wants_session:
                if session is None:
                    session_id = session_of(args)
                    if session_id is None:
                        raise PocketPingError("this event has no session", code="no_session")
                    session = self.get_session(session_id)
                args = (*args, session)
            result = handler.fn(*args)
            if inspect.isawaitable(result):
                asyncio.run(_await(result))
        self._mark_handled(event)
        return len(calls)

    dispatch_blocking = dispatch

    def handle_webhook(self, raw_body: bytes | str, headers: Mapping[str, str] | Any) -> WebhookEvent:
        event = self.verify_webhook(raw_body, headers)
        self.dispatch(event)
        return event

    def stream(self, *, after: int | None = None, types: list[str] | None = None,
               reconnect: bool = True) -> Iterator[WebhookEvent]:
        """Like ``PocketPing.stream``: live events, resumed without loss after a drop."""
        cursor = after
        attempt = 0
        params: dict[str, Any] = {"type": list(types)} if types else {}
        timeout = httpx.Timeout(self.timeout, read=STREAM_READ_TIMEOUT)
        while True:
            headers = {**self.headers, "Accept": "text/event-stream"}
            if cursor is not None:
                headers["Last-Event-ID"] = str(cursor)
            try:
                with self._client.stream("GET", self.api_url + "/events/stream", params=params, headers=headers,
                                         timeout=timeout) as response:
                    if response.status_code != 200:
                        error = error_from_response(response.status_code, _json_bytes(response.read()))
                        if response.status_code not in _api.RETRY_STATUSES or not reconnect:
                            raise error
                    else:
                        reader = EventReader(cursor)
                        try:
                            for line in response.iter_lines():
                                for event in reader.feed(line):
                                    attempt = 0
                                    yield event
                        finally:
                            cursor = reader.cursor
            except httpx.TransportError as exc:
                if not reconnect:
                    raise APIConnectionError(f"the stream from {self.base_url} dropped: {exc}",
                                             code="connection_error") from exc
            if not reconnect:
                return
            time.sleep(_api.backoff(attempt, base=self.retry_backoff))
            attempt = min(attempt + 1, 6)

    def listen(self, *, after: int | None = None, types: list[str] | None = None) -> None:
        for event in self.stream(after=after, types=types):
            self.dispatch(event)


async def _await(awaitable: Any) -> Any:
    return await awaitable
