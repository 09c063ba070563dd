"""The demo project that ``make serve`` sets up on first run."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import typer

from pocketping.actions.projects import ensure_demo_project
from pocketping.actions.services import Services
from pocketping.cli.common import DemoLine
from pocketping.core.embed import embed_snippet


async def demo_info(svc: Services, base_url: str, extras: Sequence[DemoLine] = ()) -> dict[str, Any]:
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
    for extra in extras:  # the wiring's demo lines (the inbox's demo operator)
        await extra(svc, info)
    return info


async def print_demo(svc: Services, base_url: str, extras: Sequence[DemoLine] = ()) -> None:
    info = await demo_info(svc, base_url, extras)
    lines = ["", "PocketPing demo project: " + info["projectId"]]
    if info["created"]:
        lines.append(f"  secret key (shown once): {info['secretKey']}")
    lines += ["", "Embed the widget on any page with these two lines:", "", info["snippet"], "",
              f"Demo page: {info['demoUrl']}", f"Inbox:     {info['inboxUrl']}"]
    for line in info.get("extraLines", []):
        lines.append(line)
    typer.echo("\n".join(lines) + "\n")
