"""A "look now" for one background loop, given from anywhere (another task, a commit hook,
another thread). Each running node has its own."""

from __future__ import annotations

import asyncio


class Nudge:
    def __init__(self) -> None:
        self._target: tuple[asyncio.AbstractEventLoop, asyncio.Event] | None = None

    def attach(self, event: asyncio.Event) -> None:
        """The loop's own event, set by every nudge from now on (call on the loop's thread)."""
        self._target = (asyncio.get_running_loop(), event)

    def detach(self) -> None:
        self._target = None

    def __call__(self) -> None:
        target = self._target
        if target is None or target[0].is_closed():
            return
        target[0].call_soon_threadsafe(target[1].set)
