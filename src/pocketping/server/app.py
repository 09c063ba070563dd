"""``create_app``: builds the whole server from settings (and, in tests, injected fakes)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from pocketping import __version__
from pocketping.clock import Clock
from pocketping.config import Settings
from pocketping.errors import PocketPingError
from pocketping.hub import Hub
from pocketping.services import Services, build_services
from pocketping.store import projects as project_repo

log = logging.getLogger(__name__)

# Feature modules add start-up hooks here: (services, app) -> an async stop function.
Startup = Callable[[Services, FastAPI], Awaitable[Callable[[], Awaitable[None]] | None]]
STARTUP_HOOKS: list[Startup] = []


def error_response(exc: PocketPingError) -> JSONResponse:
    headers = {}
    if exc.status == 429 and "retryAfter" in exc.details:
        headers["Retry-After"] = str(max(1, int(float(exc.details["retryAfter"]) + 0.999)))
    if exc.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse({"error": exc.to_dict()}, status_code=exc.status, headers=headers)


class ConfigWatcher:
    """Polls the configuration version so CLI changes reach this running server within seconds."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self.version: str | None = None  # None until the first poll ("" is a real value: never bumped)
        self.listeners: list[Callable[[], Awaitable[None]]] = []

    async def run(self) -> None:
        while True:
            try:
                async with self.svc.db.read() as tx:
                    version = await project_repo.config_version(tx)
                if version != self.version:
                    first = self.version is None
                    self.version = version
                    if not first:
                        for listener in self.listeners:
                            await listener()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("could not poll the configuration version")
            await self.svc.clock.sleep(self.svc.settings.config_poll_seconds)


class PocketPingApp(FastAPI):
    """FastAPI, except that the widget WebSocket skips routing and the HTTP middleware stack."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket" and scope["path"] == "/ws":
            from pocketping.server.ws import widget_asgi

            await widget_asgi(self, scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(settings: Settings | None = None, *, clock: Clock | None = None, hub: Hub | None = None,
               services: Services | None = None, migrate: bool = True) -> FastAPI:
    from pocketping import features

    features.load()
    settings = settings or Settings()
    svc = services or build_services(settings, clock=clock, hub=hub)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if migrate:
            await svc.db.migrate()
        stops: list[Callable[[], Awaitable[None]]] = []
        background: list[asyncio.Task[None]] = []
        watcher = ConfigWatcher(svc)
        svc.extras["config_watcher"] = watcher
        if settings.workers:
            svc.outbox.start()
            background.append(asyncio.create_task(watcher.run(), name="config-watcher"))
        for hook in STARTUP_HOOKS:
            stop = await hook(svc, app)
            if stop is not None:
                stops.append(stop)
        app.state.ready = True
        try:
            yield
        finally:
            app.state.ready = False
            # Deliveries first (they use the bridges' clients), then the features, then the rest.
            await svc.outbox.stop()
            for stop in reversed(stops):
                with contextlib.suppress(Exception):
                    await stop()
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            await svc.db.dispose()

    app = PocketPingApp(
        title="PocketPing",
        version=__version__,
        description="Self-hostable live chat bridged to Telegram, Discord and Slack. "
                    "REST endpoints under /api/v1 take the project's secret key as a Bearer token.",
        lifespan=lifespan,
    )
    app.state.svc = svc
    app.state.ready = False

    @app.exception_handler(PocketPingError)
    async def _pp_error(_request: Request, exc: PocketPingError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        fields: list[dict[str, Any]] = [
            {"field": ".".join(str(p) for p in err.get("loc", ()) if p != "body"), "problem": err.get("msg", "")}
            for err in exc.errors()
        ]
        return JSONResponse({"error": {"code": "invalid_input", "message": "the request is not valid",
                                         "fields": fields}}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse({"error": {"code": code, "message": str(exc.detail)}}, status_code=exc.status_code,
                              headers=getattr(exc, "headers", None))

    from pocketping.server import health, pages, slack_events
    from pocketping.server.rest import router as rest_router

    app.include_router(health.router)
    app.include_router(rest_router)
    app.include_router(pages.router)
    app.include_router(slack_events.router)
    return app
