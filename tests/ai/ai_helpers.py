"""Helpers for the AI tests (fixtures are in conftest.py)."""

from __future__ import annotations

from typing import Any

import httpx

from conftest import ProjectKeys, create_project_on  # tests/conftest.py
from pocketping.clock import FakeClock
from pocketping_testkit.fakes.llm import FakeLLM
from pocketping_testkit.server import ServerThread


def configure(srv: ServerThread, project_id: str, *, api_key: str | None = None, **changes: Any) -> Any:
    from pocketping.actions.ai import update_ai_settings

    return srv.call(update_ai_settings(srv.services, project_id, changes, api_key=api_key))


def openai_project(srv: ServerThread, llm: FakeLLM, **changes: Any) -> ProjectKeys:
    project = create_project_on(srv, "Acme Shop")
    settings: dict[str, Any] = {"enabled": True, "provider": "openai", "model": "gpt-test", "base_url": llm.openai_url}
    configure(srv, project.id, api_key=llm.openai_key, **(settings | changes))
    return project


async def asettle(srv: ServerThread, clock: FakeClock | None = None) -> None:
    """Wait until the server's AI scheduler has checked again (after the clock moved) and
    finished what it started."""
    await srv.acall(srv.node.ai.settled())


async def messages(srv: ServerThread, project: ProjectKeys, session_id: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=srv.base_url, timeout=20) as client:
        res = await client.get(f"/api/v1/sessions/{session_id}/messages", headers=project.auth)
        res.raise_for_status()
        return list(res.json()["messages"])


def ai_texts(items: list[dict[str, Any]]) -> list[str]:
    return [m["text"] for m in items if m["sender"] == "ai"]


__all__ = ["ProjectKeys", "ai_texts", "asettle", "configure", "create_project_on", "messages", "openai_project"]
