"""Several nodes on PostgreSQL + Redis: chat with 1, 2 and 3 web processes, and deliveries to
the platform fakes with the workers inside `serve` versus one and two `pocketping worker`s
(the visitors' ack p99 measured at the same time; CPU milliseconds per delivery)."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psutil

from bench.bridged import Platforms, _until, platforms
from bench.clients import Visitor, connect_widget, open_many
from bench.scenarios import Target, count_messages, prepare_project, send_at_rate
from bench.stats import summary_ms
from pocketping.crypto import generate_key
from pocketping_testkit.cluster import REDIS_URL, WorkerProcess
from pocketping_testkit.databases import create_database, drop_database
from pocketping_testkit.process import ServerProcess


class Nodes:
    def __init__(self, webs: list[ServerProcess], workers: list[WorkerProcess], target: Target) -> None:
        self.webs = webs
        self.workers = workers
        self.target = target

    def pids(self, role: str) -> list[int]:
        procs: list[Any] = self.webs if role == "web" else self.workers
        return [p.proc.pid for p in procs if p.proc is not None]

    def cpu_s(self, role: str) -> float:
        total = 0.0
        for pid in self.pids(role):
            with contextlib.suppress(psutil.Error):
                t = psutil.Process(pid).cpu_times()
                total += t.user + t.system
        return total


@contextlib.asynccontextmanager
async def nodes(workdir: Path, *, webs: int, workers: int, web_runs_workers: bool = False,
                env: dict[str, str] | None = None,
                bridges: list[tuple[str, dict[str, Any]]] | None = None) -> AsyncIterator[Nodes]:
    url, name = create_database("postgresql", workdir)
    key = generate_key()
    common = {"POCKETPING_REDIS_URL": REDIS_URL, "POCKETPING_REDIS_PREFIX": f"ppbench-{secrets.token_hex(4)}:",
              "POCKETPING_CONFIG_POLL_SECONDS": "1", **(env or {})}
    started_webs: list[ServerProcess] = []
    started_workers: list[WorkerProcess] = []
    try:
        project_id, public_key, secret = await prepare_project(url, workdir, key, bridges)
        for _ in range(webs):
            server = ServerProcess(url, workdir, encryption_key=key, env=common,
                                   args=() if web_runs_workers else ("--no-workers",))
            await asyncio.to_thread(server.start)
            started_webs.append(server)
        for i in range(workers):
            import os

            wenv = {**os.environ, "POCKETPING_DATABASE_URL": url, "POCKETPING_DATA_DIR": str(workdir),
                    "POCKETPING_ENCRYPTION_KEY": key, "POCKETPING_LOG_LEVEL": "warning", **common}
            worker = WorkerProcess(wenv, workdir / f"bench-worker-{i}-{secrets.token_hex(2)}.log")
            await asyncio.to_thread(worker.start)
            started_workers.append(worker)
        yield Nodes(started_webs, started_workers, Target(started_webs[0], public_key, secret, project_id, url))
    finally:
        for worker in started_workers:
            await asyncio.to_thread(worker.stop)
        for server in started_webs:
            await asyncio.to_thread(server.stop)
        drop_database("postgresql", name)


async def spread_crowd(n: Nodes, visitors: int, prefix: str) -> list[Visitor]:
    """Visitors connected round-robin to the web nodes (what a load balancer does)."""
    urls = [w.ws_url for w in n.webs]
    picks = iter(range(visitors))
    conns, _ = await open_many(lambda: connect_widget(urls[next(picks) % len(urls)], n.target.public_key),
                               visitors, concurrency=32)
    return [Visitor(ws, welcome, f"{prefix}{i}") for i, (ws, welcome) in enumerate(conns)]


async def _acks(people: list[Visitor], start: float) -> dict[str, float]:
    await _until(lambda: sum(len(v.acks) for v in people) >= sum(len(v.sent) for v in people), 30)
    latencies = [v.acks[c] - v.sent[c] for v in people for c in v.acks]
    last_ack = max((max(v.acks.values()) for v in people if v.acks), default=start)
    acked = sum(len(v.acks) for v in people)
    return {"sent": sum(len(v.sent) for v in people), "acked": acked,
            "throughput": acked / max(1e-9, last_ack - start),
            **{f"ack_{k}": val for k, val in summary_ms(latencies).items()}}


async def web_nodes_chat(workdir: Path, count: int, rate: float, seconds: float, visitors: int,
                         runs: int) -> list[dict[str, float]]:
    """`count` web processes (serve --no-workers) on one PostgreSQL and Redis; the same open-loop
    load spread over them. CPU is every web process's, per stored message."""
    async with nodes(workdir, webs=count, workers=0) as n:
        people = await spread_crowd(n, visitors, "c")
        results = []
        for _ in range(runs):
            for v in people:
                v.reset()
            before = n.target.extra.get("stored", 0)
            cpu0 = n.cpu_s("web")
            start = await send_at_rate(people, rate, seconds)
            row = await _acks(people, start)
            cpu = n.cpu_s("web") - cpu0
            n.target.extra["stored"] = await count_messages(n.target)
            stored = n.target.extra["stored"] - before
            results.append({"nodes": count, "rate": rate, **row, "stored": stored,
                            "lost": row["sent"] - row["acked"], "duplicated": max(0, stored - row["sent"]),
                            "cpu_ms_per_msg": 1000 * cpu / max(1, stored)})
        for v in people:
            await v.close()
        return results


