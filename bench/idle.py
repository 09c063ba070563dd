"""The idle server's CPU with one webhook endpoint down: the outbox must sleep until its next
retry, not poll (goal: under 1 CPU-second per minute)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import psutil
from pocketping_sdk import PocketPing

from bench import scenarios as sc
from pocketping_testkit.server import free_port
from pocketping_testkit.widget_client import WidgetClient

GOAL_CPU_S_PER_MIN = 1.0


async def idle_cpu(backend: str, workdir: Path, seconds: float, queued: int = 3) -> dict[str, Any]:
    """A server whose only webhook endpoint refuses connections, with ``queued`` events behind the
    backing-off head and no visitor connected: its CPU seconds over ``seconds``, per minute."""
    async with sc.pocketping(backend, workdir) as target:
        pp = PocketPing(secret_key=target.secret_key, base_url=target.server.base_url)
        try:
            hook = await pp.create_webhook(f"http://127.0.0.1:{free_port()}/hook")  # nothing listens
            w = await WidgetClient.connect(target.server.ws_url, target.public_key)
            await w.synced()
            for i in range(queued):
                await w.say(f"queued {i}")
            await w.close()
            for _ in range(200):  # until the head has failed once (the server announces no event)
                if any(d.attempts for d in await pp.list_deliveries(hook.id, status="pending")):
                    break
                await asyncio.sleep(0.05)
            proc = psutil.Process(target.pid)
            before = sum(proc.cpu_times()[:2])
            await asyncio.sleep(seconds)  # the measured idleness
            used = sum(proc.cpu_times()[:2]) - before
            attempts = max(d.attempts for d in await pp.list_deliveries(hook.id, status="pending"))
        finally:
            await pp.aclose()
    return {"backend": backend, "seconds": seconds, "cpu_s": used, "cpu_s_per_min": used * 60 / seconds,
            "head_attempts": attempts}


def render(rows: list[dict[str, Any]]) -> list[str]:
    out = [
        "",
        "## Idle server with one webhook endpoint down",
        "",
        "No visitor connected; the only webhook endpoint refuses connections, with events queued behind "
        "its backing-off head. CPU of the server process (user + system), measured over the window. "
        f"Goal: under {GOAL_CPU_S_PER_MIN:.0f} CPU-second per minute.",
        "",
        "| database | window s | CPU s | CPU s per minute | head's attempts at the end | goal met |",
        "|---|---|---|---|---|---|",
    ]
    names = {"sqlite": "SQLite", "postgresql": "PostgreSQL", "mysql": "MariaDB"}
    for row in rows:  # (named, not "| sqlite |": those rows are the chat tables' with lost/dup cells)
        name = names.get(row["backend"], row["backend"])
        out.append(f"| {name} | {row['seconds']:.0f} | {row['cpu_s']:.2f} | {row['cpu_s_per_min']:.2f} | "
                   f"{int(row['head_attempts'])} | {'yes' if row['cpu_s_per_min'] < GOAL_CPU_S_PER_MIN else 'NO'} |")
    return out
