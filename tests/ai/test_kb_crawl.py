"""`kb add --crawl`: a local docs site with robots.txt, a sitemap index, links, a redirect to a
refused loopback address and a page that changes; `kb refresh` re-fetches with conditional
requests. On SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import httpx
import orjson
from typer.testing import CliRunner

from pocketping.wiring import cli_app
from pocketping_testkit.fakes.site import Page
from pocketping_testkit.waiting import eventually

from .ai_helpers import create_project_on

cli_app = cli_app()


def build_site(site) -> None:
    origin = site.url("")
    site.etags = True
    site.page("/robots.txt", f"User-agent: *\nDisallow: /docs/private\nSitemap: {origin}/sitemap.xml\n",
              "text/plain")
    site.page("/sitemap.xml", f"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <sitemap><loc>{origin}/sitemaps/docs.xml</loc></sitemap>
</sitemapindex>""", "application/xml")
    site.page("/sitemaps/docs.xml", f"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <url><loc>{origin}/docs/</loc></url>
  <url><loc>{origin}/docs/warranty</loc></url>
  <url><loc>{origin}/docs/private/keys</loc></url>
</urlset>""", "application/xml")
    site.page("/docs/", """<html><head><title>Acme docs</title></head><body>
<nav><a href="/docs/">Home</a> Navigation menu words</nav>
<div class="cookie-banner"><p>We use cookies for everything</p></div>
<main><h1>Acme documentation</h1><p>Start here.</p>
<a href="install">Install</a> <a href="/docs/billing#plans">Billing</a> <a href="/docs/private/admin">Admin</a>
<a href="/blog/">Blog</a> <a href="/docs/moved">Moved</a> <a href="/docs/logo.png">Logo</a></main>
<footer>Copyright footer words</footer></body></html>""")
    site.page("/docs/install", """<html><head><title>Installing</title></head><body><main>
<h1>Installing the widget</h1><h2>Requirements</h2><p>The widget needs a flux capacitor rated 1.21 gigawatts.</p>
<a href="/docs/install/proxy">Behind a proxy</a></main></body></html>""")
    site.page("/docs/install/proxy", "<html><title>Proxy</title><main><h1>Proxy</h1>"
                                     "<p>Set the tachyon relay variable.</p></main></html>")
    site.page("/docs/billing", "<html><title>Billing</title><main><h1>Billing</h1>"
                               "<p>Invoices are sent on the first Monday.</p></main></html>")
    site.page("/docs/warranty", "<html><title>Warranty</title><main><h1>Warranty</h1>"
                                "<p>Three years of warranty on every sprocket.</p></main></html>")
    site.page("/docs/private/admin", "<html><main><p>Root password hunter2</p></main></html>")
    site.page("/docs/private/keys", "<html><main><p>Secret keys</p></main></html>")
    site.page("/blog/", "<html><main><p>Blog about zeppelins</p></main></html>")
    site.redirect("/docs/moved", f"http://127.0.0.2:{site.port}/docs/install")


async def test_crawl_indexes_the_allowed_pages_and_refresh_fetches_only_what_changed(server, project, site):
    build_site(site)
    runner = CliRunner()
    env = {"POCKETPING_DATABASE_URL": server.settings.database_url,
           "POCKETPING_ENCRYPTION_KEY": server.settings.encryption_key.get_secret_value(),
           "POCKETPING_ALLOWED_PRIVATE_HOSTS": "127.0.0.1", "POCKETPING_KB_CRAWL_DELAY_SECONDS": "0"}

    def cli(*args: str, as_json: bool = True) -> tuple[int, object]:
        result = runner.invoke(cli_app, [*args, "--json"] if as_json else list(args), env=env)
        if not as_json:
            return result.exit_code, result.stdout
        return result.exit_code, orjson.loads(result.stdout) if result.stdout.strip() else None

    code, added = await asyncio.to_thread(cli, "kb", "add", project.id, site.url("/docs/"), "--crawl")
    assert code == 0, added
    [crawled] = added
    assert crawled["kind"] == "site" and crawled["title"] == "Acme docs"
    assert crawled["pages"] == 5, crawled  # index, install, proxy (two links deep), billing, warranty (sitemap)
    assert crawled["status"] == "partial" and "127.0.0.2" in crawled["error"]  # the redirect was refused
    fetched = set(site.hits)
    assert fetched == {"/robots.txt", "/sitemap.xml", "/sitemaps/docs.xml", "/docs/", "/docs/install",
                       "/docs/install/proxy", "/docs/billing", "/docs/warranty", "/docs/moved"}, fetched
    assert len(site.hits) == len(fetched)  # each once

    code, hits = await asyncio.to_thread(cli, "kb", "search", project.id, "what does the tachyon relay need?")
    assert hits[0]["location"] == site.url("/docs/install/proxy") and hits[0]["title"] == "Proxy"
    code, hits = await asyncio.to_thread(cli, "kb", "search", project.id, "flux capacitor requirements")
    assert hits[0]["title"] == "Installing" and "Requirements" in hits[0]["heading"]
    for boilerplate in ("cookies", "navigation menu", "copyright footer", "hunter2 password", "zeppelins"):
        code, hits = await asyncio.to_thread(cli, "kb", "search", project.id, boilerplate)
        assert hits == [], (boilerplate, hits)

    code, listed = await asyncio.to_thread(cli, "kb", "list", project.id)
    assert [(s["kind"], s["pages"]) for s in listed] == [("site", 5)]
    assert listed[0]["fetchedAt"]
    code, text = await asyncio.to_thread(cli, "kb", "list", project.id, as_json=False)
    assert "5 pages" in text and "PARTIAL" in text and "last fetch" in text, text

    # The billing page changes; everything else answers 304 to the conditional request.
    site.page("/docs/billing", "<html><title>Billing</title><main><h1>Billing</h1>"
                               "<p>Invoices are sent on the last Friday.</p></main></html>")
    site.hits.clear()
    code, refreshed = await asyncio.to_thread(cli, "kb", "refresh", project.id)
    assert code == 0, refreshed
    assert refreshed[0]["pages"] == 5
    assert sorted(site.not_modified) == ["/docs/", "/docs/install", "/docs/install/proxy", "/docs/warranty"]
    assert "/docs/billing" in site.hits and "/docs/private/admin" not in site.hits
    code, hits = await asyncio.to_thread(cli, "kb", "search", project.id, "when are invoices sent?")
    assert "last Friday" in hits[0]["text"]

    # A page that is gone leaves the index at the next refresh; removing the site removes its pages.
    del site.pages["/docs/warranty"]
    code, refreshed = await asyncio.to_thread(cli, "kb", "refresh", project.id, site.url("/docs/"))
    assert refreshed[0]["pages"] == 4
    # robots.txt failing (5xx) means nothing may be fetched: nothing is, and the pages stay.
    site.pages["/robots.txt"] = Page(b"down for maintenance", status=503)
    site.hits.clear()
    code, refreshed = await asyncio.to_thread(cli, "kb", "refresh", project.id, site.url("/docs/"))
    assert site.hits == ["/robots.txt"]
    assert refreshed[0]["pages"] == 4 and refreshed[0]["status"] == "partial" and "503" in refreshed[0]["error"]
    code, _ = await asyncio.to_thread(cli, "kb", "remove", project.id, site.url("/docs/"))
    assert code == 0
    code, hits = await asyncio.to_thread(cli, "kb", "search", project.id, "flux capacitor")
    assert hits == []


async def test_crawl_options_bound_and_filter_the_crawl(server, project, site):
    build_site(site)
    site.etags, site.last_modified = False, True  # this site validates with Last-Modified only
    runner = CliRunner()
    env = {"POCKETPING_DATABASE_URL": server.settings.database_url,
           "POCKETPING_ENCRYPTION_KEY": server.settings.encryption_key.get_secret_value(),
           "POCKETPING_ALLOWED_PRIVATE_HOSTS": "127.0.0.1", "POCKETPING_KB_CRAWL_DELAY_SECONDS": "0"}

    def cli(*args: str) -> tuple[int, object]:
        result = runner.invoke(cli_app, [*args, "--json"], env=env)
        return result.exit_code, orjson.loads(result.stdout) if result.stdout.strip() else None

    code, added = await asyncio.to_thread(cli, "kb", "add", project.id, site.url("/docs/"), "--crawl", "--depth", "1",
                                          "--exclude", "*/billing", "--exclude", "warranty", "--max-pages", "3")
    assert code == 0, added
    assert added[0]["pages"] == 2  # the index and install: proxy is two deep, billing and warranty excluded
    assert "/docs/billing" not in site.hits and "/docs/warranty" not in site.hits
    assert "/docs/install/proxy" not in site.hits

    # --include widens the scope to another prefix of the same host.
    code, added = await asyncio.to_thread(cli, "kb", "add", project.id, site.url("/docs/install"), "--crawl",
                                          "--include", "/blog/", "--include", "/docs/install")
    assert code == 0, added
    code, hits = await asyncio.to_thread(cli, "kb", "search", project.id, "zeppelins")
    assert hits == []  # not linked from /docs/install, and not in the sitemap
    human = await asyncio.to_thread(runner.invoke, cli_app, ["kb", "refresh", project.id, site.url("/docs/install")],
                                    env=env)
    assert human.exit_code == 0, human.output
    assert "crawl: 2 fetched, 0 queued" in human.stderr, human.stderr  # install and proxy; the rest skipped
    assert sorted(site.not_modified) == ["/docs/install", "/docs/install/proxy"]  # If-Modified-Since: 304
    assert "2 pages" in human.stdout
    code, error = await asyncio.to_thread(cli, "kb", "add", project.id, site.url("/docs/"), "--crawl",
                                          "--max-pages", "0")
    assert code == 1 and error["error"]["code"] == "invalid_crawl"
    code, error = await asyncio.to_thread(cli, "kb", "add", project.id, "http://169.254.169.254/", "--crawl")
    assert code == 1 and error["error"]["code"] == "unsafe_url"


async def test_rest_crawl_waits_the_politeness_delay_on_the_servers_clock(ai_env_sqlite, site):
    """One request, then nothing until the (fake) clock has moved by the delay, then the next."""
    build_site(site)
    srv = ai_env_sqlite.server(kb_crawl_delay_seconds=7.25)  # a pause no other loop of the server takes
    clock = ai_env_sqlite.clock
    project = create_project_on(srv)
    async with httpx.AsyncClient(base_url=srv.base_url, timeout=30) as client:
        crawl = asyncio.create_task(client.post("/api/v1/kb", headers=project.auth,
                                                json={"url": site.url("/docs/"), "crawl": {"depth": 0}}))
        # robots.txt, sitemap.xml, sitemaps/docs.xml, then /docs/ and /docs/warranty (depth 0 follows no links)
        for n in range(1, 6):
            await eventually(lambda n=n: len(site.hits) >= n)
            assert len(site.hits) == n, site.hits  # the next request waits for the clock
            if n < 5:
                pause_ends = clock.now() + timedelta(seconds=7.25)
                await eventually(lambda end=pause_ends: end in clock.due())  # the crawler sleeps
                ai_env_sqlite.clock.advance(7.2)
                await asyncio.sleep(0)
                assert len(site.hits) == n
                ai_env_sqlite.clock.advance(0.05)
        res = await crawl
        assert res.status_code == 201, res.text
        took = datetime.fromisoformat(res.json()["fetchedAt"]) - datetime.fromisoformat(res.json()["createdAt"])
        assert took == timedelta(seconds=29)  # four pauses of 7.25 s on the server's clock
        assert res.json()["kind"] == "site" and res.json()["pages"] == 2 and res.json()["status"] == "ready"
        listed = (await client.get("/api/v1/kb", headers=project.auth)).json()["sources"]
        assert sorted(s["kind"] for s in listed) == ["site", "url", "url"]
        assert {s.get("siteId") for s in listed if s["kind"] == "url"} == {res.json()["id"]}
        bad = await client.post("/api/v1/kb", headers=project.auth, json={"url": site.url("/docs/"),
                                                                          "crawl": {"depth": 99}})
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_crawl"


async def test_a_site_with_a_daily_refresh_is_crawled_again_by_the_workers(ai_env_sqlite, site):
    build_site(site)
    srv = ai_env_sqlite.server(kb_crawl_delay_seconds=0)
    clock = ai_env_sqlite.clock
    project = create_project_on(srv)
    async with httpx.AsyncClient(base_url=srv.base_url, timeout=30) as client:
        res = await client.post("/api/v1/kb", headers=project.auth,
                                json={"url": site.url("/docs/"), "crawl": {"depth": 0, "refresh": "daily"}})
        assert res.status_code == 201, res.text
        off = await client.post("/api/v1/kb", headers=project.auth,
                                json={"url": site.url("/docs/install"), "crawl": {"depth": 0}})
        assert off.status_code == 201, off.text
    site.hits.clear()
    clock.advance(23 * 3600)  # the hourly round runs, but a day has not passed
    await eventually(lambda: clock.now() + timedelta(hours=1) in clock.due())
    assert site.not_modified == []
    clock.advance(2 * 3600)
    await eventually(lambda: "/docs/warranty" in site.not_modified)  # the daily site, with conditional requests
    assert sorted(site.not_modified) == ["/docs/", "/docs/warranty"]
    assert "/docs/install" not in site.hits  # the other site has no schedule
