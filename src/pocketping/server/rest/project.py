"""The project a secret key belongs to."""

from __future__ import annotations

from fastapi import APIRouter

from pocketping.server.rest.deps import ProjectDep
from pocketping.server.rest.schemas import ProjectOut

router = APIRouter(tags=["project"])


@router.get("/project", response_model=ProjectOut, summary="The project this secret key belongs to")
async def get_project(project: ProjectDep) -> dict[str, object]:
    return project.to_api()
