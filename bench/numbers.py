"""`pocketping stats` on a large project: N sessions (with messages for the AI share) written
straight into a fresh database, then the stats computed the way the CLI does, timed."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pocketping.crypto import generate_key
from pocketping_testkit.databases import create_database, drop_database

BATCH = 5000


async def stats_at_scale(backend: str, workdir: Path, sessions: int, runs: int) -> dict[str, Any]:
    from pocketping.actions.projects import create_project
    from pocketping.actions.stats import project_stats
    from pocketping.store.schema import messages
    from pocketping.store.schema import sessions as table
    from pocketping.wiring import build_services
    from pocketping_testkit.server import make_settings

    url, name = create_database(backend, workdir)
    svc = build_services(make_settings(url, str(workdir / f"numbers-{backend}"), encryption_key=generate_key()))
    try:
        await svc.db.migrate()
        project, _ = await create_project(svc, "Numbers")
        rng = random.Random(7)
        now = datetime.now(UTC)
        text = svc.db.keyring.encrypt("hello")
        meta = svc.db.keyring.encrypt("{}")  # session metadata is stored encrypted
        written = 0
        while written < sessions:
            rows, items = [], []
            for i in range(written, min(sessions, written + BATCH)):
                began = now - timedelta(seconds=rng.uniform(0, 60 * 86400))
                answered = rng.random() < 0.9
                closed = rng.random() < 0.7
                by_ai = rng.random() < 0.2
                rated = closed and rng.random() < 0.3
                sid = f"sess_bench{i:010d}"
                rows.append({
                    "id": sid, "project_id": project.id, "visitor_id": f"vis_bench{i:010d}",
                    "status": "closed" if closed else "active", "meta": meta, "created_at": began,
                    "last_activity": began, "first_message_at": began, "last_seq": 2, "visitor_read_seq": 0,
                    "operator_read_seq": 0, "ai_enabled": True, "ai_reply_count": 1 if by_ai else 0,
                    "first_response_at": began + timedelta(seconds=rng.expovariate(1 / 120)) if answered else None,
                    "closed_at": began + timedelta(seconds=rng.expovariate(1 / 3600)) if closed else None,
                    "rating_score": rng.randint(1, 5) if rated else None, "rating_scale": "stars" if rated else None,
                    "rated_at": began if rated else None})
                items.append({"id": f"msg_bench{i:010d}", "session_id": sid, "seq": 1, "kind": "message",
                              "sender": "visitor", "source": "widget", "text": text, "created_at": began})
            async with svc.db.transaction() as tx:
                await tx.conn.execute(table.insert(), rows)
                await tx.conn.execute(messages.insert(), items)
            written += len(rows)
        timings = []
        for _ in range(runs):
            began = time.perf_counter()
            found = await project_stats(svc, project.id, "90d")
            timings.append(time.perf_counter() - began)
        timings.sort()
        return {"backend": backend, "sessions": sessions, "seconds": timings[len(timings) // 2],
                "best_s": timings[0], "conversations": found["conversations"],
                "first_p50_s": found["firstResponseSeconds"]["p50"], "days": len(found["days"])}
    finally:
        await svc.db.dispose()
        drop_database(backend, name)
