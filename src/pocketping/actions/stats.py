"""A project's numbers over a period (``--since 30d``)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from pocketping.actions.services import Services
from pocketping.core.models import iso
from pocketping.errors import InvalidInput
from pocketping.store import projects as project_repo
from pocketping.store import stats as repo

_SINCE = re.compile(r"^(\d{1,4})([hdw])$")
_UNITS = {"h": 3600, "d": 86400, "w": 7 * 86400}


def check_since(value: str) -> timedelta:
    match = _SINCE.match(value.strip().lower())
    if not match or int(match.group(1)) == 0:
        raise InvalidInput("give the period as a number and h, d or w: 12h, 30d, 8w", code="invalid_since")
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


async def project_stats(svc: Services, project_id: str, since: str = "30d") -> dict[str, Any]:
    period = check_since(since)
    async with svc.db.read() as tx:
        await project_repo.get_project(tx, project_id)
        found = await repo.project_stats(tx, project_id, tx.now - period)
    return {"projectId": project_id, "period": since, **found, "since": iso(found["since"])}
