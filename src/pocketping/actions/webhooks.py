"""Outgoing webhook endpoints: add, list, remove; their deliveries and replays."""

from __future__ import annotations

from typing import Any

from pocketping import ids, netguard
from pocketping.actions.services import Services
from pocketping.actions.unit import unit_of_work
from pocketping.core.models import OutboxItem, Webhook, iso
from pocketping.errors import InvalidInput, NotFound
from pocketping.store import outbox as q
from pocketping.store import projects as project_repo
from pocketping.store import webhooks as repo
from pocketping.webhooks.events import PUBLIC_TYPES
from pocketping.webhooks.planner import TARGET

MAX_WEBHOOKS_PER_PROJECT = 20


def check_event_types(events: list[str] | tuple[str, ...] | None) -> list[str]:
    """The subscribed types (empty: all of them), each one known."""
    chosen: list[str] = []
    for name in events or ():
        name = name.strip()
        if not name:
            continue
        if name not in PUBLIC_TYPES:
            raise InvalidInput(f"unknown event type {name!r}; known types: {', '.join(PUBLIC_TYPES)}",
                               code="invalid_event_type")
        if name not in chosen:
            chosen.append(name)
    return chosen


def new_webhook_secret() -> str:
    return f"whsec_{ids.random_token(40)}"


def webhook_api(webhook: Webhook, *, with_secret: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {"id": webhook.id, "url": webhook.url, "events": list(webhook.events),
                            "enabled": webhook.enabled, "createdAt": iso(webhook.created_at)}
    if with_secret:
        body["secret"] = webhook.secret
    return body


def delivery_api(item: OutboxItem) -> dict[str, Any]:
    result = item.result or {}
    return {
        "id": item.id, "webhookId": item.target_id, "eventId": item.payload.get("id"), "type": item.action,
        "sessionId": item.session_id, "status": item.status, "attempts": item.attempts,
        "lastError": item.last_error, "responseStatus": result.get("status"), "durationMs": result.get("ms"),
        "createdAt": iso(item.created_at),
        "nextAttemptAt": iso(item.next_attempt_at) if item.status == "pending" else None,
        "finishedAt": iso(item.done_at),
    }


async def add_webhook(svc: Services, project_id: str, url: str, events: list[str] | tuple[str, ...] | None = None
                      ) -> Webhook:
    """Add an endpoint; the returned webhook carries its signing secret (show it once)."""
    url = netguard.check_url(url.strip(), allow_private=svc.settings.allow_private_urls)
    types = check_event_types(events)
    async with unit_of_work(svc) as tx:
        await project_repo.get_project(tx, project_id)
        if len(await repo.subscriptions(tx, project_id)) >= MAX_WEBHOOKS_PER_PROJECT:
            raise InvalidInput(f"a project can have at most {MAX_WEBHOOKS_PER_PROJECT} webhook endpoints",
                               code="too_many_webhooks")
        webhook = await repo.insert(tx, id=ids.new_id(ids.WEBHOOK), project_id=project_id, url=url, events=types,
                                    secret=new_webhook_secret())
        await project_repo.bump_config_version(tx)
        return webhook


async def list_webhooks(svc: Services, project_id: str) -> list[Webhook]:
    async with svc.db.read() as tx:
        await project_repo.get_project(tx, project_id)
        return await repo.for_project(tx, project_id)


async def get_webhook(svc: Services, project_id: str, webhook_id: str) -> Webhook:
    async with svc.db.read() as tx:
        return await repo.get(tx, project_id, webhook_id)


async def find_webhook_project(svc: Services, webhook_id: str) -> str:
    """The project of a webhook, for the CLI (which acts as the server's administrator)."""
    async with svc.db.read() as tx:
        webhook = await repo.find_any_project(tx, webhook_id)
    if webhook is None:
        raise NotFound(f"webhook {webhook_id} not found", code="webhook_not_found")
    return webhook.project_id


async def remove_webhook(svc: Services, project_id: str, webhook_id: str) -> None:
    """Remove an endpoint and drop its queued deliveries."""
    async with unit_of_work(svc) as tx:
        await repo.remove(tx, project_id, webhook_id)
        await repo.delete_deliveries(tx, webhook_id)
        await project_repo.bump_config_version(tx)


async def rotate_webhook_secret(svc: Services, project_id: str, webhook_id: str) -> Webhook:
    async with unit_of_work(svc) as tx:
        await repo.update_row(tx, project_id, webhook_id, secret=new_webhook_secret())
        return await repo.get(tx, project_id, webhook_id)


async def list_deliveries(svc: Services, project_id: str, webhook_id: str | None = None, *,
                          status: str | None = None, limit: int = 50) -> list[OutboxItem]:
    """Recent deliveries, newest first (one row per event and endpoint, with its attempts)."""
    async with svc.db.read() as tx:
        if webhook_id is not None:
            await repo.get(tx, project_id, webhook_id)
        return await q.list_items(tx, project_id=project_id, target=TARGET, target_id=webhook_id, status=status,
                                  limit=limit)


async def replay_delivery(svc: Services, project_id: str, delivery_id: int, *,
                          webhook_id: str | None = None) -> OutboxItem:
    """Send a delivery again: a failed one is retried in place; a delivered one is queued anew
    (same event id and body, so a receiver that already has it can recognise it)."""
    async with unit_of_work(svc) as tx:
        item = await q.find_item(tx, delivery_id)
        if (item is None or item.target != TARGET or item.project_id != project_id
                or (webhook_id is not None and item.target_id != webhook_id)):
            raise NotFound(f"delivery {delivery_id} not found", code="delivery_not_found")
        if await repo.find(tx, project_id, item.target_id) is None:
            raise NotFound(f"webhook {item.target_id} not found", code="webhook_not_found")
        if item.status == "failed":
            await q.retry_failed(tx, item_id=item.id, project_id=project_id)
            tx.outbox_rows += 1
        elif item.status == "done":
            await q.enqueue(tx, project_id=project_id, target=TARGET, target_id=item.target_id, action=item.action,
                            payload=item.payload, session_id=item.session_id)
            await tx.flush()  # enqueued rows are written at commit; we need its id now
            latest = await q.list_items(tx, project_id=project_id, target=TARGET, target_id=item.target_id,
                                        limit=1)
            return latest[0]
        found = await q.find_item(tx, delivery_id)
        assert found is not None
        return found
