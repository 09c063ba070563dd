"""Browser-test fixtures, shared by every browser test (widget, inbox, events ...).

Everything here is real: Debian's Chromium driven by Playwright's async API, a real PocketPing
server (uvicorn on a free port, SQLite), and a "customer site" on ANOTHER origin that embeds
the widget the way a site owner would.

Browser tests are ``async def`` and run on the session's event loop, like the ``browser``
fixture (every test module here sets ``pytestmark = pytest.mark.asyncio(loop_scope="session")``).
Playwright's sync API can't be used: it leaves its event loop marked as running in the main
thread, which breaks every ordinary async test that runs after it.

- ``browser`` (session): ONE headless Chromium for the whole run; never launch your own.
- ``context`` (function): a fresh browser context per test (own localStorage, cookies);
  ``page`` is a page in it. Open more pages (tabs) with ``context.new_page()``.
- ``chat_server`` (session): a real server on SQLite for browser tests (``chat_server.base_url``).
- ``host_site`` (session): a static site on ``http://localhost:PORT`` (the server is on
  ``http://127.0.0.1:PORT``, so they are different origins). ``host_site.add(html, headers)``
  serves a page and returns its URL.
- ``widget_project``: a fresh project on ``chat_server`` whose allowed origin is the host site.
- ``embed(project, **options)``: the URL of a host page with the two-line embed; options go to
  ``PocketPing.init``. ``embed(project, data=True, **options)`` uses the one-line ``data-*`` embed.
- ``rest(server, project)``: an ``httpx.AsyncClient`` on the REST API with the project's secret key.
- ``shadow(page)``: a locator scope inside the widget's open shadow root (Playwright pierces open
  shadow roots, so ``page.get_by_role(...)`` works as well).
- ``await connected(page)``: wait until the widget is connected and synced.

The widget's accessible names are the contract to drive it by (English): the launcher button
"Open chat" / "Open chat (N unread)" / "Close chat", the dialog "Chat with <operator>", the
``log``, the textbox "Message", the button "Send". Own messages are ``.r.v`` rows whose
``data-state`` is ``pending``, ``sent``, ``delivered``, ``read`` or ``failed``; operator and AI
messages are ``.r:not(.v)``; their text is in ``.b``.

Wait on DOM conditions (``expect(locator)...``, ``page.wait_for_function``), never sleep.
"""

from __future__ import annotations

import html
import itertools
import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, Playwright, async_playwright, expect

from conftest import ProjectKeys, create_project_on  # tests/conftest.py
from pocketping_testkit.server import ServerThread, make_settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def playwright() -> AsyncIterator[Playwright]:
    async with async_playwright() as pw:
        yield pw


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser(playwright: Playwright) -> AsyncIterator[Browser]:
    """The one Chromium of the test session."""
    browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
    yield browser
    await browser.close()


@pytest_asyncio.fixture(loop_scope="session")
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context()
    ctx.set_default_timeout(10_000)
    yield ctx
    await ctx.close()


@pytest_asyncio.fixture(loop_scope="session")
async def page(context: BrowserContext) -> Page:
    return await context.new_page()


class HostSite:
    """A tiny static web server: the "customer site" that embeds the widget."""

    def __init__(self) -> None:
        self.pages: dict[str, tuple[bytes, dict[str, str]]] = {}
        self._ids = itertools.count(1)
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                found = site.pages.get(self.path.split("?")[0])
                if found is None:
                    self.send_error(404)
                    return
                body, headers = found
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.origin = f"http://localhost:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="host-site", daemon=True)
        self._thread.start()

    def add(self, body: str, headers: dict[str, str] | None = None, path: str | None = None) -> str:
        path = path or f"/page{next(self._ids)}.html"
        self.pages[path] = (body.encode(), headers or {})
        return self.origin + path

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="session")
def host_site() -> Iterator[HostSite]:
    site = HostSite()
    yield site
    site.close()


@pytest.fixture(scope="session")
def chat_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    """A real server on SQLite for the browser tests (they test the browser, not the backends)."""
    path = tmp_path_factory.mktemp("browser")
    srv = ServerThread(make_settings(f"sqlite:///{path / 'chat.db'}", str(path / "data"))).start()
    yield srv
    srv.stop()


@pytest.fixture
def widget_project(chat_server: ServerThread, host_site: HostSite) -> ProjectKeys:
    return create_project_on(chat_server, "Shop", [host_site.origin])


def page_html(server_url: str, public_key: str, *, data: bool = False, body: str = "", head: str = "",
              **options: Any) -> str:
    """A host page embedding the widget: the README's two lines, or the one-line data-* form."""
    if data:
        attrs = "".join(f' data-{k.replace("_", "-")}="{html.escape(str(v))}"' for k, v in options.items())
        embed = f'<script src="{server_url}/widget.js" data-public-key="{public_key}"{attrs} defer></script>'
    else:
        init = json.dumps({"publicKey": public_key, **options})
        embed = (f'<script src="{server_url}/widget.js" defer></script>\n'
                 f'<script>addEventListener("DOMContentLoaded",()=>PocketPing.init({init}))</script>')
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>Shop</title>{head}'
            f"{embed}</head><body><h1>Shop</h1><p><a href=\"#top\" id=\"first\">A link on the page</a></p>"
            f"{body}</body></html>")


@pytest.fixture
def embed(chat_server: ServerThread, host_site: HostSite) -> Callable[..., str]:
    def make(project: ProjectKeys, *, server: ServerThread | None = None, headers: dict[str, str] | None = None,
             **options: Any) -> str:
        srv = server or chat_server
        return host_site.add(page_html(srv.base_url, project.public_key, **options), headers)

    return make


def rest(server: ServerThread, project: ProjectKeys) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.base_url + "/api/v1", headers=project.auth, timeout=10)


def shadow(page: Page) -> Any:
    return page.locator("#pocketping-root")


async def connected(page: Page) -> None:
    """Wait until the widget on the page is connected and synced (its status is no longer "Connecting")."""
    await expect(page.locator("#pocketping-root .s")).not_to_have_text("Connecting…")


# Builds a File in the page and fires a paste or a drop carrying it, as the browser does for a
# real clipboard or drag. ``target`` is a JS expression for the element.
_FIRE = """([kind, target, name, type, b64]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))
  const dt = new DataTransfer()
  dt.items.add(new File([bytes], name, { type }))
  const el = new Function('return ' + target)()
  const init = { bubbles: true, cancelable: true }
  el.dispatchEvent(kind == 'paste' ? new ClipboardEvent('paste', { ...init, clipboardData: dt })
                                   : new DragEvent('drop', { ...init, dataTransfer: dt }))
}"""


async def fire_file(page: Page, kind: str, target: str, name: str, ctype: str, data: bytes) -> None:
    """Paste (``kind="paste"``) or drop (``"drop"``) a file with these bytes onto ``target``."""
    import base64

    await page.evaluate(_FIRE, [kind, target, name, ctype, base64.b64encode(data).decode()])
