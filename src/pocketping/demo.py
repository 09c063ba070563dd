"""The demo project that ``make serve`` sets up on first run."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import typer

from pocketping.actions.projects import ensure_demo_project
from pocketping.server.pages import embed_snippet
from pocketping.services import Services

# Feature modules add lines to what the demo prints (the inbox adds its demo operator).
DEMO_EXTRAS: list[Callable[[Services, dict[str, Any]], Awaitable[None]]] = []


async def demo_info(svc: Services, base_url: str) -> dict[str, Any]:
    project, secret = await ensure_demo_project(svc)
    base = base_url.rstrip("/")
    info: dict[str, Any] = {
        "projectId": project.id,
        "publicKey": project.public_key,
        "secretKey": secret,  # None unless just created
        "created": secret is not None,
        "demoUrl": f"{base}/demo",
        "inboxUrl": f"{base}/inbox",
        "snippet": embed_snippet(base, project.public_key),
    }
    for extra in DEMO_EXTRAS:
        await extra(svc, info)
    return info


async def print_demo(svc: Services, base_url: str) -> None:
    info = await demo_info(svc, base_url)
    lines = ["", "PocketPing demo project: " + info["projectId"]]
    if info["created"]:
        lines.append(f"  secret key (shown once): {info['secretKey']}")
    lines += ["", "Embed the widget on any page with these two lines:", "", info["snippet"], "",
              f"Demo page: {info['demoUrl']}", f"Inbox:     {info['inboxUrl']}"]
    for line in info.get("extraLines", []):
        lines.append(line)
    typer.echo("\n".join(lines) + "\n")
