"""``pocketping kb``: the knowledge base the AI answers from."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from pocketping.cli.common import JsonOpt, emit, fail, group, run

app = group("The knowledge base (pages and files) the AI answers from.")

SUFFIXES = (".md", ".markdown", ".mdx", ".txt", ".text", ".rst", ".html", ".htm", ".pdf")


def _line(s: dict[str, Any]) -> str:
    state = "ok" if s["status"] == "ready" else f"{s['status'].upper()}: {s['error']}"
    if s["kind"] == "site":
        return (f"{s['id']}  {s['pages']:>4} pages   {s['title'][:40]!r}  {s['location']}  [{state}]  "
                f"last fetch {s['fetchedAt'] or 'never'}")
    return f"{s['id']}  {s['chunks']:>4} chunks  {s['title'][:40]!r}  {s['location']}  [{state}]"


class _Progress:
    """Pages fetched / queued / skipped of a crawl, on stderr: a line that updates itself on a
    terminal, the last figures once otherwise (never with --json)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.last: tuple[int, int, int] | None = None

    def __call__(self, fetched: int, queued: int, skipped: int) -> None:
        self.last = (fetched, queued, skipped)
        if self.enabled and self.tty:
            width = 30
            done = width * fetched // max(1, fetched + queued)
            sys.stderr.write(f"\r[{'#' * done}{'.' * (width - done)}] {fetched} fetched, {queued} queued, "
                             f"{skipped} skipped ")
            sys.stderr.flush()

    def end(self) -> None:
        if self.enabled and self.last is not None:
            fetched, queued, skipped = self.last
            sys.stderr.write(("\r" if self.tty else "") + f"crawl: {fetched} fetched, {queued} queued, "
                             f"{skipped} skipped\n")
            self.last = None


def _expand(items: list[str]) -> list[str]:
    """URLs as given; a directory stands for the documents in it (recursively)."""
    out: list[str] = []
    for item in items:
        path = Path(item).expanduser()
        if "://" not in item and path.is_dir():
            out += sorted(str(p) for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
        else:
            out.append(item)
    return out


@app.command("add")
def add(project_id: str,
        sources: Annotated[list[str], typer.Argument(help="URLs (http/https), files or directories: Markdown, "
                                                          "text, HTML, PDF")],
        crawl: Annotated[bool, typer.Option("--crawl", help="Follow the site: sitemap.xml, links on the same host "
                                                            "and path prefix, robots.txt honoured")] = False,
        max_pages: Annotated[int, typer.Option("--max-pages", help="With --crawl: at most this many pages")] = 200,
        depth: Annotated[int, typer.Option("--depth", help="With --crawl: links followed this many deep")] = 3,
        include: Annotated[list[str] | None, typer.Option(
            "--include", help="With --crawl: crawl under this path prefix (instead of the URL's)")] = None,
        exclude: Annotated[list[str] | None, typer.Option("--exclude", help="With --crawl: skip paths matching this "
                                                                            "glob (or containing this text)")] = None,
        refresh: Annotated[str, typer.Option("--refresh", help="With --crawl: crawl again daily, weekly or off "
                                                               "(by the server's workers)")] = "off",
        as_json: JsonOpt = False) -> None:
    """Add (or update) pages and files; they are split into chunks and indexed."""
    from pocketping.actions import kb
    from pocketping.ai.crawl import CrawlOptions
    from pocketping.errors import PocketPingError

    items = _expand(sources)
    if not items:
        fail("no Markdown, text, HTML or PDF documents found there", as_json, "kb_empty")
    options = None
    progress = _Progress(not as_json)
    if crawl:
        if any("://" not in item for item in items):
            fail("--crawl takes http:// or https:// URLs only", as_json, "invalid_crawl")
        try:
            options = CrawlOptions(max_pages=max_pages, depth=depth, include=tuple(include or ()),
                                   exclude=tuple(exclude or ()), refresh=refresh)
        except PocketPingError as exc:
            fail(exc.message, as_json, exc.code)

    async def go(svc: Any) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        for item in items:
            try:
                if options is not None:
                    source = await kb.add_site(svc, project_id, item, options, progress)
                    progress.end()
                elif "://" in item:
                    source = await kb.add_url(svc, project_id, item)
                else:
                    source = await kb.add_file(svc, project_id, Path(item))
                results.append(source.to_api())
            except PocketPingError as exc:
                if len(items) == 1:
                    raise
                results.append({"location": item, "error": {"code": exc.code, "message": exc.message}})
        return results

    results = run(go, as_json)
    emit(results, as_json, lambda: "\n".join(
        _line(r) if "id" in r else f"FAILED {r['location']}: {r['error']['message']}" for r in results))
    if any("error" in r and "id" not in r for r in results):
        raise typer.Exit(1)


@app.command("list")
def list_(project_id: str, as_json: JsonOpt = False) -> None:
    """List the knowledge base's sources (a crawled site as one line: pages, status, errors, last fetch)."""
    from pocketping.actions import kb

    found = run(lambda svc: kb.list_sources(svc, project_id), as_json)
    data = [s.to_api() for s in found if s.parent_id is None]
    emit(data, as_json, lambda: "\n".join(_line(s) for s in data) or "the knowledge base is empty")


@app.command("remove")
def remove(project_id: str,
           refs: Annotated[list[str], typer.Argument(help="Source ids (kbs_...), URLs or file paths")],
           as_json: JsonOpt = False) -> None:
    """Remove sources from the knowledge base."""
    from pocketping.actions import kb

    async def go(svc: Any) -> list[dict[str, Any]]:
        return [(await kb.remove_source(svc, project_id, ref)).to_api() for ref in refs]

    removed = run(go, as_json)
    emit({"removed": removed}, as_json, lambda: "\n".join(f"removed {s['id']}  {s['location']}" for s in removed))


@app.command("refresh")
def refresh(project_id: str,
            refs: Annotated[list[str] | None, typer.Argument(help="Sources to refresh (default: all)")] = None,
            as_json: JsonOpt = False) -> None:
    """Fetch pages and read files again (a crawled site: crawled again, conditional requests, only
    changed pages re-indexed); a source that fails keeps its previous content."""
    from pocketping.actions import kb

    progress = _Progress(not as_json)

    async def go(svc: Any) -> list[Any]:
        found = await kb.refresh(svc, project_id, refs or None, progress)
        progress.end()
        return found

    found = run(go, as_json)
    data = [s.to_api() for s in found]
    emit(data, as_json, lambda: "\n".join(_line(s) for s in data) or "the knowledge base is empty")
    if any(s["status"] not in ("ready", "partial") for s in data):
        raise typer.Exit(1)


@app.command("search")
def search(project_id: str, query: str, limit: Annotated[int, typer.Option(help="How many excerpts")] = 6,
           as_json: JsonOpt = False) -> None:
    """Show the excerpts the AI would be given for a question."""
    from pocketping.actions import kb

    hits = run(lambda svc: kb.search(svc, project_id, query, limit=limit), as_json)
    data = [h.to_api() for h in hits]

    def human() -> str:
        if not data:
            return "nothing relevant: the AI would say it doesn't know and offer a human"
        return "\n\n".join(f"[{i}] {h['score']:.2f}  {h['title']} ({h['location']})"
                           f"{' > ' + h['heading'] if h['heading'] else ''}\n{h['text'][:300]}"
                           for i, h in enumerate(data, 1))

    emit(data, as_json, human)
