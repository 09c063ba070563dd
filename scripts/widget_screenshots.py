"""Screenshots of the open widget (light and dark) for the docs, and its first-paint cost.

Run: .venv/bin/python scripts/widget_screenshots.py [--out docs]
Starts a real server on a throwaway SQLite database, writes a short conversation, opens the
widget in headless Chromium on a host page of another origin, and saves
docs/widget-light.png and docs/widget-dark.png. It also prints the launcher's first-paint
numbers (init time, layout shift, long tasks) that docs/widget.md quotes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

from pocketping.actions.messages import send_ai_message
from pocketping.actions.projects import create_project
from pocketping_testkit.server import ServerThread, make_settings

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]

PERF = """<script>
window.__shifts = 0; window.__long = [];
new PerformanceObserver(l => l.getEntries().forEach(e => { if (!e.hadRecentInput) window.__shifts += e.value }))
  .observe({type: "layout-shift", buffered: true});
new PerformanceObserver(l => l.getEntries().forEach(e => window.__long.push([Math.round(e.startTime), e.duration])))
  .observe({type: "longtask", buffered: true});
</script>"""


def host(pages: dict[str, str]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path, "").encode()
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="docs")
    out = Path(parser.parse_args().out)
    tmp = Path(tempfile.mkdtemp())
    srv = ServerThread(make_settings(f"sqlite:///{tmp / 'shots.db'}", str(tmp / "data"))).start()
    pages: dict[str, str] = {}
    httpd = host(pages)
    origin = f"http://localhost:{httpd.server_address[1]}"
    project, secret = srv.call(create_project(srv.services, "Shop", [origin], widget={"operator_name": "Sarah"}))
    init = json.dumps({"publicKey": project.public_key})
    article = "".join(f"<p>Paragraph {i} of the host page, with some text to lay out.</p>" for i in range(40))
    pages["/"] = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title>{PERF}'
                  f'<script src="{srv.base_url}/widget.js" defer></script>'
                  f'<script>addEventListener("DOMContentLoaded",()=>{{const t=window.__at=performance.now();'
                  f'PocketPing.init({init});window.__init=performance.now()-t;'
                  f'requestAnimationFrame(()=>requestAnimationFrame(()=>window.__paint=performance.now()-t))}})'
                  f'</script></head><body style="font:16px system-ui;margin:2rem;background:#f8fafc">'
                  f"<h1>Shop</h1>{article}</body></html>")
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
            # First paint cost, on a fresh page (median of 5 loads).
            runs = []
            for _ in range(5):
                ctx = browser.new_context()
                page = ctx.new_page()
                page.goto(origin + "/")
                page.get_by_role("button", name="Open chat").wait_for()
                page.wait_for_function("window.__paint !== undefined")
                runs.append(page.evaluate("({at: Math.round(window.__at), init: window.__init, paint: window.__paint,"
                                          " cls: window.__shifts,"
                                          " long: window.__long, script: performance.getEntriesByType('resource')"
                                          ".filter(e => e.name.endsWith('/widget.js'))"
                                          ".map(e => [e.transferSize, e.duration])[0]})"))
                ctx.close()
            runs.sort(key=lambda r: r["init"])
            median = runs[len(runs) // 2]
            print(json.dumps({"median": median, "runs": runs}, indent=1))
            ctx = browser.new_context(viewport={"width": 900, "height": 740}, device_scale_factor=1)
            page = ctx.new_page()
            page.goto(origin + "/")
            page.get_by_role("button", name="Open chat").click()
            page.get_by_role("textbox", name="Message").fill("Hi! Do you ship to Canada?")
            page.keyboard.press("Enter")
            page.locator(".r.v[data-state=sent]").wait_for()
            with httpx.Client(base_url=srv.base_url + "/api/v1", headers={"Authorization": f"Bearer {secret}"}) as api:
                sid = api.get("/sessions").json()["sessions"][0]["id"]
                api.post(f"/sessions/{sid}/messages", json={
                    "text": "Yes! Shipping to Canada takes **3-5 days**. See https://shop.example.com/shipping",
                    "operatorName": "Sarah"}).raise_for_status()
            srv.call(send_ai_message(srv.services, project.id, sid, "You can also track any order from `My orders`."))
            page.locator(".r:not(.v)").nth(2).wait_for()
            page.locator(".r.v[data-state=read]").wait_for()
            page.evaluate("document.activeElement.blur()")
            for scheme in ("light", "dark"):
                page.emulate_media(color_scheme=scheme)
                clip = {"x": 490, "y": 20, "width": 410, "height": 720}  # the panel and the launcher
                page.screenshot(path=str(out / f"widget-{scheme}.png"), clip=clip)
            ctx.close()
            browser.close()
    finally:
        srv.stop()
        httpd.shutdown()
    return 0


if __name__ == "__main__":
    asyncio.set_event_loop(None)
    sys.exit(main())
