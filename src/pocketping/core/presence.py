"""Whether a project's team shows as online (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from pocketping.core.hours import is_open
from pocketping.core.models import Project


def operators_online(project: Project, now_ts: float, timeout_seconds: int) -> bool:
    """Whether the widget shows the team online: never outside the project's office hours."""
    if project.operator_status == "away" or not is_open(project.extra, datetime.fromtimestamp(now_ts, UTC)):
        return False
    if project.operator_status == "online":
        return True
    active = project.operator_active_at
    return active is not None and now_ts - active.timestamp() < timeout_seconds
