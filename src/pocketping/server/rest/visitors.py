"""Privacy: export and erase a visitor's data."""

from __future__ import annotations

from fastapi import APIRouter

from pocketping.actions import erasure as erasure_actions
from pocketping.actions import sessions as session_actions
from pocketping.server.rest.deps import ProjectDep, ServicesDep
from pocketping.server.rest.schemas import ErasureOut, ErasureStatusOut, ExportOut

router = APIRouter(prefix="/visitors", tags=["privacy"])


@router.get("/{visitor_id}/export", response_model=ExportOut, summary="Everything stored about a visitor")
async def export_visitor(visitor_id: str, project: ProjectDep, svc: ServicesDep) -> dict[str, object]:
    return await session_actions.export_visitor(svc, project.id, visitor_id)


erasures = APIRouter(prefix="/erasures", tags=["privacy"])


async def _erase(visitor_id: str, project_id: str, svc: ServicesDep) -> dict[str, object]:
    done = await erasure_actions.erase_visitor(svc, project_id, visitor_id)
    return {"visitorId": visitor_id, "deleted": done.counts(), "eraseId": done.erase_id}


@router.post("/{visitor_id}/erase", response_model=ErasureOut,
             summary="Erase a visitor: their sessions and messages here, and every copy in the chat apps and files")
async def erase_visitor(visitor_id: str, project: ProjectDep, svc: ServicesDep) -> dict[str, object]:
    return await _erase(visitor_id, project.id, svc)


@router.delete("/{visitor_id}", response_model=ErasureOut, summary="Erase a visitor (the same as POST .../erase)")
async def delete_visitor(visitor_id: str, project: ProjectDep, svc: ServicesDep) -> dict[str, object]:
    return await _erase(visitor_id, project.id, svc)


@erasures.get("/{erase_id}", response_model=ErasureStatusOut,
              summary="Where an erasure stands: per platform, what was deleted and what could not be (and why)")
async def get_erasure(erase_id: str, project: ProjectDep, svc: ServicesDep) -> dict[str, object]:
    return await erasure_actions.get_erasure(svc, erase_id, project.id)
