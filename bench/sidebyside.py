"""Side by side: PocketPing next to the reference implementation's Python server (PyPI
`pocketping`, FastAPI, sessions in memory, no durability), the bare echo ceiling and the
durable ceiling (the echo answering once one row per message is group-committed), driven by the
same load generator in interleaved rounds, so every ratio is taken within one run.

The reference's widget talks HTTP (POST /connect, POST /message) plus a WebSocket stream for what
the server pushes; ours talks one WebSocket. Each is driven the way its widget drives it: a page
view is a connect that creates a session (and opens the stream), a message is sent and its
acknowledgement awaited (HTTP response / ``ack`` frame), a reply is the operator's REST call,
timed from making the call to the message at the visitor, and from the call's answer to the
message at the visitor (0 when the push arrived first: both servers push before answering).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import psutil
import websockets

from bench.clients import OPEN_TIMEOUT, Visitor, connect_widget
from bench.stats import median, percentile
from pocketping_testkit.databases import create_database, drop_database
from pocketping_testkit.server import free_port

# The reference, pinned, in a virtual environment of its own (its package is also `pocketping`);
# its web stack pinned to the versions we run.
REFERENCE = "pocketping==1.12.0"
REFERENCE_STACK = ["fastapi==0.165.0", "uvicorn==0.54.0", "websockets==17.4", "httptools==0.9.0", "uvloop==0.23.0"]
HERE = Path(__file__).resolve().parent


def reference_python() -> Path:
    """The reference's interpreter, its virtual environment made on first use (cached)."""
    pins = [REFERENCE, *REFERENCE_STACK]
    tag = hashlib.sha256(" ".join(pins).encode()).hexdigest()[:10]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    venv = cache / "pocketping-bench" / f"reference-{tag}"
    python = venv / "bin" / "python"
    if not (venv / "ok").exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *pins],
                       check=True)
        (venv / "ok").write_text(" ".join(pins))
    return python


# --- a small HTTP/1.1 keep-alive client (light enough not to be the bottleneck) ---------------

class Http:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        self.reader, self.writer, self.host = reader, writer, host

    @classmethod
    async def open(cls, port: int) -> Http:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer, f"127.0.0.1:{port}")

    async def post(self, path: str, body: Any, headers: str = "") -> tuple[int, Any]:
        data = orjson.dumps(body)
        self.writer.write(f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
                          f"{headers}Content-Length: {len(data)}\r\n\r\n".encode() + data)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        payload = await self.reader.readexactly(length)
        return status, orjson.loads(payload) if payload else None

    def close(self) -> None:
        self.writer.close()


# --- the subjects --------------------------------------------------------------------------

class Client:
    """One visitor (a page view): send() returns once the message is acknowledged."""

    arrivals: dict[str, float]

    async def send(self, text: str) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


class EchoVisitor(Client):
    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.arrivals = {}

    async def send(self, text: str) -> None:
        await self.ws.send(orjson.dumps({"type": "message", "text": text, "clientId": text}).decode())
        await self.ws.recv()

    async def close(self) -> None:
        await self.ws.close()


class OurVisitor(Client):
    def __init__(self, visitor: Visitor) -> None:
        self.v = visitor
        self.arrivals = visitor.incoming
        self.session_id = visitor.welcome["sessionId"]

    async def send(self, text: str) -> None:
        await self.v.send(text, wait=True)

    async def close(self) -> None:
        await self.v.close()


class ReferenceVisitor(Client):
    def __init__(self, http: Http, ws: Any, session_id: str) -> None:
        self.http, self.ws, self.session_id = http, ws, session_id
        self.arrivals = {}
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in self.ws:
                frame = orjson.loads(raw)
                data = frame.get("data") or {}
                if frame.get("type") == "message" and data.get("sender") != "visitor":
                    self.arrivals.setdefault(data.get("content", ""), time.monotonic())

    async def send(self, text: str) -> None:
        status, _ = await self.http.post("/pocketping/message",
                                         {"sessionId": self.session_id, "content": text, "sender": "visitor"})
        if status != 200:
            raise RuntimeError(f"reference refused a message: {status}")

    async def close(self) -> None:
        self._reader.cancel()
        self.http.close()
        await self.ws.close()


