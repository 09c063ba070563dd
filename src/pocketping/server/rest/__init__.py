"""REST API for backends, under /api/v1 (secret key as Bearer token)."""

from fastapi import APIRouter

from pocketping.server.rest import bridges, events, files, messages, project, search, sessions, visitors, webhooks
from pocketping.server.rest.schemas import ErrorResponse

_errors: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorResponse, "description": "missing or invalid secret key"},
    404: {"model": ErrorResponse, "description": "no such object in this project"},
    422: {"model": ErrorResponse, "description": "invalid input"},
}

router = APIRouter(prefix="/api/v1", responses=_errors)
router.include_router(sessions.router)
router.include_router(visitors.router)
router.include_router(visitors.erasures)
router.include_router(project.router)
router.include_router(events.router)
router.include_router(webhooks.router)
router.include_router(bridges.router)
router.include_router(files.router)
router.include_router(files.widget_router)
router.include_router(search.router)
router.include_router(messages.router)
