"""Outgoing webhook endpoints and their deliveries."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from pocketping.actions import webhooks as actions
from pocketping.server.rest.deps import ProjectDep, ServicesDep
from pocketping.server.rest.hook_schemas import (
    DeliveryList,
    DeliveryOut,
    WebhookCreated,
    WebhookDeleted,
    WebhookIdPath,
    WebhookIn,
    WebhookList,
    WebhookOut,
)

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


@router.post("", response_model=WebhookCreated, status_code=201,
             summary="Add an endpoint; the answer carries its signing secret, shown only this once")
async def add_webhook(body: WebhookIn, project: ProjectDep, svc: ServicesDep) -> dict[str, object]:
    webhook = await actions.add_webhook(svc, project.id, body.url, list(body.events))
    return actions.webhook_api(webhook, with_secret=True)


@router.get("", response_model=WebhookList, summary="The project's webhook endpoints")
async def list_webhooks(project: ProjectDep, svc: ServicesDep) -> dict[str, object]:
    return {"webhooks": [actions.webhook_api(w) for w in await actions.list_webhooks(svc, project.id)]}


@router.get("/{webhook_id}", response_model=WebhookOut, summary="One endpoint")
async def get_webhook(webhook_id: WebhookIdPath, project: ProjectDep, svc: ServicesDep) -> dict[str, object]:
    return actions.webhook_api(await actions.get_webhook(svc, project.id, webhook_id))


@router.delete("/{webhook_id}", response_model=WebhookDeleted, summary="Remove an endpoint (and its queued deliveries)")
async def remove_webhook(webhook_id: WebhookIdPath, project: ProjectDep, svc: ServicesDep) -> dict[str, object]:
    await actions.remove_webhook(svc, project.id, webhook_id)
    return {"id": webhook_id, "deleted": True}


@router.post("/{webhook_id}/rotate-secret", response_model=WebhookCreated,
             summary="Replace the endpoint's signing secret (shown only this once)")
async def rotate_secret(webhook_id: WebhookIdPath, project: ProjectDep, svc: ServicesDep) -> dict[str, object]:
    webhook = await actions.rotate_webhook_secret(svc, project.id, webhook_id)
    return actions.webhook_api(webhook, with_secret=True)


@router.get("/{webhook_id}/deliveries", response_model=DeliveryList,
            summary="Recent deliveries to this endpoint, newest first, with attempts and the last error")
async def list_deliveries(webhook_id: WebhookIdPath, project: ProjectDep, svc: ServicesDep,
                          status: Annotated[Literal["pending", "done", "failed"] | None, Query()] = None,
                          limit: Annotated[int, Query(ge=1, le=200)] = 50) -> dict[str, object]:
    found = await actions.list_deliveries(svc, project.id, webhook_id, status=status, limit=limit)
    return {"deliveries": [actions.delivery_api(d) for d in found]}


@router.post("/{webhook_id}/deliveries/{delivery_id}/replay", response_model=DeliveryOut,
             summary="Send a delivery again (a failed one is retried; a delivered one is queued anew)")
async def replay_delivery(webhook_id: WebhookIdPath, delivery_id: Annotated[int, Path(ge=1, le=2**62)],
                          project: ProjectDep, svc: ServicesDep) -> dict[str, object]:
    item = await actions.replay_delivery(svc, project.id, delivery_id, webhook_id=webhook_id)
    return actions.delivery_api(item)