@dataclass
class Subject:
    name: str
    proc: psutil.Process
    port: int
    kind: str  # echo | ours | reference
    public_key: str = ""
    secret_key: str = ""
    operator: Http | None = None

    def cpu(self) -> float:
        t = self.proc.cpu_times()
        return t.user + t.system

    def rss_mb(self) -> float:
        return self.proc.memory_info().rss / 1e6

    async def visitor(self) -> Client:
        if self.kind == "echo":
            return EchoVisitor(await websockets.connect(f"ws://127.0.0.1:{self.port}/ws", compression=None,
                                                        open_timeout=OPEN_TIMEOUT, ping_interval=None,
                                                        max_queue=None))
        if self.kind == "ours":
            ws, welcome = await connect_widget(f"ws://127.0.0.1:{self.port}/ws", self.public_key)
            return OurVisitor(Visitor(ws, welcome, uuid.uuid4().hex[:8]))
        http = await Http.open(self.port)
        status, body = await http.post("/pocketping/connect", {"visitorId": uuid.uuid4().hex})
        if status != 200:
            raise RuntimeError(f"reference refused a connect: {status}")
        ws = await websockets.connect(f"ws://127.0.0.1:{self.port}/pocketping/stream?sessionId={body['sessionId']}",
                                      compression=None, open_timeout=OPEN_TIMEOUT, ping_interval=None, max_queue=None)
        return ReferenceVisitor(http, ws, body["sessionId"])

    async def reply(self, client: Client, text: str) -> None:
        """The operator's REST call; returns when its response has arrived."""
        if self.operator is None:
            self.operator = await Http.open(self.port)
        if self.kind == "ours":
            assert isinstance(client, OurVisitor)
            status, _ = await self.operator.post(f"/api/v1/sessions/{client.session_id}/messages", {"text": text},
                                                 f"Authorization: Bearer {self.secret_key}\r\n")
            ok = status == 201
        else:
            assert isinstance(client, ReferenceVisitor)
            status, _ = await self.operator.post("/bench/operator",
                                                 {"sessionId": client.session_id, "content": text})
            ok = status == 200
        if not ok:
            raise RuntimeError(f"{self.name}: the operator reply was refused ({status})")


async def _wait_port(proc: subprocess.Popen[bytes], port: int, path: str = "/") -> None:
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            _r, w = await asyncio.open_connection("127.0.0.1", port)
            w.close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)  # polling a child process's readiness: there is no event to await


