"""What the planners need to know of a project, read in one statement.

Every transaction with events asks, per project: which webhook endpoints are subscribed, which
bridges are connected, and whether the AI timer runs. Three tables, one round trip (UNION ALL);
read once per transaction (``Tx.memo``) by whichever planner asks first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import String, Text, bindparam, cast, literal, null, select, type_coerce, union_all

from pocketping.store import direct
from pocketping.store.bridges import BridgeRef
from pocketping.store.db import Tx
from pocketping.store.schema import ai_settings, bridges, webhooks
from pocketping.store.types import UTCDateTime


@dataclass(frozen=True)
class ProjectPlan:
    webhooks: list[tuple[str, tuple[str, ...]]]  # (id, event types) of enabled endpoints, by id
    bridges: list[BridgeRef]  # in the order they were added
    # (enabled, delay seconds, delay outside office hours or None); None: never set up
    ai_timer: tuple[bool, int, int | None] | None


def _statement() -> Any:
    pid: Any = bindparam("pid")
    when = cast(null(), UTCDateTime)
    nothing = cast(null(), Text)
    return union_all(
        select(literal("w").label("k"), webhooks.c.id.label("a"), type_coerce(webhooks.c.events, Text).label("b"),
               when.label("t"), nothing.label("c"))
        .where(webhooks.c.project_id == pid, webhooks.c.enabled.is_(True)),
        select(literal("b"), bridges.c.id, cast(bridges.c.type, Text), bridges.c.created_at, nothing)
        .where(bridges.c.project_id == pid),
        select(literal("a"), cast(ai_settings.c.enabled, String(8)), cast(ai_settings.c.delay_seconds, Text), when,
               type_coerce(ai_settings.c.options, Text))
        .where(ai_settings.c.project_id == pid),
    )


_PLAN = _statement()


async def project_plan(tx: Tx, project_id: str) -> ProjectPlan:
    hooks: list[tuple[str, tuple[str, ...]]] = []
    refs: list[tuple[datetime, str, str]] = []
    timer: tuple[bool, int, int | None] | None = None
    for row in await direct.fetch(tx, _PLAN, {"pid": project_id}):
        kind, a, b, at, c = row["k"], row["a"], row["b"], row["t"], row["c"]
        if kind == "w":
            hooks.append((str(a), tuple(orjson.loads(b) or ())))
        elif kind == "b":
            refs.append((at, str(a), str(b)))
        else:
            outside = ((orjson.loads(c) if c else None) or {}).get("outside_hours_delay")
            timer = (str(a).lower() in ("1", "true", "t"), int(b), None if outside is None else int(outside))
    hooks.sort()
    refs.sort()
    return ProjectPlan(hooks, [BridgeRef(i, t) for _, i, t in refs], timer)


async def plan_for(tx: Tx, project_id: str) -> ProjectPlan:
    """The project's plan, read once per transaction."""
    return await tx.memo(("project_plan", project_id), lambda: project_plan(tx, project_id))