async def deliveries(workdir: Path, mode: str, rate: float, seconds: float, visitors: int) -> dict[str, float]:
    """Visitors chat at `rate` on one web process while every message goes to Telegram, Discord
    and Slack (fakes answering at once). ``mode``: "chat alone" (no bridges), "in serve" (the
    workers in the web process), "1 worker" / "2 workers" (serve --no-workers + workers apart)."""
    workers = {"1 worker": 1, "2 workers": 2}.get(mode, 0)
    async with contextlib.AsyncExitStack() as stack:
        p: Platforms | None = None
        env: dict[str, str] = {}
        bridges = None
        if mode != "chat alone":
            p = await stack.enter_async_context(platforms())
            env, bridges = p.env(), p.bridges()
        n = await stack.enter_async_context(nodes(workdir, webs=1, workers=workers, env=env, bridges=bridges,
                                                  web_runs_workers=mode in ("in serve", "chat alone")))
        # Let the workers take their leases (the platform connections) before the load.
        await asyncio.sleep(2.0 if workers else 0.5)
        people = await spread_crowd(n, visitors, "d")
        role = "worker" if workers else "web"
        cpu0 = n.cpu_s(role)
        start = await send_at_rate(people, rate, seconds)
        row = await _acks(people, start)
        sent = {cid for v in people for cid in v.sent}
        result: dict[str, float] = {"rate": rate, "visitors": visitors, **row}
        if p is not None:
            await _until(lambda: all(sum(1 for tag in a if tag in sent) >= len(sent)
                                     for a in p.arrivals().values()), 180)
            arrivals = p.arrivals()
            times = [t for seen in arrivals.values() for tag, ts in seen.items() if tag in sent for t in ts]
            drained = max(times, default=start) - start
            cpu = n.cpu_s(role) - cpu0
            result.update({
                "deliveries": len(times), "deliveries_per_s": len(times) / drained if drained > 0 else 0.0,
                "drain_s": drained, "cpu_ms_per_delivery": 1000 * cpu / max(1, len(times)),
                "lost": sum(1 for seen in arrivals.values() for tag in sent if tag not in seen),
                "dup": sum(len(ts) - 1 for seen in arrivals.values() for tag, ts in seen.items() if tag in sent),
            })
        for v in people:
            await v.close()
        result["wall_s"] = time.monotonic() - start
        return result
