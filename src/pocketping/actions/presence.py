"""Operator presence: online while an operator was active recently
(``POCKETPING_PRESENCE_TIMEOUT_SECONDS``), or set by hand with ``/away`` and ``/back``."""

from __future__ import annotations

from typing import Any

from pocketping.actions.services import Services
from pocketping.actions.sessions import operators_online
from pocketping.actions.unit import unit_of_work
from pocketping.core.models import Project
from pocketping.errors import InvalidInput
from pocketping.hub import Event
from pocketping.store import projects as repo

STATUSES = ("auto", "away", "online")


def is_online(svc: Services, project: Project) -> bool:
    return operators_online(project, svc.clock.now().timestamp(), svc.settings.presence_timeout_seconds)


def presence_event(project_id: str, online: bool) -> Event:
    frame: dict[str, Any] = {"type": "presence", "online": online}
    return Event("presence", project_id, None, data={"online": online}, widget_frame=frame, broadcast=True)


async def set_operator_status(svc: Services, project_id: str, status: str, *, active: bool = False) -> bool:
    """``away`` hides the team until ``auto`` again (``/back``, which also counts as activity).
    Returns whether the team is now shown online; every widget of the project is told."""
    if status not in STATUSES:
        raise InvalidInput(f"operator status must be one of {', '.join(STATUSES)}", code="invalid_status")
    async with unit_of_work(svc) as tx:
        await repo.set_operator_presence(tx, project_id, status=status, active=active)
        project = await repo.get_project(tx, project_id)
        online = is_online(svc, project)
        tx.emit(presence_event(project_id, online))
        return online


async def project_presence(svc: Services, project_id: str) -> tuple[Project, bool]:
    async with svc.db.read() as tx:
        project = await repo.get_project(tx, project_id)
    return project, is_online(svc, project)


async def recently_active_projects(svc: Services) -> list[Project]:
    async with svc.db.read() as tx:
        return [p for p in await repo.list_projects(tx) if p.operator_active_at is not None]
