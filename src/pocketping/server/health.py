"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from pocketping import __version__

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok", "version": __version__}


@router.get("/readyz", summary="Readiness: started, the database answers (and Redis, when configured)")
async def readyz(request: Request) -> JSONResponse:
    svc = request.app.state.svc
    if not request.app.state.ready:
        return JSONResponse({"status": "starting"}, status_code=503)
    try:
        await svc.db.ping()
    except Exception as exc:
        return JSONResponse({"status": "unavailable", "database": type(exc).__name__}, status_code=503)
    ping = getattr(svc.hub, "ping", None)  # the Redis hub (several nodes)
    if ping is not None:
        try:
            await ping()
        except Exception as exc:
            return JSONResponse({"status": "unavailable", "database": svc.db.backend, "redis": type(exc).__name__},
                                status_code=503)
        return JSONResponse({"status": "ready", "database": svc.db.backend, "redis": "ok"})
    return JSONResponse({"status": "ready", "database": svc.db.backend})
