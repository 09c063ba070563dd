"""Knowledge-base URLs cannot reach cloud metadata, nor the private network and loopback unless
the operator lists the host (POCKETPING_ALLOWED_PRIVATE_HOSTS), not directly and not through a
redirect. Nothing here connects anywhere but 127.0.0.1:
refused addresses are refused before any connection is made."""

from __future__ import annotations

import httpx
import pytest

from pocketping import netguard

from .ai_helpers import create_project_on

METADATA = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"


@pytest.fixture
def strict(make_server):
    """A server with POCKETPING_ALLOW_PRIVATE_URLS=false."""
    return make_server(allow_private_urls=False)


async def add(srv, project, url: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=srv.base_url, timeout=30) as client:
        return await client.post("/api/v1/kb", headers=project.auth, json={"url": url})


async def test_link_local_is_always_refused_also_after_a_redirect(server, project, api, site):
    for url in (METADATA, "http://[fe80::1]/", "http://[::ffff:169.254.169.254]/latest",
                "http://metadata.google.internal/computeMetadata/v1/", "http://0.0.0.0:80/"):
        res = await api.post("/api/v1/kb", headers=project.auth, json={"url": url})
        assert res.status_code == 422, url
        assert res.json()["error"]["code"] == "unsafe_url", url

    # The first hop is fine (private addresses are allowed on this server), the redirect is not.
    hop = site.redirect("/docs", METADATA)
    res = await api.post("/api/v1/kb", headers=project.auth, json={"url": hop})
    assert res.status_code == 422
    assert res.json()["error"]["code"] == "unsafe_url"
    assert "169.254.169.254" in res.json()["error"]["message"]
    assert site.hits == ["/docs"]
    # Through a chain of redirects, and with a relative first step.
    site.redirect("/a", "/b", status=301)
    site.redirect("/b", "http://[fe80::a9fe:a9fe]/", status=307)
    res = await api.post("/api/v1/kb", headers=project.auth, json={"url": site.url("/a")})
    assert res.json()["error"]["code"] == "unsafe_url"
    assert (await api.get("/api/v1/kb", headers=project.auth)).json()["sources"] == []


async def test_private_and_loopback_are_refused_when_not_allowed(strict, site):
    project = create_project_on(strict)
    page = site.page("/faq", "<p>hello</p>")
    port = page.split(":")[2].split("/")[0]
    for url in (page, f"http://localhost:{port}/faq", "http://10.1.2.3/faq", "http://192.168.1.10/",
                "http://[::1]:80/", "http://100.64.0.1/"):
        res = await add(strict, project, url)
        assert res.status_code == 422, url
        assert res.json()["error"]["code"] == "unsafe_url", url
    assert site.hits == []


async def test_the_address_rules_cover_every_form():
    # Every redirect hop goes through the same resolve-and-check as the first (the link-local
    # redirect test above proves it); no first hop can be public inside this sandbox, so the
    # private rule is checked here on its own.
    with pytest.raises(netguard.UnsafeURL):
        await netguard.resolve("http://10.0.0.7/internal", allow_private=False)
    assert netguard.address_refusal("10.0.0.7", allow_private=True) is None
    assert netguard.address_refusal("169.254.169.254", allow_private=True) is not None
    assert netguard.address_refusal("::ffff:10.0.0.7", allow_private=False) is not None
    assert netguard.address_refusal("93.184.216.34", allow_private=False) is None


async def test_fetches_are_bounded_in_size_and_time(make_server, site):
    srv = make_server(kb_max_bytes=2000, kb_fetch_timeout_seconds=0.5, allowed_private_hosts="127.0.0.1")
    project = create_project_on(srv)
    big = site.page("/big", "<p>" + "x" * 5000 + "</p>")
    res = await add(srv, project, big)
    assert res.status_code == 422 and res.json()["error"]["code"] == "kb_too_large"
    site.page("/slow", "<p>slow</p>")
    site.pages["/slow"].trickle = True
    res = await add(srv, project, site.url("/slow"))
    assert res.status_code == 422 and res.json()["error"]["code"] == "kb_fetch_failed"


async def test_by_default_the_knowledge_base_cannot_read_the_servers_own_network(make_server, site):
    """F4: with the default settings a secret key could make the server fetch a loopback page
    and read its text back through search. Refused now, before any connection."""
    srv = make_server()  # POCKETPING_ALLOW_PRIVATE_URLS is true by default: webhooks may go inside
    project = create_project_on(srv)
    page = site.page("/admin", "<p>internal secret 4711</p>")
    port = page.split(":")[2].split("/")[0]
    for url in (page, f"http://localhost:{port}/admin", f"http://[::1]:{port}/admin",
                f"http://2130706433:{port}/admin", f"http://[::ffff:127.0.0.1]:{port}/admin",
                f"http://[::127.0.0.1]:{port}/admin", "http://10.1.2.3/", "http://[fec0::1]/"):
        res = await add(srv, project, url)
        assert res.status_code == 422, url
        assert res.json()["error"]["code"] == "unsafe_url", url
        assert "POCKETPING_ALLOWED_PRIVATE_HOSTS" in res.json()["error"]["message"], url
    assert site.hits == []
    async with httpx.AsyncClient(base_url=srv.base_url) as client:
        found = await client.get("/api/v1/kb/search", headers=project.auth, params={"q": "internal secret"})
    assert "4711" not in found.text


async def test_a_listed_host_is_reached_but_its_redirects_to_loopback_are_not(make_server, site):
    srv = make_server(allowed_private_hosts="localhost")  # by name: its address alone is not enough
    project = create_project_on(srv)
    site.page("/secret", "<p>internal secret 4711</p>")
    for n, target in enumerate(("/secret", "http://127.0.0.1:{port}/secret", "http://[::1]:{port}/secret",
                                "http://2130706433:{port}/secret")):
        hop = site.redirect(f"/docs{n}", target.format(port=site.port))
        res = await add(srv, project, hop.replace("127.0.0.1", "localhost"))
        if n == 0:  # same host, relative redirect: still the listed host
            assert res.status_code == 201, res.text
        else:
            assert res.status_code == 422 and res.json()["error"]["code"] == "unsafe_url", target
    assert site.hits.count("/secret") == 1


async def test_a_listed_network_is_reached(make_server, site):
    srv = make_server(allowed_private_hosts="10.0.0.0/8, 127.0.0.0/8")
    project = create_project_on(srv)
    res = await add(srv, project, site.page("/intranet", "<title>Intranet docs</title><p>Hello</p>"))
    assert res.status_code == 201 and res.json()["title"] == "Intranet docs"


def test_a_bad_network_in_the_setting_is_refused_at_start():
    from pydantic import ValidationError

    from pocketping.config import Settings

    with pytest.raises(ValidationError, match="neither a host name nor an address"):
        Settings(allowed_private_hosts="docs.internal, 10.0.0.0/33")
    assert Settings(allowed_private_hosts="docs.internal, 10.0.0.0/8, fd00::/8").allowed_private_hosts
