"""The measured scenarios. Each returns plain numbers; __main__ takes medians and writes the report."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import websockets

from bench.clients import EchoClient, Visitor, connect_widget, open_many
from bench.stats import percentile, summary_ms
from pocketping.crypto import generate_key
from pocketping_testkit.databases import create_database, drop_database
from pocketping_testkit.process import ServerProcess
from pocketping_testkit.server import free_port


@dataclass
class Target:
    """A PocketPing server under test, with one project."""

    server: ServerProcess
    public_key: str
    secret_key: str
    project_id: str
    database_url: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        assert self.server.proc is not None
        return self.server.proc.pid

    def rss_mb(self) -> float:
        return psutil.Process(self.pid).memory_info().rss / 1e6


async def prepare_project(database_url: str, data_dir: Path, key: str,
                          bridges: list[tuple[str, dict[str, Any]]] | None = None) -> tuple[str, str, str]:
    """Migrate, create a project and connect its bridges, as `pocketping project create` and
    `pocketping bridge add` do."""
    from pocketping.actions.bridges import add_bridge
    from pocketping.actions.projects import create_project
    from pocketping.wiring import build_services
    from pocketping_testkit.server import make_settings

    svc = build_services(make_settings(database_url, str(data_dir), encryption_key=key))
    try:
        await svc.db.migrate()
        project, secret = await create_project(svc, "Bench")
        for type_, options in bridges or []:
            await add_bridge(svc, project.id, type_, options)
        return project.id, project.public_key, secret
    finally:
        await svc.db.dispose()


@contextlib.asynccontextmanager
async def pocketping(backend: str, workdir: Path, env: dict[str, str] | None = None,
                     bridges: list[tuple[str, dict[str, Any]]] | None = None) -> AsyncIterator[Target]:
    url, name = create_database(backend, workdir)
    key = generate_key()
    try:
        project_id, public_key, secret = await prepare_project(url, workdir, key, bridges)
        server = ServerProcess(url, workdir, encryption_key=key, env=env)
        await asyncio.to_thread(server.start)
        try:
            yield Target(server, public_key, secret, project_id, url)
        finally:
            await asyncio.to_thread(server.stop)
    finally:
        drop_database(backend, name)


@contextlib.asynccontextmanager
async def ceiling_app() -> AsyncIterator[str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "bench.ceiling", str(port)])
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                async with websockets.connect(f"ws://127.0.0.1:{port}/ws"):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)
        yield f"ws://127.0.0.1:{port}/ws"
    finally:
        proc.terminate()
        proc.wait(10)


# --- start-up ----------------------------------------------------------------------------

async def startup(backend: str, workdir: Path, runs: int = 3, settle_s: float = 2.0) -> dict[str, Any]:
    """`pocketping serve` to /readyz answering 200: once on an empty database (it runs the
    migrations), then ``runs`` times on the migrated one (median), and the server's RSS once it
    has been idle for ``settle_s`` after each migrated start (median)."""
    import statistics

    url, name = create_database(backend, workdir)
    key = generate_key()
    try:
        out: dict[str, Any] = {"backend": backend, "runs": runs, "load_1m": os.getloadavg()[0]}
        warm: list[float] = []
        rss: list[float] = []
        for i in range(runs + 1):
            seconds, mb = await asyncio.to_thread(_serve_until_ready, url, workdir, key, settle_s)
            if i == 0:
                out["cold_s"] = seconds
            else:
                warm.append(seconds)
                rss.append(mb)
        out["warm_s"] = statistics.median(warm)
        out["warm_min_s"] = min(warm)
        out["rss_mb"] = statistics.median(rss)
        return out
    finally:
        drop_database(backend, name)


def _serve_until_ready(url: str, workdir: Path, key: str, settle_s: float) -> tuple[float, float]:
    """Seconds from starting `pocketping serve` to /readyz answering 200 (polled every 10 ms),
    and the process's RSS after ``settle_s`` idle."""
    server = ServerProcess(url, workdir, encryption_key=key)
    env = {**server.env, "POCKETPING_LOG_LEVEL": "warning"}
    command = [sys.executable, "-m", "pocketping", "serve", "--port", str(server.port)]
    with open(server.log_path, "wb") as log:
        t0 = time.monotonic()
        proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        with httpx.Client(timeout=1) as client:
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"pocketping serve exited with {proc.returncode}: {server.log()}")
                try:
                    if client.get(f"{server.base_url}/readyz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.01)  # a child process's readiness: there is no event to await
        seconds = time.monotonic() - t0
        time.sleep(settle_s)  # idle, as a server waits for its first visitor
        return seconds, psutil.Process(proc.pid).memory_info().rss / 1e6
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def cli_startup(workdir: Path, runs: int) -> dict[str, float]:
    """Wall seconds of ``pocketping --help`` and ``pocketping project list`` next to a bare
    interpreter (``python -c pass``), interleaved in the same run; medians of ``runs``."""
    import statistics

    db = f"sqlite:///{workdir / 'cli-bench.db'}"
    env = {**os.environ, "POCKETPING_DATABASE_URL": db, "POCKETPING_DATA_DIR": str(workdir)}
    commands = {
        "bare": [sys.executable, "-c", "pass"],
        "help": [sys.executable, "-m", "pocketping", "--help"],
        "project_list": [sys.executable, "-m", "pocketping", "project", "list"],
    }
    subprocess.run(commands["project_list"], env=env, capture_output=True, check=True)  # migrates once
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            t0 = time.perf_counter()
            subprocess.run(command, env=env, capture_output=True, check=True)
            times[name].append(time.perf_counter() - t0)
    out = {f"{name}_s": statistics.median(values) for name, values in times.items()}
    out["help_over_bare_s"] = out["help_s"] - out["bare_s"]
    out["project_list_over_bare_s"] = out["project_list_s"] - out["bare_s"]
    return out


# --- closed-loop throughput: relay vs ceiling --------------------------------------------

async def closed_loop_relay(target: Target, clients: int, seconds: float) -> dict[str, float]:
    visitors = []
    for i in range(clients):
        ws, welcome = await connect_widget(target.server.ws_url, target.public_key)
        visitors.append(Visitor(ws, welcome, f"cl{i}"))
    stop = time.monotonic() + seconds
    latencies: list[float] = []

    async def loop(v: Visitor) -> None:
        while time.monotonic() < stop:
            t0 = time.monotonic()
            await v.send(wait=True)
            latencies.append(time.monotonic() - t0)

    t0 = time.monotonic()
    await asyncio.gather(*(loop(v) for v in visitors))
    elapsed = time.monotonic() - t0
    for v in visitors:
        await v.close()
    return {"msgs_per_s": len(latencies) / elapsed, **{f"rtt_{k}": v for k, v in summary_ms(latencies).items()}}


async def closed_loop_echo(url: str, clients: int, seconds: float) -> dict[str, float]:
    conns = [EchoClient(await websockets.connect(url, compression=None, ping_interval=None)) for _ in range(clients)]
    payload = '{"type":"message","text":"bench message","clientId":"c-123456"}'
    stop = time.monotonic() + seconds
    latencies: list[float] = []

    async def loop(c: EchoClient) -> None:
        while time.monotonic() < stop:
            t0 = time.monotonic()
            await c.round_trip(payload)
            latencies.append(time.monotonic() - t0)

    t0 = time.monotonic()
    await asyncio.gather(*(loop(c) for c in conns))
    elapsed = time.monotonic() - t0
    for c in conns:
        await c.ws.close()
    return {"msgs_per_s": len(latencies) / elapsed, **{f"rtt_{k}": v for k, v in summary_ms(latencies).items()}}


# --- idle connections --------------------------------------------------------------------

async def connections(target: Target, steps: list[int]) -> list[dict[str, float]]:
    """Idle authenticated widget connections, opened in steps (1,000, then up to 5,000 ...) on
    one server: memory per connection and connect rate at each step. A step that fails ends
    the run (the point of the last one is to find the limit)."""
    await asyncio.sleep(0.5)  # let the server settle before the baseline reading
    before = target.rss_mb()
    held: list[Any] = []
    out: list[dict[str, float]] = []
    try:
        for n in steps:
            try:
                more, rate = await open_many(lambda: connect_widget(target.server.ws_url, target.public_key),
                                             n - len(held), concurrency=64)
            except Exception as exc:
                out.append({"n": n, "failed": str(exc)[:200]})  # type: ignore[dict-item]
                break
            held += more
            await asyncio.sleep(1.0)  # let allocations settle before reading RSS (a measurement, not a test)
            after = target.rss_mb()
            out.append({"n": n, "idle_rss_mb": before, "rss_mb": after, "kb_per_conn": (after - before) * 1000 / n,
                        "connects_per_s": rate})
    finally:
        for ws, _ in held:
            await ws.close()
    return out


def raise_file_limit() -> int:
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# --- open-loop chat load -----------------------------------------------------------------

async def crowd(target: Target, visitors: int, prefix: str = "v") -> list[Visitor]:
    conns, _rate = await open_many(lambda: connect_widget(target.server.ws_url, target.public_key), visitors,
                                   concurrency=32)
    return [Visitor(ws, welcome, f"{prefix}{i}") for i, (ws, welcome) in enumerate(conns)]


async def send_at_rate(people: list[Visitor], rate: float, seconds: float) -> float:
    """Every visitor sends in turn so that all of them together send `rate` messages per second
    for `seconds` (open loop: nobody waits for an ack). Returns the start time."""
    visitors = len(people)
    interval = visitors / rate
    start = time.monotonic() + 0.2

    async def visitor_loop(i: int, v: Visitor) -> None:
        t = start + (i / visitors) * interval  # spread the visitors over one interval
        while t < start + seconds:
            delay = t - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await v.send()
            t += interval

    await asyncio.gather(*(visitor_loop(i, v) for i, v in enumerate(people)))
    return start


async def chat_load(target: Target, people: list[Visitor], rate: float, seconds: float) -> dict[str, float]:
    """The visitors send `rate` messages per second in total for `seconds`; one run (the same
    connections can serve several runs: they are reset first)."""
    for v in people:
        v.reset()
    stored_before = target.extra.get("stored", 0)  # counted after the previous run (a new project: 0)
    start = await send_at_rate(people, rate, seconds)
    # Wait (bounded) for the last acks.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and sum(len(v.acks) for v in people) < sum(len(v.sent) for v in people):
        await asyncio.sleep(0.05)
    latencies = [v.acks[c] - v.sent[c] for v in people for c in v.acks]
    sent = sum(len(v.sent) for v in people)
    acked = sum(len(v.acks) for v in people)
    last_ack = max((max(v.acks.values()) for v in people if v.acks), default=start)
    target.extra["stored"] = await count_messages(target)
    stored = target.extra["stored"] - stored_before
    return {
        "rate": rate, "sent": sent, "acked": acked, "stored": stored,
        "lost": sent - acked, "duplicated": sum(v.duplicate_acks for v in people) + max(0, stored - sent),
        "errors": sum(len(v.errors) for v in people),
        "throughput": acked / max(1e-9, last_ack - start),
        **{f"ack_{k}": val for k, val in summary_ms(latencies).items()},
    }


async def count_messages(target: Target) -> int:
    """Messages stored for the project, read through the REST API (every page)."""
    total = 0
    async with httpx.AsyncClient(base_url=target.server.base_url, timeout=60,
                                 headers={"Authorization": f"Bearer {target.secret_key}"}) as api:
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 200, **({"cursor": cursor} if cursor else {})}
            page = (await api.get("/api/v1/sessions", params=params)).json()
            for session in page["sessions"]:
                total += await _count_session(api, session["id"])
            cursor = page["nextCursor"]
            if not cursor:
                return total


async def _count_session(api: httpx.AsyncClient, session_id: str) -> int:
    count, after = 0, 0
    while True:
        page = (await api.get(f"/api/v1/sessions/{session_id}/messages",
                              params={"after_seq": after, "limit": 500})).json()
        count += sum(1 for m in page["messages"] if m["sender"] == "visitor")
        if not page["nextCursor"]:
            return count
        after = int(page["nextCursor"])


def machine() -> dict[str, str]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"cpu": cpu, "cores": str(os.cpu_count()), "memory": f"{psutil.virtual_memory().total / 2**30:.0f} GiB",
            "python": sys.version.split()[0], "platform": sys.platform}


__all__ = ["percentile"]
