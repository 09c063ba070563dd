"""Outgoing webhook endpoints (their signing secrets are encrypted)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.engine import RowMapping

from pocketping.core.models import Webhook
from pocketping.errors import NotFound
from pocketping.store.db import Tx
from pocketping.store.schema import outbox, webhooks


def _webhook(tx: Tx, row: RowMapping) -> Webhook:
    return Webhook(id=row["id"], project_id=row["project_id"], url=row["url"], events=tuple(row["events"] or ()),
                   secret=tx.decrypt(row["secret"]), enabled=bool(row["enabled"]), created_at=row["created_at"])


async def insert(tx: Tx, *, id: str, project_id: str, url: str, events: list[str], secret: str) -> Webhook:
    await tx.conn.execute(webhooks.insert().values(id=id, project_id=project_id, url=url, events=events,
                                                   secret=tx.encrypt(secret), enabled=True, created_at=tx.now))
    return await get(tx, project_id, id)


async def find(tx: Tx, project_id: str, webhook_id: str) -> Webhook | None:
    row = (await tx.conn.execute(select(webhooks).where(
        webhooks.c.id == webhook_id, webhooks.c.project_id == project_id))).mappings().first()
    return _webhook(tx, row) if row else None


async def get(tx: Tx, project_id: str, webhook_id: str) -> Webhook:
    found = await find(tx, project_id, webhook_id)
    if found is None:
        raise NotFound(f"webhook {webhook_id} not found", code="webhook_not_found")
    return found


async def find_any_project(tx: Tx, webhook_id: str) -> Webhook | None:
    """For the delivery worker, which holds ids it wrote itself."""
    row = (await tx.conn.execute(select(webhooks).where(webhooks.c.id == webhook_id))).mappings().first()
    return _webhook(tx, row) if row else None


async def for_project(tx: Tx, project_id: str, *, enabled_only: bool = False) -> list[Webhook]:
    query = select(webhooks).where(webhooks.c.project_id == project_id)
    if enabled_only:
        query = query.where(webhooks.c.enabled.is_(True))
    rows = (await tx.conn.execute(query.order_by(webhooks.c.created_at, webhooks.c.id))).mappings()
    return [_webhook(tx, r) for r in rows]


async def update_row(tx: Tx, project_id: str, webhook_id: str, **values: Any) -> None:
    if "secret" in values:
        values["secret"] = tx.encrypt(values["secret"])
    result = await tx.conn.execute(update(webhooks).where(
        webhooks.c.id == webhook_id, webhooks.c.project_id == project_id).values(**values))
    if result.rowcount == 0:
        raise NotFound(f"webhook {webhook_id} not found", code="webhook_not_found")


async def remove(tx: Tx, project_id: str, webhook_id: str) -> None:
    result = await tx.conn.execute(delete(webhooks).where(
        webhooks.c.id == webhook_id, webhooks.c.project_id == project_id))
    if result.rowcount == 0:
        raise NotFound(f"webhook {webhook_id} not found", code="webhook_not_found")


_SUBSCRIPTIONS = (select(webhooks.c.id, webhooks.c.events)
                  .where(webhooks.c.project_id == bindparam("pid"), webhooks.c.enabled.is_(True))
                  .order_by(webhooks.c.id))


async def subscriptions(tx: Tx, project_id: str) -> list[tuple[str, tuple[str, ...]]]:
    """(id, event types) of the project's enabled endpoints: what the planner needs, no secrets."""
    rows = (await tx.conn.execute(_SUBSCRIPTIONS, {"pid": project_id})).all()
    return [(str(row_id), tuple(events or ())) for row_id, events in rows]


async def delete_deliveries(tx: Tx, webhook_id: str) -> None:
    await tx.conn.execute(delete(outbox).where(outbox.c.target == "webhook", outbox.c.target_id == webhook_id))
