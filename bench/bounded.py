"""Bounded by the page, not the history: one project filled straight into the database (COPY on
PostgreSQL) with N sessions and M messages, one of them a long conversation, then through a
real `pocketping serve`: a widget resume of the long conversation with ``lastSeq=0``, the
inbox list's first and deep page, ``GET /api/v1/sessions``' first and deep page. Measured at
each size of the plan (2,000 then 20,000 sessions), the same server and data growing between."""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import websockets

from pocketping.crypto import generate_key
from pocketping_testkit.databases import create_database, drop_database
from pocketping_testkit.inbox_client import InboxClient
from pocketping_testkit.process import ServerProcess

PASSWORD = "bench-password-123"
BATCH = 20_000
PAGE = 50


async def bounded_pages(backend: str, workdir: Path, stages: list[tuple[int, int]], long_messages: int,
                        runs: int) -> list[dict[str, Any]]:
    """``stages``: (sessions, messages) in total at each measurement, growing."""
    from pocketping import tokens
    from pocketping.actions.operators import add_operator
    from pocketping.actions.projects import create_project
    from pocketping.wiring import build_services
    from pocketping_testkit.server import make_settings

    url, name = create_database(backend, workdir)
    key = generate_key()
    svc = build_services(make_settings(url, str(workdir / f"bounded-{backend}"), encryption_key=key))
    server: ServerProcess | None = None
    try:
        await svc.db.migrate()
        project, secret = await create_project(svc, "Bounded")
        email = "bench-bounded@example.com"
        await add_operator(svc, email, project_ids=[project.id], password=PASSWORD)
        filler = _Filler(svc, project.id, long_messages)
        long_token = tokens.issue(svc.db.keyring, project.id, filler.long_id, "vis_bounded_long")
        out = []
        for sessions, messages in stages:
            await filler.fill(sessions, messages)
            if server is None:
                server = ServerProcess(url, workdir, encryption_key=key)
                await asyncio.to_thread(server.start)
            row = {"backend": backend, "sessions": sessions, "messages": filler.messages,
                   "long_messages": long_messages}
            row |= await _resume(server.ws_url, project.public_key, long_token, runs)
            row |= await _inbox(server.base_url, email, runs)
            row |= await _rest(server.base_url, secret, runs)
            out.append(row)
        return out
    finally:
        if server is not None:
            await asyncio.to_thread(server.stop)
        await svc.db.dispose()
        drop_database(backend, name)


class _Filler:
    """Writes sessions and their messages as the server would have (counters on the row)."""

    def __init__(self, svc: Any, project_id: str, long_messages: int) -> None:
        self.svc = svc
        self.project_id = project_id
        self.long_messages = long_messages
        self.long_id = "sess_bounded_long"
        self.sessions = 0
        self.messages = 0
        self.rng = random.Random(22)
        self.now = datetime.now(UTC).replace(tzinfo=None)
        self.text = svc.db.keyring.encrypt("a message of a typical length, about sixty characters long.")
        self.meta = svc.db.keyring.encrypt("{}")

    async def fill(self, sessions: int, messages: int) -> None:
        new_sessions = sessions - self.sessions
        budget = messages - self.messages - (self.long_messages if self.sessions == 0 else 0)
        others = max(1, new_sessions - (1 if self.sessions == 0 else 0))
        per, extra = divmod(budget, others)  # the same share each (the first `extra` one more)
        rows: list[dict[str, Any]] = []
        items: list[dict[str, Any]] = []
        for j, i in enumerate(range(self.sessions, sessions)):
            k = j - (1 if self.sessions == 0 else 0)
            count = self.long_messages if i == 0 else max(1, per + (1 if k < extra else 0))
            self._session(i, count, rows, items)
            if len(items) >= BATCH:
                await self._write(rows, items)
                rows, items = [], []
        await self._write(rows, items)
        self.sessions = sessions
        async with self.svc.db.transaction() as tx:
            if tx.dialect == "postgresql":
                await tx.conn.exec_driver_sql("ANALYZE sessions")
                await tx.conn.exec_driver_sql("ANALYZE messages")

    def _session(self, i: int, count: int, rows: list[dict[str, Any]], items: list[dict[str, Any]]) -> None:
        rng = self.rng
        sid = self.long_id if i == 0 else f"sess_bounded{i:010d}"
        began = self.now - timedelta(seconds=rng.uniform(3600, 60 * 86400))
        last = began + timedelta(seconds=count * 30)
        senders = ["visitor" if k % 2 == 0 or rng.random() < 0.3 else "operator" for k in range(count)]
        read = max((k + 1 for k, s in enumerate(senders) if s == "operator"), default=0)
        rows.append({
            "id": sid, "project_id": self.project_id, "visitor_id": "vis_bounded_long" if i == 0 else f"vis_b{i:010d}",
            "status": "active" if i == 0 or rng.random() < 0.3 else "closed", "meta": self.meta,
            "identity": None, "ip": None, "country": None, "created_at": began, "last_activity": last,
            "closed_at": None, "first_message_at": began, "last_seq": count, "visitor_read_seq": count,
            "operator_read_seq": read, "ai_enabled": True, "ai_due_at": None, "ai_reply_count": 0,
            "assignee_id": None, "waiting_since": None, "rating_score": None, "rating_scale": None,
            "rating_comment": None, "rated_at": None, "first_response_at": None, "consent": None,
            "consent_at": None, "last_message_seq": count,
            "operator_unread": sum(1 for k in range(read, count) if senders[k] == "visitor")})
        for k in range(count):
            items.append({
                "id": f"msg_b{i:010d}_{k:05d}", "session_id": sid, "seq": k + 1, "kind": "message",
                "sender": senders[k], "source": "widget" if senders[k] == "visitor" else "api", "name": None,
                "text": self.text, "operator_name": None, "client_id": None,
                "created_at": began + timedelta(seconds=k * 30), "edited_at": None, "deleted_at": None,
                "attachments": None, "history": None})
        self.messages += count

    async def _write(self, rows: list[dict[str, Any]], items: list[dict[str, Any]]) -> None:
        from pocketping.store.schema import messages, sessions

        if not rows and not items:
            return
        async with self.svc.db.transaction() as tx:
            if tx.dialect == "postgresql":  # COPY: the fastest way in, on the transaction's connection
                raw = (await tx.conn.get_raw_connection()).driver_connection
                for table, data in (("sessions", rows), ("messages", items)):
                    if data:
                        columns = list(data[0])
                        await raw.copy_records_to_table(table, records=[tuple(d[c] for c in columns) for d in data],
                                                        columns=columns)
            else:
                aware = [{k: v.replace(tzinfo=UTC) if isinstance(v, datetime) else v for k, v in d.items()}
                         for d in (*rows, *items)]
                if rows:
                    await tx.conn.execute(sessions.insert(), aware[:len(rows)])
                if items:
                    await tx.conn.execute(messages.insert(), aware[len(rows):])


