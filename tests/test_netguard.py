"""The shared guard for user-given URLs (webhooks, knowledge-base pages)."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Route

from pocketping import netguard
from pocketping_testkit.apps import AsgiThread


@pytest.mark.parametrize("address", ["169.254.169.254", "169.254.1.1", "fe80::1", "::ffff:169.254.169.254",
                                     "fd00:ec2::254", "100.100.100.200", "0.0.0.0", "224.0.0.1", "255.255.255.255"])
def test_link_local_metadata_and_reserved_are_always_refused(address):
    assert netguard.address_refusal(address, allow_private=True)
    assert netguard.address_refusal(address, allow_private=False)


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "192.168.0.10", "172.16.5.4", "::1", "fd12::1",
                                     "100.64.0.1"])
def test_private_and_loopback_follow_the_setting(address):
    assert netguard.address_refusal(address, allow_private=True) is None
    assert netguard.address_refusal(address, allow_private=False)


def test_public_addresses_are_allowed():
    assert netguard.address_refusal("93.184.216.34", allow_private=False) is None
    assert netguard.address_refusal("2606:4700::1111", allow_private=False) is None


@pytest.mark.parametrize("url", ["ftp://example.com/", "http:///nohost", "http://user:pw@example.com/",
                                 "http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/",
                                 "http://metadata.google.internal/computeMetadata/v1/", "javascript:alert(1)",
                                 "http://exa mple.com/", "http://example.com:99999/"])
def test_bad_urls_are_refused_when_saved(url):
    with pytest.raises(netguard.UnsafeURL):
        netguard.check_url(url, allow_private=True)


async def test_names_are_checked_when_resolved():
    with pytest.raises(netguard.UnsafeURL):
        await netguard.resolve("http://localhost:8080/hook", allow_private=False)
    target = await netguard.resolve("http://localhost:8080/hook", allow_private=True)
    assert target.address in ("127.0.0.1", "::1") and target.host == "localhost" and target.port == 8080


async def test_safe_request_connects_to_the_checked_address_and_does_not_follow_redirects():
    async def echo(request: Request) -> JSONResponse:
        return JSONResponse({"host": request.headers["host"], "body": (await request.body()).decode(),
                             "path": request.url.path, "query": request.url.query})

    async def redirect(_request: Request) -> RedirectResponse:
        return RedirectResponse("http://169.254.169.254/latest/meta-data/", status_code=302)

    app = AsgiThread(Starlette(routes=[Route("/echo", echo, methods=["POST"]), Route("/redirect", redirect)])).start()
    try:
        async with netguard.new_client() as client:
            answer = await netguard.safe_request(client, "POST", f"http://localhost:{app.port}/echo?a=1",
                                                 content=b"hi", allow_private=True)
            assert answer.status_code == 200
            assert answer.headers["content-type"] == "application/json"
            body = __import__("json").loads(answer.text)
            assert body == {"host": f"localhost:{app.port}", "body": "hi", "path": "/echo", "query": "a=1"}
            moved = await netguard.safe_request(client, "GET", f"http://127.0.0.1:{app.port}/redirect",
                                                allow_private=True)
            assert moved.status_code == 302  # seen, not followed
            with pytest.raises(netguard.ResponseTooLarge):
                await netguard.safe_request(client, "POST", f"http://127.0.0.1:{app.port}/echo", content=b"x" * 500,
                                            allow_private=True, max_body_bytes=100)
            with pytest.raises(netguard.UnsafeURL):
                await netguard.safe_request(client, "POST", f"http://127.0.0.1:{app.port}/echo",
                                            allow_private=False)
    finally:
        app.stop()


# F5: IPv6 forms that carry an IPv4 address are judged by that address; site-local is private.
EMBEDDED = [
    # (address, refused even with private URLs allowed, refused with them off)
    ("64:ff9b::a9fe:a9fe", True, True),        # NAT64 of 169.254.169.254
    ("64:ff9b:1::a9fe:a9fe", True, True),      # local-use NAT64 prefix
    ("2002:a9fe:a9fe::1", True, True),         # 6to4 of 169.254.169.254
    ("2001:0:4136:e378:8000:63bf:5601:5601", True, True),  # Teredo, client 169.254.169.254 (obfuscated)
    ("::ffff:169.254.169.254", True, True),    # IPv4-mapped
    ("::169.254.169.254", True, True),         # IPv4-compatible
    ("::127.0.0.1", False, True),              # IPv4-compatible loopback
    ("64:ff9b::7f00:1", False, True),          # NAT64 of 127.0.0.1
    ("2002:7f00:1::1", False, True),           # 6to4 of 127.0.0.1
    ("2002:a00:1::1", False, True),            # 6to4 of 10.0.0.1
    ("::ffff:10.0.0.7", False, True),
    ("fec0::1", False, True),                  # site-local
    ("64:ff9b::5db8:d822", False, False),      # NAT64 of a public address
    ("2002:5db8:d822::1", False, False),       # 6to4 of a public address
]


@pytest.mark.parametrize(("address", "always", "strict"), EMBEDDED)
def test_ipv6_forms_that_embed_ipv4_are_judged_by_the_ipv4_inside(address, always, strict):
    assert bool(netguard.address_refusal(address, allow_private=True)) is always
    assert bool(netguard.address_refusal(address, allow_private=False)) is strict


def test_the_embedded_ipv4_is_found_in_every_form():
    import ipaddress

    found = {a: [str(v4) for v4 in netguard.embedded_ipv4(ipaddress.ip_address(a))] for a, *_ in EMBEDDED[:6]}
    assert all("169.254.169.254" in v4s for v4s in found.values()), found
    assert netguard.embedded_ipv4(ipaddress.ip_address("2606:4700::1111")) == []
    assert netguard.embedded_ipv4(ipaddress.ip_address("::1")) == []


@pytest.mark.parametrize("url", ["http://[64:ff9b::a9fe:a9fe]/latest/meta-data/", "http://[2002:a9fe:a9fe::1]/",
                                 "http://[::127.0.0.1]/", "http://[fec0::1]/"])
def test_embedded_forms_are_refused_when_saved_with_private_urls_off(url):
    with pytest.raises(netguard.UnsafeURL):
        netguard.check_url(url, allow_private=False)
