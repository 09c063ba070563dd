"""The knowledge base: add, list, remove and refresh sources; search them."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections import deque
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx

from pocketping import ids, netguard
from pocketping.actions.kb_embed import embed_missing
from pocketping.actions.services import Services
from pocketping.actions.unit import unit_of_work
from pocketping.ai import crawl, documents, retrieval
from pocketping.ai.documents import Document
from pocketping.ai.text import chunk_text, index_terms
from pocketping.core.ai import KbHit, KbSource
from pocketping.core.rules import strip_bidi
from pocketping.errors import InvalidInput, NotFound, PocketPingError
from pocketping.store import kb as repo
from pocketping.store import projects as project_repo

log = logging.getLogger(__name__)

SOURCE_PREFIX = "kbs"
MAX_SOURCES = 2000
MAX_TEXT_CHARS = 3_000_000
# Part of a source's content hash: a new way of indexing (2: title and heading field terms)
# re-indexes unchanged content at its next refresh.
INDEX_VERSION = 2


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _location_hash(kind: str, location: str) -> str:
    return _hash(f"{'url' if kind == 'url' else 'doc'}:{location}")


async def _store(svc: Services, project_id: str, kind: str, location: str, doc: Document,
                 **extra: str | None) -> KbSource:
    """Index ``doc`` as the source at ``location`` (replacing what it held before); ``extra``:
    more columns (a crawled page's site and validators)."""
    text = doc.text[:MAX_TEXT_CHARS]
    digest = _hash(f"{INDEX_VERSION}\n{doc.title}\n{text}")
    chunks = chunk_text(text)
    rows = [(c.heading, c.text, index_terms(doc.title, c.heading, c.text)) for c in chunks]
    async with unit_of_work(svc) as tx:
        await project_repo.get_project(tx, project_id)
        existing = await repo.find_by_location(tx, project_id, _location_hash(kind, location))
        values = {"title": doc.title, "content_type": doc.content_type, "status": "ready", "error": None,
                  "size_bytes": doc.size_bytes, "fetched_at": tx.now, **extra}
        if existing is None:
            if len(await repo.list_sources(tx, project_id)) >= MAX_SOURCES:
                raise InvalidInput(f"a project's knowledge base holds at most {MAX_SOURCES} sources",
                                   code="kb_full")
            source_id = ids.new_id(SOURCE_PREFIX)
            await repo.insert_source(tx, id=source_id, project_id=project_id, kind=kind, location=location,
                                     location_hash=_location_hash(kind, location), chunk_count=0,
                                     content_hash=None, **values)
        else:
            source_id = existing.id
        if existing is None or await repo.content_hash(tx, source_id) != digest:
            await repo.clear_chunks(tx, source_id)
            await repo.insert_chunks(tx, project_id, source_id, rows)
            values |= {"chunk_count": len(rows), "content_hash": digest}
        await repo.update_source(tx, source_id, **values)
    await embed_missing(svc, project_id, source_id)
    async with svc.db.read() as tx:
        return await repo.get_source(tx, project_id, source_id)


async def add_url(svc: Services, project_id: str, url: str) -> KbSource:
    """Fetch a page (http/https, size and time limits, address rules on every redirect) and index it."""
    await _check_project(svc, project_id)
    # The page's text is read back (search, answers): a docs site is public, so private and
    # loopback addresses only when the operator lists them, whatever POCKETPING_ALLOW_PRIVATE_URLS says.
    doc = await documents.fetch_url(url, allow_private=False,
                                    allowed=netguard.PrivateHosts.parse(svc.settings.allowed_private_hosts),
                                    timeout=svc.settings.kb_fetch_timeout_seconds, max_bytes=svc.settings.kb_max_bytes)
    return await _store(svc, project_id, "url", url, doc)


Progress = Callable[[int, int, int], None]  # pages fetched, queued, skipped so far


async def add_site(svc: Services, project_id: str, url: str, options: crawl.CrawlOptions,
                   progress: Progress | None = None) -> KbSource:
    """Crawl a docs site from ``url`` and index its pages (see ``_crawl``)."""
    await _check_project(svc, project_id)
    allowed = netguard.PrivateHosts.parse(svc.settings.allowed_private_hosts)
    url = crawl.normalize(netguard.check_url(url, allow_private=False, allowed=allowed))
    async with unit_of_work(svc) as tx:
        existing = await repo.find_by_location(tx, project_id, _location_hash("site", url))
        if existing is None:
            source_id = ids.new_id(SOURCE_PREFIX)
            await repo.insert_source(tx, id=source_id, project_id=project_id, kind="site", location=url,
                                     location_hash=_location_hash("site", url), title=url[:300],
                                     content_type="text/html", status="crawling", error=None, chunk_count=0,
                                     size_bytes=0, content_hash=None, crawl=options.to_json())
        else:
            source_id = existing.id
            await repo.update_source(tx, source_id, crawl=options.to_json())
        source = await repo.get_source(tx, project_id, source_id)
    return await _crawl(svc, source, progress)


async def _crawl(svc: Services, site: KbSource, progress: Progress | None = None) -> KbSource:
    """Fetch the site's pages and index what changed.

    robots.txt first, then the sitemaps it names (or /sitemap.xml, sitemap indexes followed),
    then the start page and the links of each page up to the depth, breadth first, on the
    start URL's host and path prefix; pages seen before are asked for with their ETag and
    Last-Modified, and a 304 leaves them as they are. Every request goes through the SSRF
    guard, redirects included, ``POCKETPING_KB_CRAWL_DELAY_SECONDS`` apart (or robots.txt's
    Crawl-delay, up to 30 s). Pages that are gone, disallowed or out of scope now are removed;
    a page that fails keeps its previous content and is named in the site's error.
    """
    async with svc.db.read() as tx:
        options = crawl.CrawlOptions.from_json(await repo.crawl_options(tx, site.id))
        known = {p["location"]: p for p in await repo.pages(tx, site.id)}
    allowed = netguard.PrivateHosts.parse(svc.settings.allowed_private_hosts)
    scope = crawl.Scope.of(site.location, options)
    delay = svc.settings.kb_crawl_delay_seconds
    requests = 0
    errors: list[str] = []
    kept: set[str] = set()
    title = ""
    fetched = skipped = 0

    async def get(client: httpx.AsyncClient, url: str, headers: dict[str, str] | None = None
                  ) -> netguard.SafeResponse:
        nonlocal requests
        if requests:
            await svc.clock.sleep(delay)
        requests += 1
        return await documents.fetch_raw(client, url, allow_private=False, allowed=allowed, headers=headers,
                                         timeout=svc.settings.kb_fetch_timeout_seconds,
                                         max_bytes=svc.settings.kb_max_bytes)

    async with netguard.new_client() as client:
        try:
            answer = await get(client, scope.origin + "/robots.txt")
            rules = crawl.robots(answer.status_code, answer.text)
            if answer.status_code >= 500:
                errors.append(f"robots.txt answered HTTP {answer.status_code}: nothing may be fetched")
        except PocketPingError as exc:
            errors.append(f"robots.txt: {exc.message}: nothing may be fetched")
            rules = crawl.robots(None, "")
        if errors:  # robots.txt unreadable: fetch nothing, and keep what the site held (a passing outage)
            kept.update(known)
        delay = max(delay, min(float(rules.crawl_delay(crawl.USER_AGENT) or 0), 30.0))
        queue: deque[tuple[str, int]] = deque([(site.location, 0)])
        sitemaps = [u for u in (rules.site_maps() or [scope.origin + "/sitemap.xml"])
                    if u.startswith(scope.origin + "/")]
        done_maps: set[str] = set()
        while sitemaps and len(done_maps) < crawl.MAX_SITEMAPS:
            map_url = sitemaps.pop(0)
            if map_url in done_maps or not rules.can_fetch(crawl.USER_AGENT, map_url):
                continue
            done_maps.add(map_url)
            try:
                answer = await get(client, map_url)
            except PocketPingError as exc:
                errors.append(f"{map_url}: {exc.message}")
                continue
            if answer.status_code == 200:
                found, nested = crawl.sitemap(answer.content)
                queue.extend((crawl.normalize(u), 1) for u in found)
                sitemaps += [u for u in nested if u.startswith(scope.origin + "/")]
        queue.extend((u, min(1, options.depth)) for u in known)
        seen: set[str] = set()
        while queue and len(kept) < options.max_pages:
            url, depth = queue.popleft()
            if url in seen:
                continue
            seen.add(url)
            if progress is not None:
                progress(fetched, len(queue), skipped)
            if not scope.allows(url) or not rules.can_fetch(crawl.USER_AGENT, url):
                skipped += 1
                continue
            fetched += 1
            before = known.get(url)
            conditional = {}
            if before and before["etag"]:
                conditional["If-None-Match"] = before["etag"]
            if before and before["last_modified"]:
                conditional["If-Modified-Since"] = before["last_modified"]
            try:
                answer = await get(client, url, conditional)
            except PocketPingError as exc:
                errors.append(exc.message)
                if before:
                    kept.add(url)
                continue
            final = crawl.normalize(answer.url)
            if final != url and (final in seen or not scope.allows(final)
                                 or not rules.can_fetch(crawl.USER_AGENT, final)):
                continue
            seen.add(final)
            if answer.status_code == 304 and before:
                kept.add(url)
                async with unit_of_work(svc) as tx:
                    await repo.update_source(tx, before["id"], fetched_at=tx.now, status="ready", error=None)
                continue
            if answer.status_code in (404, 410):
                continue
            if answer.status_code != 200:
                errors.append(f"{final} answered HTTP {answer.status_code}")
                if final in known:
                    kept.add(final)
                continue
            media_type = answer.headers.get("content-type")
            try:
                doc = await documents.parse_async(answer.content, name=final, media_type=media_type)
            except PocketPingError as exc:
                if exc.code != "kb_unsupported_type":
                    errors.append(exc.message)
                continue
            if doc.content_type == "text/html" and depth < options.depth:
                queue.extend((link, depth + 1) for link in crawl.links(answer.text, final) if link not in seen)
            try:
                await _store(svc, site.project_id, "url", final, doc, parent_id=site.id,
                             etag=(answer.headers.get("etag") or "")[:300] or None,
                             last_modified=(answer.headers.get("last-modified") or "")[:100] or None)
            except PocketPingError as exc:
                errors.append(f"{final}: {exc.message}")
                continue
            kept.add(final)
            title = title or (doc.title if url == site.location else "")
        if progress is not None:
            progress(fetched, len(queue), skipped)
    async with unit_of_work(svc) as tx:
        for location, page in known.items():
            if location not in kept:
                await repo.delete_source(tx, page["id"])
        status = "ready" if not errors else ("partial" if kept else "error")
        summary = "; ".join(errors)[:2000] or None
        if not kept and not errors:
            status, summary = "error", "no page found (robots.txt, scope or --include/--exclude leave none)"
        await repo.update_source(tx, site.id, status=status, error=summary, fetched_at=tx.now,
                                 **({"title": title[:300]} if title else {}))
        return await repo.get_source(tx, site.project_id, site.id)


async def add_file(svc: Services, project_id: str, path: Path) -> KbSource:
    """Index a local file (read by whoever runs this: the CLI on its machine)."""
    await _check_project(svc, project_id)
    location = _absolute(str(path))
    data = await asyncio.to_thread(documents.read_file, Path(location), svc.settings.kb_max_bytes)
    doc = await documents.parse_async(data, name=Path(location).name)
    return await _store(svc, project_id, "file", location, doc)


def _absolute(path: str) -> str:
    return os.path.abspath(os.path.expanduser(path))


async def add_content(svc: Services, project_id: str, name: str, data: bytes,
                      media_type: str | None = None) -> KbSource:
    """Index an uploaded document; ``name`` (e.g. ``faq.md``) identifies it: the same name replaces it."""
    name = strip_bidi(name).strip()
    if not name or len(name) > 300 or "/" in name or "\\" in name:
        raise InvalidInput("the document's name is 1-300 characters, without slashes (e.g. faq.md)",
                           code="invalid_name")
    if len(data) > svc.settings.kb_max_bytes:
        raise InvalidInput(f"documents are limited to {svc.settings.kb_max_bytes} bytes (POCKETPING_KB_MAX_BYTES)",
                           code="kb_too_large")
    await _check_project(svc, project_id)
    doc = await documents.parse_async(data, name=name, media_type=media_type)
    return await _store(svc, project_id, "text", name, doc)


async def _check_project(svc: Services, project_id: str) -> None:
    async with svc.db.read() as tx:
        await project_repo.get_project(tx, project_id)


async def list_sources(svc: Services, project_id: str) -> list[KbSource]:
    async with svc.db.read() as tx:
        await project_repo.get_project(tx, project_id)
        return await repo.list_sources(tx, project_id)


async def find_source(svc: Services, project_id: str, ref: str) -> KbSource:
    """A source by id, URL, file path or uploaded name."""
    async with svc.db.read() as tx:
        await project_repo.get_project(tx, project_id)
        if ref.startswith(SOURCE_PREFIX + "_"):
            return await repo.get_source(tx, project_id, ref)
        candidates = [ref] if "://" in ref else [ref, _absolute(ref)]
        # A crawled site before its start page (both have the URL), then a page, then a file.
        for kind, location in [("site", ref), ("url", ref)] + [("doc", c) for c in candidates]:
            found = await repo.find_by_location(tx, project_id, _location_hash(kind, location))
            if found is not None:
                return found
    raise NotFound(f"no knowledge-base source {ref!r} in this project (see `pocketping kb list`)",
                   code="kb_source_not_found")


async def remove_source(svc: Services, project_id: str, ref: str) -> KbSource:
    source = await find_source(svc, project_id, ref)
    async with unit_of_work(svc) as tx:
        await repo.delete_source(tx, source.id)
    return source


async def refresh_source(svc: Services, source: KbSource, progress: Progress | None = None) -> KbSource:
    """Fetch or read a source again; on failure the previous content stays in use and the
    source shows the error."""
    try:
        if source.kind == "url":
            return await add_url(svc, source.project_id, source.location)
        if source.kind == "file":
            return await add_file(svc, source.project_id, Path(source.location))
        if source.kind == "site":
            return await _crawl(svc, source, progress)
        return source  # uploaded content: upload it again to change it
    except PocketPingError as exc:
        log.warning("refreshing knowledge-base source %s failed: %s", source.id, exc.message)
        async with unit_of_work(svc) as tx:
            await repo.update_source(tx, source.id, status="error", error=exc.message[:2000])
            return await repo.get_source(tx, source.project_id, source.id)


async def refresh(svc: Services, project_id: str, refs: list[str] | None = None,
                  progress: Progress | None = None) -> list[KbSource]:
    if refs:
        sources = [await find_source(svc, project_id, ref) for ref in refs]
    else:  # a crawled site's pages are refreshed by crawling the site again
        sources = [s for s in await list_sources(svc, project_id) if s.parent_id is None]
    refreshed = [await refresh_source(svc, source, progress) for source in sources]
    await embed_missing(svc, project_id)  # what an unchanged page, or a new --embeddings-model, left without
    return refreshed


async def refresh_due(svc: Services) -> int:
    """Crawl again the sites whose ``--refresh`` interval has passed since their last crawl
    (the workers call this every hour); returns how many were crawled."""
    async with svc.db.read() as tx:
        found = await repo.sites(tx)
    now = svc.clock.now()
    crawled = 0
    for site, options in found:
        days = crawl.REFRESH_DAYS.get(crawl.CrawlOptions.from_json(options).refresh, 0)
        if not days or (site.fetched_at is not None and site.fetched_at + timedelta(days=days) > now):
            continue
        try:
            await _crawl(svc, site)
            crawled += 1
        except PocketPingError as exc:
            log.warning("the scheduled crawl of %s failed: %s", site.location, exc.message)
    return crawled


async def search(svc: Services, project_id: str, query: str, *, token_budget: int = 1500,
                 limit: int = 6) -> list[KbHit]:
    """What the AI would be given for ``query``, best first."""
    await _check_project(svc, project_id)
    return await retrieval.search(svc.db, svc.settings, project_id, query, token_budget=token_budget, limit=limit)
