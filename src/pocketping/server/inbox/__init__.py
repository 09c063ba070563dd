"""The built-in web inbox: ``GET /inbox``, its JSON API, its WebSocket, and the demo operator.

Importing this module plugs it in (see ``pocketping.features``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI

from pocketping.services import Services


async def _start(svc: Services, app: FastAPI) -> Callable[[], Awaitable[None]] | None:
    from pocketping.server.inbox import api, pages, socket

    app.include_router(pages.router)
    app.include_router(api.router)
    app.add_api_websocket_route("/inbox/ws", socket.operator_socket)
    sockets: socket.InboxSockets = svc.extras.setdefault("inbox_sockets", socket.InboxSockets())
    watcher = svc.extras.get("config_watcher")
    if watcher is not None:
        # Operators added, removed or given a new password with the CLI: open inboxes follow.
        watcher.listeners.append(sockets.refresh_all)
    return None


async def _demo_operator(svc: Services, info: dict[str, Any]) -> None:
    from pocketping.actions.operators import ensure_demo_operator

    operator, password = await ensure_demo_operator(svc, info["projectId"])
    info["operator"] = {"email": operator.email, "password": password}
    lines = info.setdefault("extraLines", [])
    if password is not None:
        lines += ["", "Demo operator for the inbox (shown once):", f"  email:    {operator.email}",
                  f"  password: {password}"]
    else:
        lines += ["", f"Demo operator for the inbox: {operator.email} (password shown on first run; "
                      f"new one: pocketping operator reset-password {operator.email})"]


def _register() -> None:
    from pocketping import demo
    from pocketping.server import app

    app.STARTUP_HOOKS.append(_start)
    demo.DEMO_EXTRAS.append(_demo_operator)


_register()
