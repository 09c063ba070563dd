"""Browser-facing pages and assets: the widget bundle, the demo page, the front page."""

from __future__ import annotations

import html
import re

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from pocketping.core.embed import embed_snippet
from pocketping.errors import NotFound
from pocketping.server.static import load_asset, serve_asset
from pocketping.store import projects as project_repo

router = APIRouter(include_in_schema=False)

WIDGET_CACHE = "public, max-age=300, stale-while-revalidate=86400"


@router.get("/widget.js")
async def widget_js(request: Request) -> Response:
    asset = load_asset("widget.js", "application/javascript; charset=utf-8")
    if asset is None:
        raise NotFound("the widget bundle is not built; run: make widget", code="widget_missing")
    return serve_asset(request, asset, WIDGET_CACHE)


LOCALE_FILES = {"fr", "de", "es", "pt", "ar"}  # English is in the bundle itself


@router.get("/widget/i18n/{code}.txt")
async def widget_strings(code: str, request: Request) -> Response:
    """One locale's widget strings ('|'-separated, in the order of the widget's ``T``)."""
    asset = load_asset(f"i18n/{code}.txt", "text/plain; charset=utf-8") if code in LOCALE_FILES else None
    if asset is None:
        raise NotFound("no widget strings for this language", code="locale_not_found")
    response = serve_asset(request, asset, WIDGET_CACHE)
    response.headers["Access-Control-Allow-Origin"] = "*"  # fetched by the widget from the host page
    return response


_DEMO = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>PocketPing demo</title>
<style>
body{{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:3rem auto;padding:0 1rem;color:#1f2937}}
code,pre{{background:#f3f4f6;border-radius:6px}} pre{{padding:1rem;overflow:auto}}
</style>
</head>
<body>
<h1>PocketPing demo</h1>
<p>This page embeds the chat widget exactly the way a site would, with these two lines:</p>
<pre><code>{snippet_html}</code></pre>
<p>Open the chat with the button in the corner and write something. Answer it from the
<a href="/inbox">inbox</a> (the demo operator's credentials were printed by <code>make serve</code>),
or from Telegram, Discord or Slack once a bridge is connected.</p>
{snippet}
</body>
</html>
"""


_SAFE_BASE = re.compile(r"^https?://[A-Za-z0-9.\-]+(:\d{1,5})?$|^https?://\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")


def _public_base(request: Request) -> str:
    """Where the widget is served from: ``POCKETPING_PUBLIC_URL`` when set, not the request's
    ``Host`` header (anyone can send one); else the request's own address if it is a plain host
    and port, or nothing (a path on this server)."""
    configured = request.app.state.svc.settings.public_base()
    if configured:
        return str(configured)
    base = str(request.base_url).rstrip("/")
    return base if _SAFE_BASE.match(base) else ""


@router.get("/demo", response_class=HTMLResponse)
async def demo(request: Request) -> HTMLResponse:
    svc = request.app.state.svc
    async with svc.db.read() as tx:
        project = await project_repo.find_demo_project(tx)
    if project is None:
        raise NotFound("no demo project on this server; `pocketping demo` creates one", code="demo_missing")
    snippet = embed_snippet(_public_base(request), project.public_key)
    return HTMLResponse(_DEMO.format(snippet=snippet, snippet_html=html.escape(snippet)))


@router.get("/", response_class=HTMLResponse)
async def index() -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><title>PocketPing</title><h1>PocketPing</h1><ul>"
        '<li><a href="/demo">Demo page</a></li><li><a href="/inbox">Inbox</a></li>'
        '<li><a href="/docs">REST API</a></li><li><a href="/healthz">Health</a></li></ul>'
    )
