"""``build_app``: the HTTP/WebSocket edge put together from what the wiring hands it (the
services, the edges' shared objects, the routers, and what to start and stop with it)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match

from pocketping import __version__, logs
from pocketping.actions.services import Services
from pocketping.errors import PocketPingError
from pocketping.server.state import Edges

log = logging.getLogger(__name__)

# Starts what runs with the app (workers, bridges); returns what stops it.
Start = Callable[[], Awaitable[Callable[[], Awaitable[None]]]]
WebSocketRoute = tuple[str, Callable[..., Awaitable[None]]]
# Routes imported when first needed: () -> (routers, WebSocket routes).
LaterRoutes = Callable[[], tuple[list[APIRouter], list[WebSocketRoute]]]


def error_response(exc: PocketPingError) -> JSONResponse:
    headers = {}
    if exc.status == 429 and "retryAfter" in exc.details:
        headers["Retry-After"] = str(max(1, int(float(exc.details["retryAfter"]) + 0.999)))
    if exc.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse({"error": exc.to_dict()}, status_code=exc.status, headers=headers)


def _request_id(scope: Any) -> str:
    """The proxy's ``X-Request-Id`` when it looks like one (so log lines join up), else a new id."""
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            given = str(value.decode("latin-1"))
            if 0 < len(given) <= 64 and given.replace("-", "").replace("_", "").isalnum():
                return given
    return logs.new_id()


class _Later(BaseRoute):
    """Stands last in the routing table for the routes imported on first use: any request the
    routes before it did not take matches it; it puts the real routes in its place (imports,
    pydantic models, FastAPI's analysis of every endpoint: about 5 MB and 0.2 s a server that
    only serves its widget never pays) and routes the request again, so it is answered exactly
    as if they had been there from the start."""

    def __init__(self, app: PocketPingApp, load: LaterRoutes) -> None:
        self.app = app
        self.load = load

    def matches(self, scope: Any) -> tuple[Match, dict[str, Any]]:
        return (Match.FULL, {}) if scope["type"] in ("http", "websocket") else (Match.NONE, {})

    async def handle(self, scope: Any, receive: Any, send: Any) -> None:
        self.app.load_later_routes()
        scope.pop("route", None)
        await self.app.router(scope, receive, send)


class PocketPingApp(FastAPI):
    """FastAPI, except that the widget WebSocket skips routing and the HTTP middleware stack, and
    most routes are imported on the first request that needs one (``_Later``)."""

    _later: _Later | None = None

    def route_later(self, load: LaterRoutes) -> None:
        self._later = _Later(self, load)
        self.router.routes.append(self._later)

    def load_later_routes(self) -> None:
        later, self._later = self._later, None
        if later is None:
            return
        self.router.routes.remove(later)
        routers, websockets = later.load()
        for router in routers:
            self.include_router(router)
        for path, endpoint in websockets:
            self.add_api_websocket_route(path, endpoint)

    @property
    def routes(self) -> list[BaseRoute]:
        self.load_later_routes()  # whoever lists the routes sees them all
        return super().routes

    def openapi(self) -> dict[str, Any]:
        self.load_later_routes()
        return super().openapi()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            logs.bind(request_id=_request_id(scope))
        elif scope["type"] == "websocket":
            logs.bind(connection_id=logs.new_id())
        if scope["type"] == "websocket" and scope["path"] == "/ws":
            from pocketping.server.ws import widget_asgi

            await widget_asgi(self, scope, receive, send)
            return
        if scope["type"] == "http":
            from pocketping.server.nulguard import guarded

            await guarded(super().__call__, scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def build_app(svc: Services, edges: Edges, *, routers: list[APIRouter], websockets: list[WebSocketRoute],
              start: Start, migrate: bool = True, later: LaterRoutes | None = None) -> FastAPI:
    """The app: ``routers`` and ``websockets`` at once, then what ``later`` gives on the first
    request none of them takes (or when the routes or the OpenAPI document are asked for)."""
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if migrate:
            await svc.db.migrate()
        stop = await start()
        app.state.ready = True
        try:
            yield
        finally:
            app.state.ready = False
            with contextlib.suppress(Exception):
                await stop()
            await svc.db.dispose()

    app = PocketPingApp(
        title="PocketPing",
        version=__version__,
        description="Self-hostable live chat bridged to Telegram, Discord and Slack. "
                    "REST endpoints under /api/v1 take the project's secret key as a Bearer token.",
        lifespan=lifespan,
    )
    app.state.svc = svc
    app.state.edges = edges
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

    for router in routers:
        app.include_router(router)
    for path, endpoint in websockets:
        app.add_api_websocket_route(path, endpoint)
    if later is not None:
        app.route_later(later)
    return app
