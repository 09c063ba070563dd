"""What one widget connection can make the server do, with only the public key: a client that
never reads is closed (4009) once a bounded backlog waits for it; pings and read receipts are
rate-limited; a ping's ``t`` is short; read receipts are coalesced into few writes (F1, F9)."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import struct
import threading

import orjson
import pytest
import websockets
from sqlalchemy import event

from conftest import create_project_on
from inbox.helpers import make_operator
from pocketping.server.ws import CLOSE_BACKLOG, CONTROL_BURST, PING_T_MAX_CHARS
from pocketping_testkit.inbox_client import InboxClient
from pocketping_testkit.waiting import logged
from pocketping_testkit.widget_client import WidgetClient


class RawSocket:
    """A WebSocket client on a bare TCP socket that reads only when told (a browser tab that
    stopped reading, or an attacker), with a small receive buffer."""

    def __init__(self, port: int, path: str = "/ws", headers: dict[str, str] | None = None) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                           f"{extra}\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        assert b" 101 " in head.split(b"\r\n", 1)[0], head

    def send(self, frame: dict) -> None:
        payload = orjson.dumps(frame)
        n = len(payload)
        header = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack("!H", n))
        self.sock.sendall(header + b"\0\0\0\0" + payload)  # a zero mask: the payload goes as it is

    def frames(self) -> list[tuple[int, bytes]]:
        """Read until the server's close frame (or the end of the connection): (opcode, payload) pairs."""
        self.sock.settimeout(20)
        data = bytearray()
        out: list[tuple[int, bytes]] = []
        while chunk := self.sock.recv(1 << 20):
            data += chunk
            while len(data) >= 2:
                opcode, n, at = data[0] & 0x0F, data[1] & 0x7F, 2
                if n == 126:
                    n, at = struct.unpack("!H", data[2:4])[0], 4
                elif n == 127:
                    n, at = struct.unpack("!Q", data[2:10])[0], 10
                if len(data) < at + n:
                    break
                out.append((opcode, bytes(data[at:at + n])))
                del data[:at + n]
                if opcode == 0x8:
                    return out
        return out

    def close(self) -> None:
        self.sock.close()


def flood(raw: RawSocket, frame: dict, times: int = 100_000, until: threading.Event | None = None) -> int:
    """Send ``frame`` again and again, reading nothing; how many went out before the server
    closed (or ``until`` was set)."""
    sent = 0
    try:
        for _ in range(times):
            if until is not None and until.is_set():
                break
            raw.send(frame)
            sent += 1
    except OSError:  # the server gave up on us and closed
        pass
    return sent


def close_code(frames: list[tuple[int, bytes]]) -> int | None:
    closes = [payload for opcode, payload in frames if opcode == 0x8]
    return struct.unpack("!H", closes[0][:2])[0] if closes and len(closes[0]) >= 2 else None


async def test_a_client_that_never_reads_is_closed_with_4009_once_its_backlog_is_bounded(make_server):
    srv = make_server(max_frame_bytes=4096)  # bound: 16 frames of 4 KB
    project = create_project_on(srv)
    raw = RawSocket(srv.port)
    try:
        raw.send({"type": "hello", "publicKey": project.public_key})

        sent = await asyncio.to_thread(flood, raw, {"type": "nonsense-" + "x" * 30})
        frames = await asyncio.to_thread(raw.frames)
    finally:
        raw.close()
    assert close_code(frames) == CLOSE_BACKLOG, (sent, frames[-3:])
    errors = [p for op, p in frames if op == 0x1 and b'"unknown_type"' in p]
    assert len(errors) < sent  # the rest were dropped, not held

    # The widget reconnects (4009 is not fatal) and resumes by seq: nothing was lost.
    w = await WidgetClient.connect(srv.ws_url, project.public_key)
    await w.synced()
    await w.say("still here")
    await w.close()


