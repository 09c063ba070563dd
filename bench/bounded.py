"""Bounded by the page, not the history: one project filled straight into the database (COPY on
PostgreSQL) with N sessions and M messages, one of them a long conversation, then through a
real `pocketping serve`: a widget resume of the long conversation with ``lastSeq=0``, the
inbox list's first and deep page, ``GET /api/v1/sessions``' first and deep page. Measured at
each size of the plan (2,000 and 20,000 sessions: a database and a server each, timed in
interleaved rounds)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import statistics
import time
from collections.abc import AsyncIterator
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
EMAIL = "bench-bounded@example.com"
BATCH = 20_000
PAGE = 50


async def bounded_pages(backend: str, workdir: Path, stages: list[tuple[int, int]], long_messages: int,
                        runs: int) -> list[dict[str, Any]]:
    """``stages``: the (sessions, messages) of each database. Each gets its own server; their
    figures are timed in interleaved rounds, so a busy moment of the machine hits all alike."""
    async with contextlib.AsyncExitStack() as stack:
        sizes = [await stack.enter_async_context(_filled(backend, workdir / f"bounded-{i}", n, m, long_messages))
                 for i, (n, m) in enumerate(stages)]
        for size in sizes:
            await size.walk()
        for round_ in range(runs + 3):  # three rounds of warm-up
            for size in sizes:
                await size.time_round(keep=round_ >= 3)
        return [size.row() for size in sizes]


@contextlib.asynccontextmanager
async def _filled(backend: str, workdir: Path, sessions: int, messages: int,
                  long_messages: int) -> AsyncIterator[_Size]:
    from pocketping import tokens
    from pocketping.actions.operators import add_operator
    from pocketping.actions.projects import create_project
    from pocketping.wiring import build_services
    from pocketping_testkit.server import make_settings

    workdir.mkdir(parents=True, exist_ok=True)
    url, name = create_database(backend, workdir)
    key = generate_key()
    svc = build_services(make_settings(url, str(workdir), encryption_key=key))
    server: ServerProcess | None = None
    try:
        await svc.db.migrate()
        project, secret = await create_project(svc, "Bounded")
        await add_operator(svc, EMAIL, project_ids=[project.id], password=PASSWORD)
        filler = _Filler(svc, project.id, long_messages)
        await filler.fill(sessions, messages)
        token = tokens.issue(svc.db.keyring, project.id, filler.long_id, "vis_bounded_long")
        server = ServerProcess(url, workdir, encryption_key=key)
        await asyncio.to_thread(server.start)
        async with _Size(server, project.public_key, secret, token) as size:
            size.info = {"backend": backend, "sessions": sessions, "messages": filler.messages,
                         "long_messages": long_messages}
            yield size
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
        # (Run with PYTHONPATH=<an older src>, the bench measures that version: its schema may lack columns.)
        rows = [{k: v for k, v in r.items() if k in sessions.c} for r in rows]
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


class _Size:
    """One server and its data: the figures' requests, and their times."""

    def __init__(self, server: ServerProcess, public_key: str, secret: str, token: str) -> None:
        self.server = server
        self.public_key = public_key
        self.token = token
        self.info: dict[str, Any] = {}
        self.inbox = InboxClient(server.base_url)
        self.api = httpx.AsyncClient(base_url=server.base_url, timeout=60,
                                     headers={"Authorization": f"Bearer {secret}"})
        self.listed: dict[str, Any] = {}
        self.deep: dict[str, str | None] = {}
        self.resumed: dict[str, int] = {}
        self.times: dict[str, list[float]] = {k: [] for k in FIGURES}

    async def __aenter__(self) -> _Size:
        await self.inbox.login(EMAIL, PASSWORD)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.inbox.close()
        await self.api.aclose()

    async def conversations(self, cursor: str | None) -> dict[str, Any]:
        r = await self.inbox.get("/conversations", limit=PAGE, **({"cursor": cursor} if cursor else {}))
        r.raise_for_status()
        body: dict[str, Any] = r.json()
        return body

    async def sessions(self, cursor: str | None) -> dict[str, Any]:
        r = await self.api.get("/api/v1/sessions", params={"limit": PAGE, **({"cursor": cursor} if cursor else {})})
        r.raise_for_status()
        body: dict[str, Any] = r.json()
        return body

    async def walk(self) -> None:
        """Every page of both lists once (how many they list; the cursor at 90% depth)."""
        self.listed["inbox_listed"], self.deep["inbox"] = await _walk(self.conversations, "conversations")
        self.listed["rest_listed"], self.deep["rest"] = await _walk(self.sessions, "sessions")

    async def time_round(self, *, keep: bool) -> None:
        calls = {"resume_ms": self.resume, "inbox_first_ms": lambda: self.conversations(None),
                 "inbox_deep_ms": lambda: self.conversations(self.deep["inbox"]),
                 "rest_first_ms": lambda: self.sessions(None), "rest_deep_ms": lambda: self.sessions(self.deep["rest"])}
        for key, call in calls.items():
            t0 = time.perf_counter()
            await call()
            if keep:
                self.times[key].append(time.perf_counter() - t0)

    async def resume(self) -> None:
        self.resumed = await _resume(self.server.ws_url, self.public_key, self.token)

    def row(self) -> dict[str, Any]:
        return {**self.info, **self.listed, **{k: _ms(v) for k, v in self.times.items()},
                "resume_frames": self.resumed["frames"], "resume_bytes": self.resumed["bytes"]}


FIGURES = ("resume_ms", "inbox_first_ms", "inbox_deep_ms", "rest_first_ms", "rest_deep_ms")


async def _resume(ws_url: str, public_key: str, token: str) -> dict[str, int]:
    """hello (the long conversation's token, lastSeq 0) -> synced: frames and bytes received."""
    async with websockets.connect(ws_url, compression=None, max_size=None) as ws:
        await ws.send(orjson.dumps({"type": "hello", "publicKey": public_key, "token": token,
                                    "lastSeq": 0}).decode())
        frames = size = 0
        while True:
            raw = await ws.recv()
            frames += 1
            size += len(raw)
            if orjson.loads(raw)["type"] == "synced":
                return {"frames": frames, "bytes": size}


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
