"""Run the benchmark suite and write bench/report.md.

    python -m bench            # the full suite (make bench), a few minutes
    python -m bench --smoke    # seconds: every scenario once, tiny (part of make test)
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import scenarios as sc
from bench.bridged import bridged_chat
from bench.report import render
from bench.stats import median_of_runs


class Plan:
    def __init__(self, smoke: bool) -> None:
        self.smoke = smoke
        self.runs = 1 if smoke else 3
        self.seconds = 1.0 if smoke else 4.0
        self.closed_clients = 4 if smoke else 50
        self.connection_counts = [50] if smoke else [1000, 5000]
        self.max_connections = 0 if smoke else 12000
        self.rates = [20] if smoke else [100, 300, 1000]
        self.backends = ["sqlite"] if smoke else ["sqlite", "postgresql"]
        # The chat load with Telegram, Discord and Slack connected (fakes): (database, msgs/s,
        # seconds). Shorter at high rates: the platform posts then take far longer than the sends.
        self.bridged: list[tuple[str, int, float]] = (
            [("sqlite", 10, 1.0)] if smoke
            else [("postgresql", 100, 3.0), ("postgresql", 300, 2.0), ("postgresql", 1000, 1.0), ("sqlite", 100, 3.0)])


async def run(plan: Plan, workdir: Path) -> dict[str, Any]:
    results: dict[str, Any] = {"machine": sc.machine(), "plan": vars(plan).copy()}
    results["file_limit"] = sc.raise_file_limit()
    log = (lambda *a: None) if plan.smoke else (lambda *a: print(*a, file=sys.stderr, flush=True))

    log("start-up ...")
    results["startup"] = median_of_runs([await sc.startup("sqlite", workdir) for _ in range(plan.runs)])

    log("ceiling vs relay (closed loop) ...")
    pairs = []
    for _ in range(plan.runs):
        async with sc.ceiling_app() as url:
            echo = await sc.closed_loop_echo(url, plan.closed_clients, plan.seconds)
        async with sc.pocketping("sqlite", workdir) as target:
            relay = await sc.closed_loop_relay(target, plan.closed_clients, plan.seconds)
        pairs.append({**{f"echo_{k}": v for k, v in echo.items()}, **{f"relay_{k}": v for k, v in relay.items()},
                      "ratio": relay["msgs_per_s"] / echo["msgs_per_s"]})
    results["closed_loop"] = median_of_runs(pairs)

    log("idle connections ...")
    conns: list[dict[str, float]] = []
    for n in plan.connection_counts:
        runs = []
        for _ in range(plan.runs):
            async with sc.pocketping("sqlite", workdir) as target:
                runs.append(await sc.connections(target, n))
        conns.append(median_of_runs(runs))
    if plan.max_connections:
        n = min(plan.max_connections, results["file_limit"] // 2 - 100)
        async with sc.pocketping("sqlite", workdir) as target:
            try:
                conns.append({**await sc.connections(target, n), "max": 1})
            except Exception as exc:  # the point is to find the limit
                conns.append({"n": n, "failed": str(exc)[:200], "max": 1})  # type: ignore[dict-item]
    results["connections"] = conns

    log("chat load ...")
    chat: list[dict[str, Any]] = []
    for backend in plan.backends:
        for rate in plan.rates:
            visitors = max(4, int(rate // 2))
            runs = []
            for _ in range(plan.runs):
                async with sc.pocketping(backend, workdir) as target:
                    runs.append(await sc.chat_load(target, rate, plan.seconds, visitors))
            chat.append({"backend": backend, "visitors": visitors, **median_of_runs(runs),
                         "lost_total": sum(r["lost"] for r in runs), "dup_total": sum(r["duplicated"] for r in runs)})
    results["chat"] = chat

    log("chat load with three bridges ...")
    bridged: list[dict[str, Any]] = []
    for backend, rate, seconds in plan.bridged:
        visitors = max(4, rate // 2)
        runs = [await bridged_chat(backend, workdir, rate, seconds, visitors, replies=2 if plan.smoke else 20)
                for _ in range(plan.runs)]
        lost = sum(r[f"{p}_lost"] for r in runs for p in ("telegram", "discord", "slack"))
        dup = sum(r[f"{p}_dup"] for r in runs for p in ("telegram", "discord", "slack"))
        bridged.append({"backend": backend, **median_of_runs(runs), "lost_total": lost, "dup_total": dup})
    results["bridged"] = bridged
    return results


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--smoke", action="store_true", help="tiny and quick: proves every scenario runs")
    parser.add_argument("--out", default="bench/report.md")
    args = parser.parse_args()
    plan = Plan(args.smoke)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="pp-bench-") as tmp:
        results = asyncio.run(run(plan, Path(tmp)))
    results["elapsed_s"] = time.perf_counter() - started
    text = render(results)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
