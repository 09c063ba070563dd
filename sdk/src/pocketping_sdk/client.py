"""The asynchronous client: ``PocketPing``."""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import weakref
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, BinaryIO, TypeVar

import httpx

from pocketping_sdk import _api
from pocketping_sdk._api import Api, Call
from pocketping_sdk._base import Base, embedded_session, session_of
from pocketping_sdk.errors import APIConnectionError, PocketPingError, error_from_response
from pocketping_sdk.models import Attachment, CustomEvent, Delivery, Message, Page, Session, Webhook, WebhookEvent
from pocketping_sdk.sse import EventReader

T = TypeVar("T")
STREAM_READ_TIMEOUT = 60.0  # the server sends a heartbeat every 15 s


class PocketPing(Base):
    """Async client for a PocketPing server's REST API, webhooks and event stream.

    >>> pp = PocketPing(secret_key="sk_live_...", base_url="https://chat.example.com")
    """

    def __init__(self, secret_key: str | None = None, base_url: str | None = None, *,
                 http_client: httpx.AsyncClient | None = None, **options: Any) -> None:
        super().__init__(secret_key, base_url, **options)
        self._own_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
            weakref.WeakKeyDictionary())
        self._given_client = http_client

    def _http(self) -> httpx.AsyncClient:
        # One client per event loop: a connection pool cannot move between loops (a Flask or
        # Django receiver runs each dispatch in a loop of its own).
        if self._given_client is not None:
            return self._given_client
        loop = asyncio.get_running_loop()
        client = self._own_clients.get(loop)
        if client is None:
            client = httpx.AsyncClient(timeout=self.timeout, headers=self.headers)
            self._own_clients[loop] = client
        return client

    async def aclose(self) -> None:
        """Close this event loop's connections."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        client = self._own_clients.pop(loop, None)
        if client is not None:
            await client.aclose()

    async def __aenter__(self) -> PocketPing:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _call(self, call: Call[T]) -> T:
        attempt = 0
        while True:
            try:
                response = await self._http().request(call.method, self.api_url + call.path, params=call.params,
                                                      json=call.json, files=call.files, headers=self.headers)
            except httpx.TransportError as exc:
                if call.idempotent and attempt < self.max_retries:
                    await asyncio.sleep(_api.backoff(attempt, base=self.retry_backoff))
                    attempt += 1
                    continue
                raise APIConnectionError(f"could not reach {self.base_url}: {exc}", code="connection_error") from exc
            if _api.should_retry(call, response.status_code, attempt, self.max_retries):
                delay = _api.backoff(attempt, _api.retry_after_of(response.headers), base=self.retry_backoff)
                await asyncio.sleep(delay)
                attempt += 1
                continue
            body = _json(response)
            if response.status_code >= 400:
                raise error_from_response(response.status_code, body)
            return call.parse(body)

    # --- REST --------------------------------------------------------------------------------
    async def get_project(self) -> dict[str, Any]:
        return await self._call(Api.get_project())

    async def list_sessions(self, status: str | None = None, *, limit: int = 50, cursor: str | None = None
                            ) -> Page[Session]:
        """One page of sessions, most recently active first (``.next_cursor`` for the next)."""
        return await self._call(Api.list_sessions(status, limit, cursor))

    async def iter_sessions(self, status: str | None = None) -> AsyncIterator[Session]:
        cursor: str | None = None
        while True:
            page = await self.list_sessions(status, limit=200, cursor=cursor)
            for session in page:
                yield session
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    async def get_session(self, session_id: str) -> Session:
        return await self._call(Api.get_session(session_id))

    async def list_messages(self, session_id: str, *, after_seq: int = 0, limit: int = 100,
                            include_events: bool = False) -> Page[Message]:
        return await self._call(Api.list_messages(session_id, after_seq, limit, include_events))

    async def send_message(self, session_id: str, text: str = "", *, operator_name: str | None = None,
                           client_id: str | None = None, files: Sequence[Attachment | str] = ()) -> Message:
        """An operator reply, shown in the widget and mirrored to the team's chat apps.
        Retried safely: a ``client_id`` (generated when not given) makes it idempotent.
        ``files`` are uploads (``upload_file``'s answers or their ids); the text is then optional."""
        return await self._call(Api.send_message(session_id, text, operator_name, client_id, files))

    async def upload_file(self, file: bytes | str | os.PathLike[str] | BinaryIO, *, name: str | None = None,
                          content_type: str | None = None) -> Attachment:
        """Store a file (bytes, a path or an open binary file) to name in ``send_message(files=...)``.
        The server decides its type from its bytes; images are re-encoded without their metadata."""
        return await self._call(Api.upload_file(file, name, content_type))

    async def close_session(self, session_id: str) -> Session:
        return await self._call(Api.close_session(session_id))

    async def reopen_session(self, session_id: str) -> Session:
        return await self._call(Api.reopen_session(session_id))

    async def emit_event(self, session_id: str, name: str, data: dict[str, Any] | None = None, *,
                         client_id: str | None = None) -> CustomEvent:
        """Send a custom event to every open tab of the session's visitor (the page's
        ``PocketPing.onEvent`` handlers); replayed if the visitor was offline."""
        return await self._call(Api.emit_event(session_id, name, data, client_id))

    async def emit_event_to_visitor(self, visitor_id: str, name: str, data: dict[str, Any] | None = None, *,
                                    client_id: str | None = None) -> CustomEvent:
        return await self._call(Api.emit_event_to_visitor(visitor_id, name, data, client_id))

    async def broadcast_event(self, name: str, data: dict[str, Any] | None = None) -> CustomEvent:
        """Send a custom event live to every widget of the project open right now (not stored)."""
        return await self._call(Api.broadcast_event(name, data))

    async def list_events(self, *, after: int = 0, limit: int = 100, types: list[str] | None = None
                          ) -> Page[WebhookEvent]:
        """Public events after a cursor (``seq``), oldest first: polling instead of webhooks."""
        return await self._call(Api.list_events(after, limit, types))

    async def identify(self, session_id: str, user_id: str, *, email: str | None = None, name: str | None = None,
                       traits: dict[str, Any] | None = None) -> Session:
        """Attach one of your users to the session (shown in the inbox and the team's threads).
        Your backend is trusted: the identity is ``verified``, no ``user_hash`` needed."""
        return await self._call(Api.identify(session_id, user_id, email, name, traits))

    async def erase_session(self, session_id: str) -> dict[str, Any]:
        """Erase one session and its messages for good: ``{"sessionId", "deleted": {...}}``."""
        return await self._call(Api.erase_session(session_id))

    async def export_visitor(self, visitor_id: str) -> dict[str, Any]:
        return await self._call(Api.export_visitor(visitor_id))

    async def erase_visitor(self, visitor_id: str) -> dict[str, Any]:
        return await self._call(Api.erase_visitor(visitor_id))

    async def get_erasure(self, erase_id: str) -> dict[str, Any]:
        """Where an erasure stands (``eraseId`` from ``erase_*``): per platform, what was deleted
        and what could not be, and why."""
        return await self._call(Api.get_erasure(erase_id))

    async def create_webhook(self, url: str, events: list[str] | None = None) -> Webhook:
        """Add an endpoint; the result's ``secret`` is shown only now."""
        return await self._call(Api.create_webhook(url, events))

    async def list_webhooks(self) -> list[Webhook]:
        return await self._call(Api.list_webhooks())

    async def delete_webhook(self, webhook_id: str) -> None:
        await self._call(Api.delete_webhook(webhook_id))

    async def list_deliveries(self, webhook_id: str, *, status: str | None = None, limit: int = 50
                              ) -> list[Delivery]:
        return await self._call(Api.list_deliveries(webhook_id, status, limit))

    async def replay_delivery(self, webhook_id: str, delivery_id: int) -> Delivery:
        return await self._call(Api.replay_delivery(webhook_id, delivery_id))

    # --- dispatching -------------------------------------------------------------------------
    async def dispatch(self, event: WebhookEvent) -> int:
        """Call the handlers registered for this event; returns how many ran. An event whose
        ``id`` was already handled is skipped (deliveries are at least once)."""
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
                    session = await self.get_session(session_id)
                args = (*args, session)
            result = handler.fn(*args)
            if inspect.isawaitable(result):
                await result
        self._mark_handled(event)
        return len(calls)

    async def handle_webhook(self, raw_body: bytes | str, headers: Mapping[str, str] | Any) -> WebhookEvent:
        """Verify a webhook and dispatch it to the handlers (what the ready-made receivers do)."""
        event = self.verify_webhook(raw_body, headers)
        await self.dispatch(event)
        return event

    def dispatch_blocking(self, event: WebhookEvent) -> int:
        """``dispatch`` from synchronous code (Flask, Django): runs it in an event loop of its own."""
        async def run() -> int:
            try:
                return await self.dispatch(event)
            finally:
                await self.aclose()

        return asyncio.run(run())

    # --- the live stream ---------------------------------------------------------------------
    async def stream(self, *, after: int | None = None, types: list[str] | None = None,
                     reconnect: bool = True) -> AsyncIterator[WebhookEvent]:
        """Follow the project's public events live (the same events webhooks carry).

        Starts from now (or after the ``seq`` given as ``after``; 0 for everything the server
        keeps). After a dropped connection it reconnects with backoff and resumes after the
        last event it yielded, so nothing is lost or repeated.
        """
        cursor = after
        attempt = 0
        params: dict[str, Any] = {"type": list(types)} if types else {}
        timeout = httpx.Timeout(self.timeout, read=STREAM_READ_TIMEOUT)
        while True:
            headers = {**self.headers, "Accept": "text/event-stream"}
            if cursor is not None:
                headers["Last-Event-ID"] = str(cursor)
            try:
                async with self._http().stream("GET", self.api_url + "/events/stream", params=params,
                                               headers=headers, timeout=timeout) as response:
                    if response.status_code != 200:
                        body = _json_bytes(await response.aread())
                        error = error_from_response(response.status_code, body)
                        if response.status_code not in _api.RETRY_STATUSES or not reconnect:
                            raise error
                    else:
                        reader = EventReader(cursor)
                        try:
                            async for line in response.aiter_lines():
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
            await asyncio.sleep(_api.backoff(attempt, base=self.retry_backoff))
            attempt = min(attempt + 1, 6)

    async def listen(self, *, after: int | None = None, types: list[str] | None = None) -> None:
        """Dispatch every event of the stream to the handlers, forever (or until cancelled)."""
        async for event in self.stream(after=after, types=types):
            await self.dispatch(event)


def _json_bytes(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def _json(response: httpx.Response) -> Any:
    return _json_bytes(response.content)
