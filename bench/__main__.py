"""Run the benchmark suite and write bench/report.md.

    python -m bench            # the full suite (make bench), a few minutes
    python -m bench --smoke    # seconds: every scenario once, tiny (part of make test)
    python -m bench --only startup        # `pocketping serve` to /readyz and idle RSS, alone
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import scenarios as sc
from bench.bounded import bounded_pages
from bench.bridged import bridged_chat
from bench.idle import idle_cpu
from bench.numbers import stats_at_scale
from bench.report import render, render_bounded, render_side_by_side, render_startup
from bench.retrieval import retrieval_recall
from bench.sidebyside import SUBJECTS, side_by_side
from bench.stats import median_of_runs


class Plan:
    def __init__(self, smoke: bool) -> None:
        self.smoke = smoke
        self.runs = 1 if smoke else 3
        self.seconds = 1.0 if smoke else 3.0
        self.closed_clients = 4 if smoke else 50
        # Idle connections: `runs` servers opened up to 1,000; one more opened in steps up to
        # 5,000 and then as many as the file limit allows (capped).
        self.connection_counts = [50] if smoke else [1000]
        self.connection_steps = [] if smoke else [5000]
        self.max_connections = 0 if smoke else 12000
        self.rates = [20] if smoke else [100, 300, 1000]
        self.chat_seconds = 1.0 if smoke else 2.0
        self.backends = ["sqlite"] if smoke else ["sqlite", "postgresql"]
        # `pocketping serve` to /readyz: starts on a migrated database per backend (after the one
        # that migrates), and how long the server idles before its RSS is read.
        self.startup_runs = 1 if smoke else 5
        self.startup_settle_s = 0.5 if smoke else 2.0
        # The chat load with Telegram, Discord and Slack connected (fakes): (database, msgs/s,
        # seconds, visitors). Short bursts at high rates: each message makes three platform
        # posts (and each new visitor opens three threads), far more work than its storage.
        self.bridged: list[tuple[str, int, float, int]] = (
            [("sqlite", 10, 1.0, 5)] if smoke
            else [("postgresql", 100, 1.0, 20), ("postgresql", 300, 0.5, 30), ("postgresql", 1000, 0.2, 40),
                  ("sqlite", 100, 1.0, 20)])
        self.replies = 2 if smoke else 10
        self.idle_seconds = 2.0 if smoke else 30.0
        # Several nodes on PostgreSQL + Redis: (web processes, msgs/s, seconds, visitors), and the
        # deliveries with the workers in serve vs. apart: (msgs/s, seconds, visitors).
        self.node_counts = [2] if smoke else [1, 2, 3]
        self.nodes_chat: tuple[int, float, int] = (20, 1.0, 8) if smoke else (300, 3.0, 60)
        self.delivery_modes = ["1 worker"] if smoke else ["chat alone", "in serve", "1 worker", "2 workers"]
        self.delivery_load: tuple[int, float, int] = (10, 1.0, 5) if smoke else (200, 2.0, 40)
        # Side by side with the reference server and the ceilings (bench/sidebyside.py). The smoke
        # run leaves the reference out (it installs a virtual environment from PyPI on first use).
        self.sbs_rounds = 1 if smoke else 3
        self.sbs_subjects = (["echo", "durable sqlite", "ours sqlite"] if smoke else list(SUBJECTS))
        self.sbs_connections = 20 if smoke else 1000
        self.sbs_loads = [4, 8] if smoke else [50, 200]
        self.sbs_lone = 5 if smoke else 100
        self.sbs_replies = 3 if smoke else 30
        self.sbs_seconds = 0.5 if smoke else 3.0
        # `pocketping stats` on a large project: (database, sessions).
        self.numbers: list[tuple[str, int]] = [("sqlite", 2000)] if smoke else [("postgresql", 100_000)]
        # Bounded by the page (bench/bounded.py): (database, [(sessions, messages) at each
        # measurement], messages of the long conversation resumed, timed requests per figure).
        self.bounded: tuple[str, list[tuple[int, int]], int, int] = (
            ("sqlite", [(200, 2000), (400, 4000)], 300, 3) if smoke
            else ("postgresql", [(2000, 20_000), (20_000, 200_000)], 5000, 15))


async def run(plan: Plan, workdir: Path, only: str | None = None) -> dict[str, Any]:
    results: dict[str, Any] = {"machine": sc.machine(), "plan": vars(plan).copy()}
    results["file_limit"] = sc.raise_file_limit()
    quiet = plan.smoke
    began = time.perf_counter()
    timings: dict[str, float] = {}

    def log(section: str) -> None:
        timings[section] = time.perf_counter()
        if not quiet:
            print(f"[{time.perf_counter() - began:5.0f} s] {section} ...", file=sys.stderr, flush=True)

    def progress(message: str) -> None:
        if not quiet:
            print(f"[{time.perf_counter() - began:5.0f} s]   {message}", file=sys.stderr, flush=True)

    if only == "side-by-side":
        log("side by side")
        results["side_by_side"] = await side_by_side(plan, workdir, log=progress)
        return results
    if only == "bounded":
        log("bounded by the page")
        results["bounded"] = await bounded_pages(plan.bounded[0], workdir, *plan.bounded[1:])
        return results

    log("start-up")
    results["startup"] = [await sc.startup(backend, workdir, plan.startup_runs, plan.startup_settle_s)
                          for backend in plan.backends]
    if only == "startup":
        return results

    log("CLI start-up")
    results["cli"] = await asyncio.to_thread(sc.cli_startup, workdir, 3 if plan.smoke else 9)

    log("ceiling vs relay (closed loop)")
    pairs = []
    for _ in range(plan.runs):
        async with sc.ceiling_app() as url:
            echo = await sc.closed_loop_echo(url, plan.closed_clients, plan.seconds)
        async with sc.pocketping("sqlite", workdir) as target:
            relay = await sc.closed_loop_relay(target, plan.closed_clients, plan.seconds)
        pairs.append({**{f"echo_{k}": v for k, v in echo.items()}, **{f"relay_{k}": v for k, v in relay.items()},
                      "ratio": relay["msgs_per_s"] / echo["msgs_per_s"]})
    results["closed_loop"] = median_of_runs(pairs)

    log("idle connections")
    conns: list[dict[str, Any]] = []
    for n in plan.connection_counts:
        runs = []
        for _ in range(plan.runs):
            async with sc.pocketping("sqlite", workdir) as target:
                runs += await sc.connections(target, [n])
        conns.append({**median_of_runs(runs), "runs": len(runs)})
    steps = list(plan.connection_steps)
    if plan.max_connections:
        steps.append(min(plan.max_connections, results["file_limit"] // 2 - 100))
    if steps:
        async with sc.pocketping("sqlite", workdir) as target:
            grown = await sc.connections(target, steps)
        for row in grown:
            conns.append({**row, "runs": 1, "max": int(row["n"] == steps[-1] and bool(plan.max_connections))})
    results["connections"] = conns

    log("chat load")
    chat: list[dict[str, Any]] = []
    for backend in plan.backends:
        async with sc.pocketping(backend, workdir) as target:
            for rate in plan.rates:
                people = await sc.crowd(target, max(4, rate // 4))
                runs = [await sc.chat_load(target, people, rate, plan.chat_seconds) for _ in range(plan.runs)]
                for v in people:
                    await v.close()
                chat.append({"backend": backend, "visitors": len(people), **median_of_runs(runs),
                             "lost_total": sum(r["lost"] for r in runs),
                             "dup_total": sum(r["duplicated"] for r in runs)})
    results["chat"] = chat

    log("chat load with three bridges")
    bridged: list[dict[str, Any]] = []
    for backend, rate, seconds, visitors in plan.bridged:
        runs = await bridged_chat(backend, workdir, rate, seconds, visitors, plan.runs, replies=plan.replies)
        lost = sum(r[f"{p}_lost"] for r in runs for p in ("telegram", "discord", "slack"))
        dup = sum(r[f"{p}_dup"] for r in runs for p in ("telegram", "discord", "slack"))
        bridged.append({"backend": backend, **median_of_runs(runs), "lost_total": lost, "dup_total": dup})
    results["bridged"] = bridged

    log("idle server with a dead webhook endpoint")
    results["idle"] = [await idle_cpu(backend, workdir, plan.idle_seconds) for backend in plan.backends]
    log("several nodes: chat on 1, 2, 3 web processes")
    from bench import cluster

    rate, seconds, visitors = plan.nodes_chat
    results["nodes"] = [
        {**median_of_runs(runs), "lost_total": sum(r["lost"] for r in runs),
         "dup_total": sum(r["duplicated"] for r in runs)}
        for runs in [await cluster.web_nodes_chat(workdir, count, rate, seconds, visitors, plan.runs)
                     for count in plan.node_counts]]
    log("several nodes: deliveries, workers in serve vs. apart")
    rate, seconds, visitors = plan.delivery_load
    results["deliveries"] = [{"mode": mode, **await cluster.deliveries(workdir, mode, rate, seconds, visitors)}
                             for mode in plan.delivery_modes]
    log("side by side")
    results["side_by_side"] = await side_by_side(plan, workdir, log=progress)
    log("stats at scale")
    results["numbers"] = [await stats_at_scale(backend, workdir, n, plan.runs) for backend, n in plan.numbers]
    log("bounded by the page")
    results["bounded"] = await bounded_pages(plan.bounded[0], workdir, *plan.bounded[1:])
    log("retrieval recall")
    results["retrieval"] = await retrieval_recall(workdir)
    log("done")
    names = list(timings)
    results["timings"] = {a: timings[b] - timings[a] for a, b in itertools.pairwise(names)}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--smoke", action="store_true", help="tiny and quick: proves every scenario runs")
    parser.add_argument("--out", default="bench/report.md")
    parser.add_argument("--only", choices=["side-by-side", "bounded", "startup"], help="run one section alone")
    args = parser.parse_args()
    plan = Plan(args.smoke)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="pp-bench-") as tmp:
        results = asyncio.run(run(plan, Path(tmp), args.only))
    results["elapsed_s"] = time.perf_counter() - started
    renderers = {"side-by-side": render_side_by_side, "startup": render_startup,
                 "bounded": lambda r: "\n".join(render_bounded(r["bounded"])) + "\n"}
    text = renderers.get(args.only or "", render)(results)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
