"""Deliveries per worker process, alone: one web process (`serve --no-workers`) and one
`pocketping worker` on PostgreSQL + Redis, visitors chatting at a rate while every message goes
to the Telegram, Discord and Slack fakes (answering at once); the worker's CPU per platform
post and posts per second (bench.cluster.deliveries, "1 worker").

    PYTHONPATH=. .venv/bin/python -m bench.deliveries 300 3 60   # msgs/s, seconds, visitors
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path

from bench import cluster


async def main(rate: float, seconds: float, visitors: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as workdir:
        result = await cluster.deliveries(Path(workdir), "1 worker", rate, seconds, visitors)
    keys = ("sent", "acked", "deliveries", "deliveries_per_s", "drain_s", "cpu_ms_per_delivery", "lost", "dup")
    return {k: round(result.get(k, -1.0), 2) for k in keys}


if __name__ == "__main__":
    args = sys.argv[1:] or ["300", "3", "60"]
    print(json.dumps(asyncio.run(main(float(args[0]), float(args[1]), int(args[2])))))
