"""Outgoing requests to URLs that users give us (webhook endpoints, knowledge-base pages).

A self-hosted server usually talks to a backend on its own network, so for webhooks and AI
base URLs private and loopback addresses are allowed unless ``POCKETPING_ALLOW_PRIVATE_URLS=false``.
Knowledge-base pages, whose text is read back, never reach them unless the operator lists the
host or its network in ``POCKETPING_ALLOWED_PRIVATE_HOSTS`` (``PrivateHosts``). Link-local
addresses (cloud metadata endpoints such as 169.254.169.254), unspecified, multicast and reserved
addresses are always refused. IPv6 forms that carry an IPv4 address (mapped, compatible, NAT64,
6to4, Teredo) are judged by the IPv4 address inside.

Checking a URL when it is saved is not enough: DNS can change between then and the
request. ``safe_request`` therefore resolves the host itself, checks every address, and
connects to the checked address (TLS still verifies the certificate for the host name);
redirects are never followed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit, urlunsplit

from pocketping.errors import InvalidInput

if TYPE_CHECKING:  # imported by the first request: a server that makes none never loads it
    import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata services that do not live in link-local space.
_METADATA_HOSTS = frozenset({"metadata", "metadata.google.internal", "metadata.goog", "instance-data",
                             "instance-data.ec2.internal"})
_ALWAYS_REFUSED = tuple(ipaddress.ip_network(n) for n in (
    "169.254.0.0/16",       # IPv4 link-local, including 169.254.169.254 (AWS, GCP, Azure metadata)
    "fe80::/10",            # IPv6 link-local
    "fd00:ec2::254/128",    # AWS metadata over IPv6
    "100.100.100.200/32",   # Alibaba Cloud metadata
    "0.0.0.0/8",            # "this network": connects to the local host on Linux
    "::/128",
    "224.0.0.0/4",          # multicast
    "ff00::/8",
    "240.0.0.0/4",          # reserved, broadcast
))


class UnsafeURL(InvalidInput):
    """The URL is malformed or points where this server must not connect."""

    code = "unsafe_url"


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (``address``) and what to call it (``host``)."""

    url: str
    scheme: str
    host: str
    port: int
    address: str


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_NAT64 = tuple(ipaddress.ip_network(n) for n in ("64:ff9b::/96", "64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
# Not global, whatever Python's tables say (site-local is deprecated but still routed by some).
_PRIVATE_ANYWAY = tuple(ipaddress.ip_network(n) for n in ("fec0::/10",))


def embedded_ipv4(ip: IPAddress) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address stands for (mapped, compatible, NAT64, 6to4, Teredo
    server and client); empty for a plain IPv6 or an IPv4 address."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return []
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if ip.sixtofour is not None:
        return [ip.sixtofour]
    if ip.teredo is not None:
        return list(ip.teredo)
    packed = ip.packed
    if any(ip in net for net in _NAT64) or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
        return [ipaddress.IPv4Address(packed[-4:])]
    return []


@dataclass(frozen=True)
class PrivateHosts:
    """Private or loopback destinations the operator allows by name or network
    (``POCKETPING_ALLOWED_PRIVATE_HOSTS``: host names or CIDRs, comma-separated)."""

    names: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, text: str) -> PrivateHosts:
        names: set[str] = set()
        networks: list[IPNetwork] = []
        for item in (part.strip().lower().rstrip(".") for part in text.split(",")):
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item.strip("[]"), strict=False))
            except ValueError:
                names.add(item)
        return cls(frozenset(names), tuple(networks))

    def allows(self, host: str, ip: IPAddress) -> bool:
        return host in self.names or any(ip in net for net in self.networks if net.version == ip.version)


NO_PRIVATE_HOSTS = PrivateHosts()


