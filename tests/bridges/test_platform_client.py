"""The platform API clients keep no cookies (nothing an answer sets is sent back) and send a
request in one write."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ssl
from pathlib import Path

import httpcore
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pocketping.bridges.deps import DEFAULT_HTTP, HttpClients
from pocketping.bridges.http import PlatformTransport, _OneWrite, _OneWriteBackend


async def test_a_cookie_a_platform_sets_is_never_sent_back():
    seen: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("cookie"))
        return httpx.Response(200, json={"ok": True}, headers={"set-cookie": "__cfruid=abc; Path=/"})

    client = HttpClients(transport=httpx.MockTransport(answer))(timeout=5.0, base_url="https://api.example.com")
    async with client:
        for _ in range(3):
            assert (await client.post("/send", json={"text": "hi"})).json() == {"ok": True}
        assert len(client.cookies) == 0
        with pytest.raises(TypeError):
            client.cookies = {"a": "b"}
    assert seen == [None, None, None]
    # A plain httpx client would have sent it back: the difference is ours.
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer), base_url="https://api.example.com") as plain:
        await plain.post("/send")
        await plain.post("/send")
    assert seen[-1] == "__cfruid=abc"
    assert DEFAULT_HTTP.transport is None


class _Recording(httpcore.AsyncNetworkStream):
    """A connection that records each write and answers every request with one canned response."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.answer = b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\nContent-Type: application/json\r\n\r\n{\"ok\":true}"

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.writes.append(buffer)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        answer, self.answer = self.answer, b""
        return answer

    async def aclose(self) -> None:
        return None


async def _post_through(stream: httpcore.AsyncNetworkStream) -> httpcore.Response:
    conn = httpcore.AsyncHTTP11Connection(origin=httpcore.Origin(b"http", b"api.example.com", 80), stream=stream)
    return await conn.request("POST", "http://api.example.com/send", headers={"Content-Type": "application/json"},
                              content=b'{"text":"hi"}')


async def test_a_platform_request_goes_out_in_one_write():
    plain = _Recording()
    assert (await _post_through(plain)).content == b'{"ok":true}'
    assert len([w for w in plain.writes if w]) == 2  # httpcore alone: the head, then the body
    recording = _Recording()
    response = await _post_through(_OneWrite(recording))
    assert response.status == 200 and response.content == b'{"ok":true}'
    assert recording.writes == [b"".join(plain.writes)]  # the same bytes, in one write


async def test_platform_clients_talk_http_through_the_one_write_transport():
    """Against a real server: answers, keep-alive (one connection for several requests), and a
    refused connection raising httpx's own error."""
    connections = 0
    bodies: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        while head := await reader.readuntil(b"\r\n\r\n") if not reader.at_eof() else b"":
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length")))
            bodies.append(await reader.readexactly(length))
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        client = HttpClients()(timeout=5.0, base_url=f"http://127.0.0.1:{port}")
        assert isinstance(client._transport, PlatformTransport)
        async with client:
            for n in range(3):
                response = await client.post("/send", json={"n": n})
                assert response.status_code == 200 and response.text == "ok"
        assert bodies == [b'{"n":0}', b'{"n":1}', b'{"n":2}'] and connections == 1
    finally:
        server.close()
        await server.wait_closed()
    async with HttpClients()(timeout=5.0, base_url=f"http://127.0.0.1:{port}") as refused:
        with pytest.raises(httpx.ConnectError):
            await refused.post("/send", json={})


def _localhost_tls(tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a certificate for "localhost" and a client context trusting only it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM)
    (tmp_path / "c.pem").write_bytes(pem)
    (tmp_path / "k.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                       serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")
    return server, ssl.create_default_context(cadata=pem.decode())


async def test_the_platform_connections_speak_tls_and_check_the_certificate(tmp_path):
    server_ctx, client_ctx = _localhost_tls(tmp_path)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError, ssl.SSLError):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecret")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=server_ctx)
    port = server.sockets[0].getsockname()[1]
    try:
        async with httpcore.AsyncConnectionPool(ssl_context=client_ctx, network_backend=_OneWriteBackend()) as pool:
            response = await pool.request("GET", f"https://localhost:{port}/")
            assert response.status == 200 and response.content == b"secret"
        async with httpcore.AsyncConnectionPool(ssl_context=ssl.create_default_context(),
                                                network_backend=_OneWriteBackend()) as untrusting:
            with pytest.raises(httpcore.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await untrusting.request("GET", f"https://localhost:{port}/")
    finally:
        server.close()
        await server.wait_closed()


async def test_a_silent_platform_times_out_with_httpx_timeouts():
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # reads, never answers

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with HttpClients()(timeout=httpx.Timeout(5.0, read=0.2), base_url=f"http://127.0.0.1:{port}") as client:
            with pytest.raises(httpx.ReadTimeout):
                await client.post("/send", json={})
    finally:
        server.close()
        await server.wait_closed()
