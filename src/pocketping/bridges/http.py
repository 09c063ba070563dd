"""The HTTP client the platforms' APIs talk through (``bridges.deps.HttpClients`` makes them).

Apart from ``bridges.deps`` so that httpx is imported with the first bridge, not by every server.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
import ssl
from typing import Any

import httpcore
import httpx


class _NoCookies(httpx.Cookies):
    """A jar that stays empty: nothing is read from answers, so nothing is sent."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None

    def set_cookie_header(self, request: httpx.Request) -> None:
        return None


class PlatformClient(httpx.AsyncClient):
    """A platform API client: the platforms authenticate by token, so no cookie is kept or
    sent (httpx would otherwise parse every answer for cookies and merge a jar into every
    request). One per bridge, kept for its life: its connections are reused."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._no_cookies = _NoCookies()

    @property
    def cookies(self) -> httpx.Cookies:
        return self._no_cookies

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        raise TypeError("platform API clients keep no cookies")


class _OneWrite(httpcore.AsyncNetworkStream):
    """A connection whose writes wait until it is next read, closed or switched to TLS, then go
    out together: a request's head and body in one socket write (httpcore writes each apart)
    instead of two. A large body goes out as it comes (past ``FLUSH_AT`` bytes)."""

    FLUSH_AT = 64 * 1024

    def __init__(self, stream: httpcore.AsyncNetworkStream) -> None:
        self._stream = stream
        self._pending: list[bytes] = []
        self._size = 0
        self._timeout: float | None = None

    async def _flush(self) -> None:
        data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        self._pending = []
        self._size = 0
        await self._stream.write(data, timeout=self._timeout)  # the write timeout, as for each write

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        self._pending.append(buffer)
        self._size += len(buffer)
        self._timeout = timeout
        if self._size >= self.FLUSH_AT:
            await self._flush()

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        if self._pending:
            try:
                await self._flush()
            except httpcore.WriteError:
                # As httpcore does when writing a request fails: the answer, or the error reading
                # it, tells what happened (a server may answer and close before reading it all).
                pass
        return await self._stream.read(max_bytes, timeout=timeout)

    async def aclose(self) -> None:
        self._pending = []  # a connection closed mid-request: nothing of it is sent
        await self._stream.aclose()

    async def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                        timeout: float | None = None) -> httpcore.AsyncNetworkStream:
        if self._pending:
            await self._flush()
        return _OneWrite(await self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _AsyncioStream(httpcore.AsyncNetworkStream):
    """A connection on asyncio's own streams, with httpcore's errors and timeouts (httpcore's
    default goes through AnyIO: a cancel scope, a lock and a checkpoint around every read and
    write, a good part of a platform request's CPU)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            async with asyncio.timeout(timeout):
                return await self._reader.read(max_bytes)
        except TimeoutError as exc:
            raise httpcore.ReadTimeout(str(exc)) from exc
        except OSError as exc:
            raise httpcore.ReadError(str(exc)) from exc

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        try:
            async with asyncio.timeout(timeout):
                self._writer.write(buffer)
                await self._writer.drain()
        except TimeoutError as exc:
            raise httpcore.WriteTimeout(str(exc)) from exc
        except (OSError, RuntimeError) as exc:  # RuntimeError: the transport was closed
            raise httpcore.WriteError(str(exc)) from exc

    async def aclose(self) -> None:
        self._writer.close()
        with contextlib.suppress(OSError, TimeoutError, ssl.SSLError):
            async with asyncio.timeout(1.0):  # no waiting on a peer that never acknowledges the close
                await self._writer.wait_closed()

    async def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                        timeout: float | None = None) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                await self._writer.start_tls(ssl_context, server_hostname=server_hostname)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(str(exc)) from exc
        except (OSError, ssl.SSLError) as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        return self

    def get_extra_info(self, info: str) -> Any:
        transport = self._writer.transport
        if info == "is_readable":
            # Idle and readable: the server closed it (as httpcore tells it, by polling the socket).
            if self._reader.at_eof() or transport.is_closing():
                return True
            sock = transport.get_extra_info("socket")
            if sock is None:
                return True
            poller = select.poll()
            poller.register(sock.fileno(), select.POLLIN)
            return bool(poller.poll(0))
        if info == "client_addr":
            return transport.get_extra_info("sockname")
        if info == "server_addr":
            return transport.get_extra_info("peername")
        if info in ("ssl_object", "socket"):
            return transport.get_extra_info(info)
        return None


class _OneWriteBackend(httpcore.AsyncNetworkBackend):
    """Connections on asyncio's streams (``_AsyncioStream``), each request sent in one write
    (``_OneWrite``)."""

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None, socket_options: Any = None) -> _OneWrite:
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    host, port, local_addr=(local_address, 0) if local_address else None)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(str(exc)) from exc
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        sock = writer.transport.get_extra_info("socket")
        for option in socket_options or ():
            sock.setsockopt(*option)
        return _OneWrite(_AsyncioStream(reader, writer))

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Any = None) -> _OneWrite:
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_unix_connection(path)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(str(exc)) from exc
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        return _OneWrite(_AsyncioStream(reader, writer))

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class PlatformTransport(httpx.AsyncHTTPTransport):
    """httpx's default transport (the same TLS checks, limits, keep-alive, timeouts and errors;
    proxies from the environment still go through the client's own mounts) on asyncio's streams
    instead of AnyIO's, each request sent in one write (``_OneWrite``)."""

    def __init__(self) -> None:
        # Not the base's __init__: the pool is all it makes (httpx is pinned), and its TLS context would be
        # loaded twice.
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)  # httpx's defaults
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(), max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections, keepalive_expiry=limits.keepalive_expiry,
            network_backend=_OneWriteBackend())