@contextlib.asynccontextmanager
async def _process(name: str, kind: str, command: list[str], **fields: Any) -> AsyncIterator[Subject]:
    port = free_port()
    proc = subprocess.Popen([*command, str(port), *fields.pop("args", [])], cwd=fields.pop("cwd", None),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        await _wait_port(proc, port)
        yield Subject(name, psutil.Process(proc.pid), port, kind, **fields)
    finally:
        proc.terminate()
        proc.wait(15)


@contextlib.asynccontextmanager
async def subject(name: str, workdir: Path) -> AsyncIterator[Subject]:
    """echo | durable sqlite | durable postgresql | reference | ours sqlite | ours postgresql"""
    if name == "echo":
        async with _process(name, "echo", [sys.executable, "-m", "bench.ceiling"]) as s:
            yield s
    elif name == "reference":
        # Run as a script copied into a scratch directory: nothing of ours on its path (a script's
        # own folder comes first on it, and bench/numbers.py would stand for the stdlib's numbers).
        script = workdir / "reference_app.py"
        shutil.copyfile(HERE / "reference_app.py", script)
        async with _process(name, "reference", [str(reference_python()), str(script)], cwd=str(workdir)) as s:
            yield s
    elif name.startswith("durable "):
        backend = name.split()[1]
        url, db = create_database(backend, workdir)
        try:
            async with _process(name, "echo", [sys.executable, "-m", "bench.ceiling"], args=[url]) as s:
                yield s
        finally:
            drop_database(backend, db)
    else:
        from bench.scenarios import pocketping

        async with pocketping(name.split()[1], workdir) as target:
            yield Subject(name, psutil.Process(target.pid), target.server.port, "ours",
                          public_key=target.public_key, secret_key=target.secret_key)


# --- one round on one subject --------------------------------------------------------------

async def closed_loop(s: Subject, clients: list[Client], seconds: float) -> dict[str, float]:
    stop = time.monotonic() + seconds
    count = 0

    async def loop(i: int, c: Client) -> None:
        nonlocal count
        n = 0
        while time.monotonic() < stop:
            n += 1
            await c.send(f"bench {i}-{n}")
            count += 1

    cpu0, t0 = s.cpu(), time.monotonic()
    await asyncio.gather(*(loop(i, c) for i, c in enumerate(clients)))
    elapsed, cpu = time.monotonic() - t0, s.cpu() - cpu0
    return {"msgs_per_s": count / elapsed, "cpu_per_1000_s": cpu / max(count, 1) * 1000}


async def measure(s: Subject, plan: Any) -> dict[str, float]:
    out: dict[str, float] = {}
    await asyncio.sleep(0.5)  # let the server settle before the baseline reading (a measurement)
    out["idle_rss_mb"] = s.rss_mb()
    sem = asyncio.Semaphore(64)

    async def one() -> Client:
        async with sem:
            return await s.visitor()

    t0 = time.monotonic()
    clients = list(await asyncio.gather(*(one() for _ in range(plan.sbs_connections))))
    out["connects_per_s"] = len(clients) / (time.monotonic() - t0)
    await asyncio.sleep(0.5)
    out["kb_per_conn"] = (s.rss_mb() - out["idle_rss_mb"]) * 1000 / len(clients)
    keep, rest = clients[:max(plan.sbs_loads)], clients[max(plan.sbs_loads):]
    for c in rest:
        await c.close()

    # A lone visitor on an otherwise idle server.
    lone = keep[0]
    lat: list[float] = []
    cpu0 = s.cpu()
    for i in range(plan.sbs_lone):
        t = time.monotonic()
        await lone.send(f"lone {i}")
        lat.append(time.monotonic() - t)
    out["lone_cpu_ms"] = (s.cpu() - cpu0) / plan.sbs_lone * 1000
    out["lone_ack_ms"] = percentile(lat, 50) * 1000

    if s.kind != "echo":
        delays, after_return = [], []
        for i in range(plan.sbs_replies):
            text = f"reply {uuid.uuid4().hex[:8]} {i}"
            called = time.monotonic()
            await s.reply(lone, text)
            returned = time.monotonic()
            deadline = returned + 10
            while text not in lone.arrivals and time.monotonic() < deadline:
                await asyncio.sleep(0.0005)  # polling the client's own arrival record (a measurement)
            if text in lone.arrivals:
                delays.append(lone.arrivals[text] - called)
                after_return.append(max(0.0, lone.arrivals[text] - returned))
        out["reply_p50_ms"] = percentile(delays, 50) * 1000
        out["reply_after_return_p50_ms"] = percentile(after_return, 50) * 1000

    for n in plan.sbs_loads:
        r = await closed_loop(s, keep[:n], plan.sbs_seconds)
        out[f"msgs_per_s_{n}"] = r["msgs_per_s"]
        out[f"cpu_per_1000_{n}"] = r["cpu_per_1000_s"]
    for c in keep:
        await c.close()
    if s.operator is not None:
        s.operator.close()
    return out


SUBJECTS = ["echo", "durable sqlite", "durable postgresql", "reference", "ours sqlite", "ours postgresql"]


async def side_by_side(plan: Any, workdir: Path, log: Any = print) -> dict[str, Any]:
    """Interleaved rounds over every subject; per subject and figure, the median of the rounds."""
    psutil.cpu_percent(None)
    load_before = os.getloadavg()
    rounds: dict[str, list[dict[str, float]]] = {name: [] for name in plan.sbs_subjects}
    for r in range(plan.sbs_rounds):
        for name in plan.sbs_subjects:
            log(f"side by side, round {r + 1}: {name}")
            async with subject(name, workdir) as s:
                rounds[name].append(await measure(s, plan))
    figures = {name: {k: median([run[k] for run in runs]) for k in runs[0]} for name, runs in rounds.items()}
    return {"figures": figures, "rounds": plan.sbs_rounds, "machine_cpu_percent": psutil.cpu_percent(None),
            "load_before": load_before, "load_after": os.getloadavg(), "loads": plan.sbs_loads,
            "connections": plan.sbs_connections, "lone": plan.sbs_lone, "seconds": plan.sbs_seconds}
