"""`kill -9` of the web node a visitor's widget is connected to while the visitor is sending:
behind a load balancer without sticky sessions, the widget (real Chromium) reconnects to the
other node and resumes; every acknowledged message is stored once, every unacknowledged one
is resent and stored once. Two `serve --no-workers` nodes on PostgreSQL and Redis."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from playwright.async_api import expect

from pocketping.actions.projects import create_project
from pocketping.crypto import generate_key
from pocketping.wiring import build_services
from pocketping_testkit.cluster import Cluster, FailoverProxy
from pocketping_testkit.databases import create_database, drop_database
from pocketping_testkit.server import make_settings

from .conftest import connected, page_html

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_the_widget_fails_over_to_the_other_node(page, host_site, tmp_path):
    url, name = create_database("postgresql", tmp_path)
    key = generate_key()
    svc = build_services(make_settings(url, str(tmp_path / "data"), encryption_key=key))
    await svc.db.migrate()
    project, secret = await create_project(svc, "Shop", [host_site.origin])
    await svc.db.dispose()
    cluster = Cluster(url, tmp_path / "data", encryption_key=key)
    proxy = None
    try:
        a = await asyncio.to_thread(cluster.web)
        b = await asyncio.to_thread(cluster.web)
        proxy = FailoverProxy([("127.0.0.1", a.port), ("127.0.0.1", b.port)])
        await page.goto(host_site.add(page_html(proxy.url, project.public_key)))
        await page.get_by_role("button", name="Open chat").click()
        await connected(page)
        box = page.get_by_role("textbox", name="Message")
        texts = [f"message {i:02d}" for i in range(12)]
        for text in texts[:4]:
            await box.fill(text)
            await box.press("Enter")
        await expect(page.locator(".r.v[data-state=pending]")).to_have_count(0)
        api = httpx.AsyncClient(base_url=f"{b.base_url}/api/v1", headers={"Authorization": f"Bearer {secret}"})
        sid = (await api.get("/sessions")).json()["sessions"][0]["id"]
        # A reply sent to node B reaches the visitor on node A (through Redis).
        (await api.post(f"/sessions/{sid}/messages", json={"text": "Answer through Redis"})).raise_for_status()
        await expect(page.locator(".r:not(.v) .b", has_text="Answer through Redis")).to_be_visible()
        # Node A dies while the visitor keeps typing.
        for i, text in enumerate(texts[4:]):
            await box.fill(text)
            await box.press("Enter")
            if i == 2:
                await asyncio.to_thread(a.kill)
        await expect(page.locator(".r.v[data-state=pending]")).to_have_count(0, timeout=20_000)
        await expect(page.locator(".r.v[data-state=failed]")).to_have_count(0)

        # The visitor is on node B now: a reply sent there arrives live.
        try:
            (await api.post(f"/sessions/{sid}/messages", json={"text": "Answer from node B"})).raise_for_status()
            await expect(page.locator(".r:not(.v) .b", has_text="Answer from node B")).to_be_visible()
            stored = [m["text"] for m in (await api.get(f"/sessions/{sid}/messages")).json()["messages"]
                      if m["sender"] == "visitor"]
        finally:
            await api.aclose()
        assert stored == texts  # each once, in order
        await expect(page.locator(".r.v .b")).to_have_text(texts)
    finally:
        if proxy is not None:
            proxy.close()
        await asyncio.to_thread(cluster.stop)
        drop_database("postgresql", name)
