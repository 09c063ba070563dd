"""Publishes operator presence to every widget of a project when it changes: online when
an operator acts, offline once nobody has for ``POCKETPING_PRESENCE_TIMEOUT_SECONDS``."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from pocketping.actions.presence import presence_event, project_presence, recently_active_projects
from pocketping.services import Services

log = logging.getLogger(__name__)

CHECK_SECONDS = 5.0


class PresenceTracker:
    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self.online: dict[str, bool] = {}  # what widgets were last told, per project
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        for project in await recently_active_projects(self.svc):
            self.online[project.id] = True  # re-checked at the first tick
        self._task = asyncio.create_task(self._run(), name="presence")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def told(self, project_id: str, online: bool) -> None:
        """Widgets heard a presence change from elsewhere (/away, /back)."""
        if online:
            self.online[project_id] = True
        else:
            self.online.pop(project_id, None)

    async def operator_active(self, project_id: str) -> None:
        await self.refresh(project_id)

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
