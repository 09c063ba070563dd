"""A process-wide nudge for AI schedulers: "a due time was just set, look now".

Set after commit by the timer planner, so schedulers need not wake for every visitor
message (most projects have the AI off). Safe across event loops (tests run several servers
in one process).
"""

from __future__ import annotations

import asyncio

_listeners: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Event]] = {}


def listen(event: asyncio.Event) -> None:
    _listeners[id(event)] = (asyncio.get_running_loop(), event)


def unlisten(event: asyncio.Event) -> None:
    _listeners.pop(id(event), None)


def due_changed() -> None:
    for loop, event in list(_listeners.values()):
        if loop.is_closed():
            continue
        loop.call_soon_threadsafe(event.set)
