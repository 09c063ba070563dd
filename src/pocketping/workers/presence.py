"""Publishes operator presence to every widget of a project when it changes: online when
an operator acts, offline once nobody has for ``POCKETPING_PRESENCE_TIMEOUT_SECONDS``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from pocketping.actions.presence import presence_event, project_presence, recently_active_projects
from pocketping.actions.services import Services
from pocketping.hub import Event

log = logging.getLogger(__name__)

CHECK_SECONDS = 5.0


class PresenceTracker:
    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self.online: dict[str, bool] = {}  # what widgets were last told, per project
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._unsubscribe: Callable[[], None] | None = None

    async def start(self) -> None:
        for project in await recently_active_projects(self.svc):
            self.online[project.id] = True  # re-checked at the first tick
        self._unsubscribe = self.svc.hub.subscribe_all(self.on_event)
        self._task = asyncio.create_task(self._run(), name="presence")

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        for task in [self._task, *self._tasks]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def on_event(self, event: Event) -> None:
        """A hub listener: presence told elsewhere (/away, /back), or an operator wrote."""
        if event.type == "presence":
            self.told(event.project_id, bool(event.data.get("online")))
        elif event.type == "message.created" and (event.data.get("message") or {}).get("sender") == "operator":
            task = asyncio.create_task(self.refresh(event.project_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def told(self, project_id: str, online: bool) -> None:
        """Widgets heard a presence change from elsewhere (/away, /back)."""
        if online:
            self.online[project_id] = True
        else:
            self.online.pop(project_id, None)

    async def refresh(self, project_id: str) -> None:
        try:
            _, online = await project_presence(self.svc, project_id)
        except Exception:
            self.online.pop(project_id, None)
            return
        if self.online.get(project_id, False) != online:
            self.svc.hub.publish(presence_event(project_id, online))  # updates self.online via told()
        elif not online:
            self.online.pop(project_id, None)  # nothing more to watch until someone acts

    async def _run(self) -> None:
        while True:
            await self.svc.clock.sleep(CHECK_SECONDS)
            for project_id in [p for p, on in self.online.items() if on]:
                try:
                    await self.refresh(project_id)
                except Exception:
                    log.exception("presence check failed for %s", project_id)
