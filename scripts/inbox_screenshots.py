"""Screenshots of the inbox's screens for docs/inbox.md.

Run: .venv/bin/python scripts/inbox_screenshots.py [--out docs]
Starts a real server on a throwaway SQLite database, writes a few conversations (over the
widget protocol and REST), signs an operator in with headless Chromium and saves
docs/inbox-search.png, docs/inbox-views.png, docs/inbox-tools.png and docs/inbox-stats.png.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

from pocketping.actions.operators import add_operator
from pocketping.actions.projects import create_project
from pocketping.actions.replies import add_reply
from pocketping_testkit.server import ServerThread, make_settings
from pocketping_testkit.widget_client import WidgetClient

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]
PASSWORD = "correct-horse-battery-staple"
VISITORS = [
    ({"id": "u1", "name": "Ana Lima", "email": "ana@example.com"}, ["Hello, I ordered a kayak last month."]),
    ({"id": "u1", "name": "Ana Lima", "email": "ana@example.com"}, ["Hi, where is my invoice for order 1042?"]),
    ({"id": "u2", "name": "Tom Berg", "email": "tom@example.org"}, ["Can I get the invoice sent to my accountant?"]),
    (None, ["Do you ship to Canada?", "And how long does it take?"]),
]


async def visitors(srv: ServerThread, public_key: str) -> None:
    for identity, texts in VISITORS:
        w = await WidgetClient.connect(srv.ws_url, public_key, metadata={"url": "https://shop.example.com/orders"})
        await w.synced()
        if identity:
            await w.send({"type": "identify", **identity})
            await w.expect("identified")
        for text in texts:
            await w.say(text)
        await w.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="docs")
    out = Path(parser.parse_args().out)
    tmp = Path(tempfile.mkdtemp())
    srv = ServerThread(make_settings(f"sqlite:///{tmp / 'shots.db'}", str(tmp / "data"))).start()
    try:
        project, secret = srv.call(create_project(srv.services, "Shop"))
        srv.call(add_operator(srv.services, "sarah@example.com", project_ids=[project.id], password=PASSWORD,
                              name="Sarah"))
        asyncio.run(visitors(srv, project.public_key))
        srv.call(add_reply(srv.services, project.id, "hours", "Hi {name}, we are open 9-17 (CET), Monday to Friday."))
        srv.call(add_reply(srv.services, project.id, "invoice", "Hi {name}, your invoices are under My orders."))
        with httpx.Client(base_url=srv.base_url + "/api/v1", headers={"Authorization": f"Bearer {secret}"}) as api:
            first = api.get("/sessions").json()["sessions"][-2]["id"]
            api.post(f"/sessions/{first}/messages", json={"text": "Your invoice is attached, Ana.",
                                                          "operatorName": "Sarah"}).raise_for_status()
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
            page = browser.new_context(viewport={"width": 1100, "height": 760}).new_page()
            page.goto(srv.base_url + "/inbox")
            page.get_by_label("Email").fill("sarah@example.com")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.get_by_role("navigation", name="Conversations").get_by_role("link").nth(3).wait_for()
            page.get_by_role("searchbox").fill("invoice")
            page.get_by_role("button", name="Search", exact=True).click()
            results = page.get_by_role("region", name="Search results")
            results.get_by_role("link").nth(2).wait_for()
            results.get_by_role("link").nth(1).click()
            page.locator("#timeline [aria-current]").wait_for()
            page.screenshot(path=str(out / "inbox-search.png"))
            results.get_by_role("button", name="Back to conversations").click()
            nav = page.get_by_role("navigation", name="Conversations")
            nav.get_by_label("Sort").select_option(label="Waiting longest")
            nav.get_by_role("link", name="Ana Lima").first.click()
            page.get_by_label("Assigned to").select_option(label="Sarah")
            nav.get_by_text("Assigned to me").wait_for()
            page.get_by_role("region", name="Earlier conversations").wait_for()
            page.screenshot(path=str(out / "inbox-views.png"))
            reply = page.get_by_role("textbox", name="Reply")
            page.get_by_role("switch", name="Note").check()
            reply.fill("Ana is a returning customer: refund without questions.")
            reply.press("Enter")
            page.get_by_text("Note (the visitor does not see it)").wait_for()
            page.get_by_role("switch", name="Note").uncheck()
            reply.fill("/")
            reply.press_sequentially("h")
            page.get_by_role("listbox", name="Saved replies").wait_for()
            page.screenshot(path=str(out / "inbox-tools.png"))
            reply.fill("")
            page.get_by_role("button", name="Stats").click()
            page.get_by_role("table", name="By day").get_by_role("row").nth(1).wait_for()
            page.screenshot(path=str(out / "inbox-stats.png"))
            browser.close()
    finally:
        srv.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
