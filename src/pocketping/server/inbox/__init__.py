"""The built-in web inbox: ``GET /inbox``, its JSON API and its WebSocket.

Importing this module plugs it in (see ``pocketping.features``). The operator CLI and the
demo operator live in ``pocketping.operator_cli``, so the server process never imports the CLI.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI

from pocketping.services import Services


async def _start(svc: Services, app: FastAPI) -> Callable[[], Awaitable[None]] | None:
    from pocketping.server.inbox import api, pages, socket

    app.include_router(pages.router)
    app.include_router(api.router)
    app.add_api_websocket_route("/inbox/ws", socket.operator_socket)
    sockets = svc.extras["inbox_sockets"] = socket.InboxSockets(svc)
    watcher = svc.extras.get("config_watcher")
    if watcher is not None:
        # Operators added, removed or given a new password with the CLI: open inboxes follow.
        watcher.listeners.append(sockets.refresh_all)
    return None


def _register() -> None:
    from pocketping.server import app

    app.STARTUP_HOOKS.append(_start)


_register()
