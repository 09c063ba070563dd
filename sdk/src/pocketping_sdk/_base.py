"""What the sync and async clients share: settings, handlers, webhook verification, identity."""

from __future__ import annotations

import collections
import hashlib
import hmac
import inspect
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pocketping_sdk import signing
from pocketping_sdk.models import CustomEvent, Message, Session, WebhookEvent

F = TypeVar("F", bound=Callable[..., Any])
DEDUPE_MEMORY = 10_000


@dataclass(frozen=True)
class Handler:
    kind: str  # "event" (custom events), "message", or a public event type
    match: str | None  # the custom event name, or the message sender; None: any
    fn: Callable[..., Any]
    wants_session: bool


def _wants_session(fn: Callable[..., Any]) -> bool:
    try:
        params = [p for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)]
    except (TypeError, ValueError):
        return True
    return len(params) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in params)


class Base:
    def __init__(self, secret_key: str | None = None, base_url: str | None = None, *,
                 webhook_secret: str | Iterable[str] | None = None, identity_secret: str | None = None,
                 timeout: float = 10.0, max_retries: int = 3, retry_backoff: float = 0.5, dedupe: bool = True,
                 clock: Callable[[], float] = time.time) -> None:
        secret_key = secret_key or os.environ.get("POCKETPING_SECRET_KEY")
        base_url = base_url or os.environ.get("POCKETPING_URL")
        if not secret_key:
            raise ValueError("give secret_key= (or set POCKETPING_SECRET_KEY): the project's sk_live_... key")
        if not base_url:
            raise ValueError("give base_url= (or set POCKETPING_URL): where your PocketPing server is, "
                             "e.g. https://chat.example.com")
        self.secret_key = secret_key
        self.base_url = base_url.rstrip("/")
        self.api_url = self.base_url + "/api/v1"
        env_secret = os.environ.get("POCKETPING_WEBHOOK_SECRET")
        if webhook_secret is None:
            webhook_secret = env_secret
        if isinstance(webhook_secret, str):
            webhook_secret = [webhook_secret]
        self.webhook_secrets: list[str] = [s for s in (webhook_secret or []) if s]
        self.identity_secret = identity_secret or os.environ.get("POCKETPING_IDENTITY_SECRET")
        self.timeout = timeout
        self.max_retries = max(0, max_retries)
        self.retry_backoff = retry_backoff  # the first retry's delay in seconds; it doubles, with jitter
        self.clock = clock
        self.dedupe = dedupe
        self._seen: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._seen_lock = threading.Lock()
        self.handlers: list[Handler] = []

    @property
    def headers(self) -> dict[str, str]:
        from pocketping_sdk import __version__

        return {"Authorization": f"Bearer {self.secret_key}", "User-Agent": f"pocketping-sdk-python/{__version__}",
                "Accept": "application/json"}

    # --- handlers ----------------------------------------------------------------------------
    def on_event(self, name: str | None = None) -> Callable[[F], F]:
        """Register ``fn(event: CustomEvent, session: Session)`` (or ``fn(event)``) for custom
        events from pages (``PocketPing.trigger``); ``name=None`` receives every one."""
        return self._register("event", name)

    def on_message(self, sender: str | None = None) -> Callable[[F], F]:
        """Register ``fn(message: Message, session: Session)`` for new messages; ``sender`` is
        ``"visitor"``, ``"operator"`` or ``"ai"`` (None: all)."""
        return self._register("message", sender)

    def on(self, event_type: str) -> Callable[[F], F]:
        """Register ``fn(event: WebhookEvent)`` for a public event type (``session.created`` ...)."""
        return self._register(event_type, None)

    def _register(self, kind: str, match: str | None) -> Callable[[F], F]:
        def decorator(fn: F) -> F:
            self.handlers.append(Handler(kind, match, fn, _wants_session(fn) if kind in ("event", "message")
                                         else False))
            return fn
        return decorator

    def _plan(self, event: WebhookEvent) -> list[tuple[Handler, tuple[Any, ...]]]:
        """Which handlers get called and with what (the session is filled in by the caller)."""
        calls: list[tuple[Handler, tuple[Any, ...]]] = []
        for handler in self.handlers:
            if handler.kind == event.type:
                calls.append((handler, (event,)))
            elif handler.kind == "event" and event.type == "event.triggered":
                custom = event.custom_event()
                if handler.match is None or handler.match == custom.name:
                    calls.append((handler, (custom,)))
            elif handler.kind == "message" and event.type == "message.created":
                message = event.message()
                if handler.match is None or handler.match == message.sender:
                    calls.append((handler, (message,)))
        return calls

    # --- deduplication -----------------------------------------------------------------------
    def _already_handled(self, event: WebhookEvent) -> bool:
        if not self.dedupe:
            return False
        with self._seen_lock:
            return event.id in self._seen

    def _mark_handled(self, event: WebhookEvent) -> None:
        if not self.dedupe:
            return
        with self._seen_lock:
            self._seen[event.id] = None
            while len(self._seen) > DEDUPE_MEMORY:
                self._seen.popitem(last=False)

    # --- webhooks and identity ---------------------------------------------------------------
    def verify_webhook(self, raw_body: bytes | str, headers: Mapping[str, str] | Any, *,
                       tolerance: float = signing.DEFAULT_TOLERANCE) -> WebhookEvent:
        """Check the ``PocketPing-Signature`` of a webhook against the endpoint's secret
        (constant-time; timestamps more than ``tolerance`` seconds away are refused) and
        return the event. Pass the raw body exactly as received. Raises
        ``WebhookVerificationError`` (codes ``missing_signature``, ``invalid_signature``,
        ``stale_signature``, ``invalid_payload``)."""
        if not self.webhook_secrets:
            raise ValueError("give webhook_secret= (or set POCKETPING_WEBHOOK_SECRET): the whsec_... secret "
                             "shown when the webhook was added")
        return signing.verify(raw_body, headers, self.webhook_secrets, now=self.clock(), tolerance=tolerance)

    def user_hash(self, user_id: str) -> str:
        """``HMAC-SHA256(identity secret, user_id)`` in hex: pass it to the page's
        ``PocketPing.identify({id, ..., userHash})``."""
        if not self.identity_secret:
            raise ValueError("give identity_secret= (or set POCKETPING_IDENTITY_SECRET): the secret set with "
                             "`pocketping project update ID --identity-secret ...`")
        return hmac.new(self.identity_secret.encode(), str(user_id).encode(), hashlib.sha256).hexdigest()


def session_of(args: tuple[Any, ...]) -> str | None:
    first = args[0]
    if isinstance(first, (CustomEvent, Message)):
        return first.session_id
    return None


def embedded_session(event: WebhookEvent) -> Session | None:
    return event.session()


__all__ = ["Base", "Handler", "embedded_session", "session_of"]