async def test_pings_are_rate_limited_and_their_t_is_short(server, project):
    w = await WidgetClient.connect(server.ws_url, project.public_key)
    await w.synced()
    await w.send({"type": "ping", "t": "x" * (PING_T_MAX_CHARS + 1)})
    error = await w.expect("error")
    assert error["code"] == "invalid_ping"
    await w.send({"type": "ping", "t": 1.5})
    assert (await w.expect("pong"))["t"] == 1.5
    for i in range(CONTROL_BURST * 3):
        await w.send({"type": "ping", "t": i})
    limited = await w.expect("error", code="rate_limited")
    assert limited["retryAfter"] > 0
    await w.send({"type": "message", "text": "after the pings", "clientId": "c1"})
    await w.expect("ack", clientId="c1")  # the connection stayed open
    pongs = [f for f in w.pending if f["type"] == "pong"]
    assert CONTROL_BURST - 2 <= len(pongs) <= CONTROL_BURST + 2  # the burst, and a token or two refilled
    assert len([f for f in w.pending if f.get("code") == "rate_limited"]) == 0  # told once, not per frame
    await w.close()


async def test_read_receipts_are_coalesced_and_out_of_range_seqs_refused(server, project):
    w = await WidgetClient.connect(server.ws_url, project.public_key)
    await w.synced()
    for i in range(5):
        await w.say(f"m{i}")
    other_tab = await WidgetClient.connect(server.ws_url, project.public_key, token=w.token, last_seq=5)
    await other_tab.synced()
    writes: list[str] = []

    def seen(_conn, _cursor, statement: str, *_args) -> None:
        if statement.lstrip().upper().startswith("UPDATE") and "visitor_read_seq" in statement:
            writes.append(statement)

    engine = server.services.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        for seq in (1, 2, 3, 4, 5):
            await w.send({"type": "read", "seq": seq})
        for _ in range(200):
            await w.send({"type": "read", "seq": 5})
        assert (await other_tab.expect("read", seq=5))["by"] == "visitor"  # within the coalescing second
        await w.send({"type": "read", "seq": 9223372036854775808})
        assert (await w.expect("error", code="invalid_seq"))["code"] == "invalid_seq"
        await w.send({"type": "read", "seq": 2147483648})
        await w.expect("error", code="invalid_seq")
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert len(writes) <= 2, writes  # the first at once, the highest after a second: not one per frame
    assert [f["seq"] for f in other_tab.pending if f["type"] == "read"] in ([1], [])
    await w.say("still open")
    await w.close()
    await other_tab.close()


async def test_an_inbox_page_that_never_reads_is_closed_with_4009(server, project):
    op = await make_operator(server, project.id)
    async with InboxClient(server.base_url) as client:
        await client.login(op.email, op.password)
        raw = RawSocket(server.port, "/inbox/ws", {"Cookie": client.cookie_header(), "Origin": server.base_url})
        # Flooding stops once the server has given up on the socket: the close is then sent as
        # soon as we read, well before the server's keepalive (a ping we never answer) would
        # close it with 1011 instead.
        with logged("pocketping.server.inbox.socket", "it does not read what it is sent") as abandoned:
            try:
                sent = await asyncio.to_thread(flood, raw, {"type": "ping", "t": "t" * 64}, until=abandoned)
                assert abandoned.is_set(), f"{sent} pings and the server still queues the answers"
                frames = await asyncio.to_thread(raw.frames)
            finally:
                raw.close()
    assert close_code(frames) == 4009, (sent, len(frames), frames[-2:])
    assert len([p for op_, p in frames if op_ == 0x1 and b'"pong"' in p]) < sent


async def test_frames_over_four_times_the_limit_close_with_1009_as_documented(make_server):
    srv = make_server()  # POCKETPING_MAX_FRAME_BYTES 65536: error frames up to 256 KB, 1009 above
    project = create_project_on(srv)
    w = await WidgetClient.connect(srv.ws_url, project.public_key)
    await w.synced()
    await w.send({"type": "message", "text": "x" * 200_000})
    assert (await w.expect("error"))["code"] == "frame_too_large"  # over 64 KB: answered, kept open
    await w.send({"type": "message", "text": "x" * (4 * 65536)})
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await w.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
