"""``GET /api/v1/search``: find messages and visitors of the project by their words."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from pocketping.actions import search as search_actions
from pocketping.server.rest.deps import ProjectDep, ServicesDep

router = APIRouter(tags=["search"])


class SearchHit(BaseModel):
    sessionId: str
    projectId: str
    messageId: str | None = None
    seq: int | None = None
    sender: Literal["visitor", "operator", "ai", "system"] | None = None
    snippet: str
    createdAt: str
    visitorName: str | None = None
    visitorEmail: str | None = None


class SearchResults(BaseModel):
    results: list[SearchHit]


@router.get("/search", response_model=SearchResults,
            summary="Search messages and visitors' names and emails (every word must match; prefixes match)")
async def search(project: ProjectDep, svc: ServicesDep, q: Annotated[str, Query(max_length=200)],
                 limit: Annotated[int, Query(ge=1, le=200)] = 50) -> dict[str, object]:
    found = await search_actions.search(svc, (project.id,), q, limit=limit)
    return {"results": [h.to_api() for h in found]}