def _ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


async def _resume(ws_url: str, public_key: str, token: str, runs: int) -> dict[str, Any]:
    """hello (the long conversation's token, lastSeq 0) -> synced: wall time, frames, bytes."""
    times: list[float] = []
    frames = size = 0
    for _ in range(runs):
        async with websockets.connect(ws_url, compression=None, max_size=None) as ws:
            t0 = time.perf_counter()
            await ws.send(orjson.dumps({"type": "hello", "publicKey": public_key, "token": token,
                                        "lastSeq": 0}).decode())
            frames = size = 0
            while True:
                raw = await ws.recv()
                frames += 1
                size += len(raw)
                if orjson.loads(raw)["type"] == "synced":
                    break
            times.append(time.perf_counter() - t0)
    return {"resume_ms": _ms(times), "resume_frames": frames, "resume_bytes": size}


async def _walk(get: Any, key: str) -> tuple[int, str | None]:
    """Follow every page; returns how many items and the cursor of the page at 90% depth."""
    cursors: list[str] = []
    total, cursor = 0, None
    while True:
        body = await get(cursor)
        total += len(body[key])
        cursor = body["nextCursor"]
        if cursor is None:
            break
        cursors.append(cursor)
    return total, cursors[int(len(cursors) * 0.9)] if cursors else None


async def _timed(get: Any, cursor: str | None, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        await get(cursor)
        times.append(time.perf_counter() - t0)
    return _ms(times)


async def _inbox(base_url: str, email: str, runs: int) -> dict[str, Any]:
    async with InboxClient(base_url) as client:
        await client.login(email, PASSWORD)

        async def get(cursor: str | None) -> dict[str, Any]:
            r = await client.get("/conversations", limit=PAGE, **({"cursor": cursor} if cursor else {}))
            r.raise_for_status()
            body: dict[str, Any] = r.json()
            return body

        listed, deep = await _walk(get, "conversations")
        return {"inbox_listed": listed, "inbox_first_ms": await _timed(get, None, runs),
                "inbox_deep_ms": await _timed(get, deep, runs)}


async def _rest(base_url: str, secret: str, runs: int) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base_url, timeout=60, headers={"Authorization": f"Bearer {secret}"}) as api:

        async def get(cursor: str | None) -> dict[str, Any]:
            r = await api.get("/api/v1/sessions", params={"limit": PAGE, **({"cursor": cursor} if cursor else {})})
            r.raise_for_status()
            body: dict[str, Any] = r.json()
            return body

        listed, deep = await _walk(get, "sessions")
        return {"rest_listed": listed, "rest_first_ms": await _timed(get, None, runs),
                "rest_deep_ms": await _timed(get, deep, runs)}
