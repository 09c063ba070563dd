"""Downloading a file an operator shared on a platform: only from the hosts that platform
serves files from, never following a redirect, and never more than a limit."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

import httpx

from pocketping.errors import DeliveryError


def check_host(url: str, platform: str, allowed: Iterable[str], suffixes: tuple[str, ...] = ()) -> None:
    """Refuse a URL outside the platform's hosts (a credential sent with it would leak; an
    internal address would be reached on a message's word)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("https", "http") or not (host in set(allowed) or (suffixes and host.endswith(suffixes))):
        raise DeliveryError(f"refusing to fetch a {platform} file from {host or url!r}", permanent=True)


async def read_limited(client: httpx.AsyncClient, url: str, limit: int, *, platform: str,
                       headers: dict[str, str] | None = None) -> bytes:
    """The body at ``url``, or ``DeliveryError`` past ``limit`` bytes (read as it streams)."""
    try:
        async with client.stream("GET", url, headers=headers, follow_redirects=False) as got:
            if got.status_code != 200:
                raise DeliveryError(f"{platform} answered HTTP {got.status_code} to a file download")
            data = bytearray()
            async for chunk in got.aiter_bytes():
                data += chunk
                if len(data) > limit:
                    raise DeliveryError(f"the file is larger than {limit} bytes", permanent=True)
            return bytes(data)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"cannot download the file from {platform} ({type(exc).__name__})") from exc
