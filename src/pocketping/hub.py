"""Publish/subscribe for live fan-out, after commit.

Events are addressed to a session, a project, or everyone listening globally (bridge
manager, webhooks, AI). The in-process hub is the default; a Redis-backed hub with the
same interface can replace it when several nodes run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    """Something that happened. ``type`` uses the public names: ``message.created`` ..."""

    type: str
    project_id: str
    session_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    # The widget frame for this event, if widgets should see it (encoded once, sent to many).
    widget_frame: dict[str, Any] | None = None
    # Where it came from, so a bridge does not echo a message back to its own platform.
    origin: str | None = None
    # Also deliver to every widget of the project (presence, broadcast events).
    broadcast: bool = False
    _encoded: list[bytes] = field(default_factory=list, compare=False, repr=False)

    def widget_bytes(self) -> bytes | None:
        if self.widget_frame is None:
            return None
        if not self._encoded:
            self._encoded.append(orjson.dumps(self.widget_frame))
        return self._encoded[0]


Listener = Callable[[Event], None]


class Hub(Protocol):
    def publish(self, event: Event) -> None: ...

    def subscribe_session(self, session_id: str, listener: Listener) -> Callable[[], None]: ...

    def subscribe_project(self, project_id: str, listener: Listener) -> Callable[[], None]: ...

    def subscribe_all(self, listener: Listener) -> Callable[[], None]: ...

    def subscribe_widgets(self, project_id: str, listener: Listener) -> Callable[[], None]: ...


class LocalHub:
    """In-process hub. Listeners are plain callables and must not block (queue the work)."""

    def __init__(self) -> None:
        self._sessions: dict[str, set[Listener]] = {}
        self._projects: dict[str, set[Listener]] = {}
        self._global: set[Listener] = set()
        self._widgets: dict[str, set[Listener]] = {}

    @staticmethod
    def _add(table: dict[str, set[Listener]], key: str, listener: Listener) -> Callable[[], None]:
        table.setdefault(key, set()).add(listener)

        def unsubscribe() -> None:
            listeners = table.get(key)
            if listeners is not None:
                listeners.discard(listener)
                if not listeners:
                    table.pop(key, None)

        return unsubscribe

    def subscribe_session(self, session_id: str, listener: Listener) -> Callable[[], None]:
        return self._add(self._sessions, session_id, listener)

    def subscribe_project(self, project_id: str, listener: Listener) -> Callable[[], None]:
        return self._add(self._projects, project_id, listener)

    def subscribe_all(self, listener: Listener) -> Callable[[], None]:
        self._global.add(listener)
        return lambda: self._global.discard(listener)

    def subscribe_widgets(self, project_id: str, listener: Listener) -> Callable[[], None]:
        return self._add(self._widgets, project_id, listener)

    def session_listener_count(self, session_id: str) -> int:
        return len(self._sessions.get(session_id, ()))

    def publish(self, event: Event) -> None:
        targets: list[Listener] = []
        if event.session_id is not None:
            targets.extend(self._sessions.get(event.session_id, ()))
        elif event.broadcast:
            targets.extend(self._widgets.get(event.project_id, ()))
        targets.extend(self._projects.get(event.project_id, ()))
        targets.extend(self._global)
        for listener in targets:
            try:
                listener(event)
            except Exception:  # a broken listener must not stop the others
                log.exception("hub listener failed for %s", event.type)