def address_refusal(address: str | IPAddress, *, allow_private: bool, allowed: PrivateHosts = NO_PRIVATE_HOSTS,
                    host: str = "") -> str | None:
    """Why this IP address may not be reached, or None when it may. An IPv6 address carrying an
    IPv4 address is refused when either is; ``allowed`` (by ``host`` or network) lets private
    and loopback addresses through when ``allow_private`` does not."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    for inner in embedded_ipv4(ip):
        reason = address_refusal(inner, allow_private=allow_private, allowed=allowed, host=host)
        if reason:
            return f"{ip} carries {reason}"
    if any(ip in net for net in _ALWAYS_REFUSED if net.version == ip.version):
        return f"{ip} is a link-local, metadata or reserved address"
    if ip.is_global and not any(ip in net for net in _PRIVATE_ANYWAY if net.version == ip.version):
        return None
    if allow_private or allowed.allows(host, ip):
        return None
    return (f"{ip} is a private or loopback address (see POCKETPING_ALLOW_PRIVATE_URLS and "
            "POCKETPING_ALLOWED_PRIVATE_HOSTS)")


def check_url(url: str, *, allow_private: bool, allowed: PrivateHosts = NO_PRIVATE_HOSTS) -> str:
    """Check a URL's shape and, when its host is a literal address, the address.

    Returns the URL unchanged. Host names are checked again at request time by
    ``resolve``; call this when the URL is saved, to refuse what is plainly wrong early.
    """
    _split(url, allow_private=allow_private, allowed=allowed)
    return url


def _split(url: str, *, allow_private: bool, allowed: PrivateHosts = NO_PRIVATE_HOSTS
           ) -> tuple[str, str, int, str, str]:
    if not isinstance(url, str) or len(url) > 2000 or any(c.isspace() or not c.isprintable() for c in url):
        raise UnsafeURL("the URL must be an http:// or https:// URL of at most 2000 characters, without spaces "
                        "or control characters")
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError as exc:  # e.g. "http://[::1" (an unclosed IPv6 literal)
        raise UnsafeURL(f"{url!r} is not a valid URL: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not hostname:
        raise UnsafeURL(f"{url!r} is not an http:// or https:// URL with a host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeURL("put credentials in the URL's path or query, not before the host (user:pass@)")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeURL(f"{url!r} has an invalid port") from exc
    host = hostname.lower().rstrip(".")
    if host in _METADATA_HOSTS:
        raise UnsafeURL(f"{host} is a cloud metadata host")
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        reason = address_refusal(literal, allow_private=allow_private, allowed=allowed, host=host)
        if reason:
            raise UnsafeURL(f"refusing {url!r}: {reason}")
    path = urlunsplit(("", "", parts.path or "/", parts.query, ""))
    return scheme, host, port, path, parts.netloc.rsplit("@", 1)[-1]


async def resolve(url: str, *, allow_private: bool, allowed: PrivateHosts = NO_PRIVATE_HOSTS) -> Target:
    """Resolve the URL's host and check every address it has; the first one is used.

    Refusing when *any* address is forbidden (rather than picking an allowed one) keeps a
    host that resolves to both a public and a metadata address from being a way in.
    """
    scheme, host, port, _path, _netloc = _split(url, allow_private=allow_private, allowed=allowed)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeURL(f"cannot resolve {host}: {exc}", code="unresolvable_host") from exc
    addresses: list[str] = []
    for info in infos:
        address = str(info[4][0]).split("%", 1)[0]
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise UnsafeURL(f"{host} has no address", code="unresolvable_host")
    for address in addresses:
        reason = address_refusal(address, allow_private=allow_private, allowed=allowed, host=host)
        if reason:
            raise UnsafeURL(f"refusing {url!r}: {host} resolves to {reason}")
    return Target(url=url, scheme=scheme, host=host, port=port, address=addresses[0])


class ResponseTooLarge(InvalidInput):
    code = "response_too_large"


@dataclass(frozen=True)
class SafeResponse:
    status_code: int
    headers: httpx.Headers
    content: bytes
    url: str

    @property
    def text(self) -> str:
        charset = "utf-8"
        for part in self.headers.get("content-type", "").split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset" and value:
                charset = value.strip('"')
        try:
            return self.content.decode(charset, errors="replace")
        except LookupError:
            return self.content.decode("utf-8", errors="replace")


async def safe_request(client: httpx.AsyncClient, method: str, url: str, *, allow_private: bool,
                       content: bytes | None = None, headers: Mapping[str, str] | None = None,
                       timeout: float = 10.0, max_body_bytes: int = 1 << 20,
                       total_timeout: float | None = None, allowed: PrivateHosts = NO_PRIVATE_HOSTS) -> SafeResponse:
    """Send one request to a user-given URL, connecting only to an address that passed the
    checks (the one just resolved: a DNS change between check and connect cannot move it).

    Redirects are not followed (the caller sees the 3xx and its ``Location`` header). The
    (decoded) body is read up to ``max_body_bytes``; more raises ``ResponseTooLarge``; 0 skips it.
    Raises ``UnsafeURL`` for a refused URL and ``httpx.HTTPError`` for network failures
    (``httpx.TimeoutException`` when ``timeout`` seconds pass without progress, or when the
    whole exchange takes longer than ``total_timeout``, by default three times ``timeout``).
    ``client`` should come from ``new_client`` (no redirects, no proxies from the environment).
    """
    import httpx

    target = await resolve(url, allow_private=allow_private, allowed=allowed)
    _scheme, _host, _port, path, netloc = _split(url, allow_private=allow_private, allowed=allowed)
    ip_host = f"[{target.address}]" if ":" in target.address else target.address
    pinned = f"{target.scheme}://{ip_host}:{target.port}{path}"
    request_headers = {**(headers or {}), "Host": netloc}
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    request = client.build_request(method, pinned, content=content, headers=request_headers,
                                   timeout=httpx.Timeout(timeout), extensions=extensions)
    # ``timeout`` bounds each step (connect, each read); this bounds the whole exchange, so an
    # endpoint that drips bytes slowly cannot hold a worker for long.
    try:
        async with asyncio.timeout(total_timeout if total_timeout is not None else 3 * timeout):
            response = await client.send(request, follow_redirects=False, stream=True)
            try:
                body = bytearray()
                chunks = response.aiter_bytes() if max_body_bytes > 0 else _nothing()
                async for chunk in chunks:
                    body += chunk
                    if len(body) > max_body_bytes:
                        raise ResponseTooLarge(f"the answer from {target.host} is larger than {max_body_bytes} bytes")
            finally:
                await response.aclose()
    except TimeoutError as exc:
        raise httpx.TimeoutException(f"no complete answer from {target.host} in time", request=request) from exc
    return SafeResponse(status_code=response.status_code, headers=response.headers, content=bytes(body), url=url)


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield b""


def new_client(**kwargs: object) -> httpx.AsyncClient:
    """An HTTP client fit for ``safe_request``: no redirects, no environment proxies."""
    import httpx

    return httpx.AsyncClient(follow_redirects=False, trust_env=False, **kwargs)  # type: ignore[arg-type]


REDIRECTS = (301, 302, 303, 307, 308)


async def follow(client: httpx.AsyncClient, url: str, *, allow_private: bool, headers: Mapping[str, str] | None = None,
                 timeout: float = 10.0, max_body_bytes: int = 1 << 20, max_redirects: int = 5,
                 allowed: PrivateHosts = NO_PRIVATE_HOSTS) -> SafeResponse:
    """GET ``url``, following redirects by hand so that every hop is resolved and checked
    like the first (knowledge-base pages)."""
    for _ in range(max_redirects + 1):
        response = await safe_request(client, "GET", url, allow_private=allow_private, headers=headers,
                                      timeout=timeout, max_body_bytes=max_body_bytes, allowed=allowed)
        location = response.headers.get("location")
        if response.status_code not in REDIRECTS or not location:
            return response
        url = urljoin(url, location)
    raise UnsafeURL(f"more than {max_redirects} redirects", code="too_many_redirects")


__all__ = ["NO_PRIVATE_HOSTS", "PrivateHosts", "ResponseTooLarge", "SafeResponse", "Target", "UnsafeURL",
           "address_refusal", "check_url", "embedded_ipv4", "follow", "new_client", "resolve", "safe_request"]
