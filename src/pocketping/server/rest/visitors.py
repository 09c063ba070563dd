"""Privacy: export and erase a visitor's data."""

from __future__ import annotations

from fastapi import APIRouter

from pocketping.actions import sessions as session_actions
from pocketping.server.rest.deps import ProjectDep, ServicesDep
from pocketping.server.rest.schemas import ErasureOut, ExportOut

router = APIRouter(prefix="/visitors", tags=["privacy"])


@router.get("/{visitor_id}/export", response_model=ExportOut, summary="Everything stored about a visitor")
async def export_visitor(visitor_id: str, project: ProjectDep, svc: ServicesDep) -> dict[str, object]:
    return await session_actions.export_visitor(svc, project.id, visitor_id)


@router.delete("/{visitor_id}", response_model=ErasureOut, summary="Erase a visitor's sessions and messages")
async def erase_visitor(visitor_id: str, project: ProjectDep, svc: ServicesDep) -> dict[str, object]:
    counts = await session_actions.erase_visitor(svc, project.id, visitor_id)
    return {"visitorId": visitor_id, "deleted": counts}
