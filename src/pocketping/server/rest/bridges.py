"""Bridges over REST, for backends and dashboards: the same actions as ``pocketping bridge``.

Tokens and secrets go in, never out: answers show only a hint of their last characters.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from pocketping.actions import bridges as actions
from pocketping.server.rest.deps import ProjectDep, ServicesDep
from pocketping.server.state import edges_of

router = APIRouter(prefix="/bridges", tags=["bridges"])


class BridgeOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    botToken: str | None = Field(default=None, max_length=500)
    chatId: str | int | None = None
    channelId: str | None = Field(default=None, max_length=100)
    signingSecret: str | None = Field(default=None, max_length=500)
    appToken: str | None = Field(default=None, max_length=500)

    def options(self) -> dict[str, Any]:
        return {"bot_token": self.botToken, "chat_id": None if self.chatId is None else str(self.chatId),
                "channel_id": self.channelId, "signing_secret": self.signingSecret, "app_token": self.appToken}


class BridgeIn(BridgeOptions):
    type: str = Field(max_length=16)


class RetryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bridgeId: str | None = Field(default=None, max_length=64)
    deliveryId: int | None = Field(default=None, ge=1, le=2**62)


@router.get("")
async def list_bridges(project: ProjectDep, svc: ServicesDep) -> dict[str, Any]:
    """The project's bridges, with their health and delivery counts."""
    found = await actions.list_bridges(svc, project.id)
    return {"bridges": [actions.bridge_to_api(b, counts) for b, counts in found]}


@router.post("", status_code=201)
async def add_bridge(body: BridgeIn, project: ProjectDep, svc: ServicesDep) -> dict[str, Any]:
    """Connect Telegram, Discord or Slack; running servers start it within seconds."""
    bridge = await actions.add_bridge(svc, project.id, body.type.lower(), body.options())
    return actions.bridge_to_api(bridge)


@router.get("/status")
async def status(project: ProjectDep, svc: ServicesDep) -> dict[str, Any]:
    """Health and delivery queue of every bridge: pending, retrying and failed deliveries."""
    return {"bridges": [s.to_api() for s in await actions.bridge_status(svc, project.id)]}


@router.post("/retry")
async def retry(body: RetryIn, project: ProjectDep, svc: ServicesDep) -> dict[str, Any]:
    """Queue failed deliveries again (all, one bridge's, or one)."""
    count = await actions.retry_deliveries(svc, project.id, bridge_id=body.bridgeId, delivery_id=body.deliveryId)
    return {"retried": count}


@router.get("/{bridge_id}")
async def get_bridge(bridge_id: str, project: ProjectDep, svc: ServicesDep) -> dict[str, Any]:
    return actions.bridge_to_api(await actions.get_bridge(svc, project.id, bridge_id))


@router.patch("/{bridge_id}")
async def update_bridge(bridge_id: str, body: BridgeOptions, project: ProjectDep,
                        svc: ServicesDep) -> dict[str, Any]:
    """Change a token or the destination; running servers restart the bridge within seconds."""
    return actions.bridge_to_api(await actions.update_bridge(svc, project.id, bridge_id, body.options()))


@router.delete("/{bridge_id}")
async def remove_bridge(bridge_id: str, project: ProjectDep, svc: ServicesDep) -> dict[str, Any]:
    bridge = await actions.remove_bridge(svc, project.id, bridge_id)
    return {"id": bridge.id, "type": bridge.type, "removed": True}


@router.post("/{bridge_id}/check")
async def check(bridge_id: str, project: ProjectDep, svc: ServicesDep, request: Request) -> dict[str, Any]:
    """``pocketping doctor`` for one bridge: real calls to its platform, fixes in plain words."""
    from pocketping.relay.doctor import examine_one

    return await examine_one(svc.db, edges_of(request.app).make_bridge, project.id, bridge_id)
