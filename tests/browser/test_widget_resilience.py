"""Nothing lost: a server restart, a network outage, messages typed while offline."""

from __future__ import annotations

import asyncio
import re

import pytest
from playwright.async_api import expect

from pocketping_testkit.server import ServerThread

from .conftest import connected, rest

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _texts(server, project) -> list[str]:
    async with rest(server, project) as api:
        sid = (await api.get("/sessions")).json()["sessions"][0]["id"]
        return [m["text"] for m in (await api.get(f"/sessions/{sid}/messages")).json()["messages"]]


async def test_reconnects_after_server_restart_with_nothing_lost(page, make_server, host_site, embed):
    from conftest import create_project_on

    first = make_server()
    project = create_project_on(first, "Shop", [host_site.origin])
    await page.goto(embed(project, server=first))
    await page.get_by_role("button", name="Open chat").click()
    box = page.get_by_role("textbox", name="Message")
    await box.fill("Before the restart")
    await box.press("Enter")
    await expect(page.locator(".r.v")).to_have_attribute("data-state", "sent")

    await asyncio.to_thread(first.stop)
    await expect(page.locator(".s")).to_have_text("Connecting…")
    await box.fill("While the server is down")
    await box.press("Enter")
    pending = page.locator(".r.v", has_text="While the server is down")
    await expect(pending).to_have_attribute("data-state", "pending")

    # The same database, the same port: the widget finds its way back and sends what waited.
    second = await asyncio.to_thread(ServerThread(first.settings, port=first.port).start)
    try:
        await expect(pending).to_have_attribute("data-state", "sent", timeout=15_000)
        async with rest(second, project) as api:
            sid = (await api.get("/sessions")).json()["sessions"][0]["id"]
            (await api.post(f"/sessions/{sid}/messages", json={"text": "Back online"})).raise_for_status()
        await expect(page.locator(".r:not(.v) .b", has_text="Back online")).to_be_visible()
        await expect(page.locator(".r .b")).to_have_text(
            ["Hi! How can we help?", "Before the restart", "While the server is down", "Back online"])
        assert await _texts(second, project) == ["Before the restart", "While the server is down", "Back online"]
    finally:
        await asyncio.to_thread(second.stop)


async def test_offline_queue_and_resume_from_last_seq(context, page, chat_server, widget_project, embed):
    await page.goto(embed(widget_project))
    await page.get_by_role("button", name="Open chat").click()
    await connected(page)
    box = page.get_by_role("textbox", name="Message")
    await box.fill("First, online")
    await box.press("Enter")
    await expect(page.locator(".r.v")).to_have_attribute("data-state", "sent")

    await context.set_offline(True)
    await expect(page.locator(".s")).to_have_text("Connecting…")
    for text in ("Queued one", "Queued two"):
        await box.fill(text)
        await box.press("Enter")
    await expect(page.locator(".r.v[data-state=pending]")).to_have_count(2)
    # Meanwhile the team answers: the widget gets it from its last seq when it is back.
    async with rest(chat_server, widget_project) as api:
        sid = (await api.get("/sessions")).json()["sessions"][0]["id"]
        (await api.post(f"/sessions/{sid}/messages", json={"text": "Answer while you were away"})).raise_for_status()

    await context.set_offline(False)
    await expect(page.locator(".r.v[data-state=pending]")).to_have_count(0)
    await expect(page.locator(".r .b")).to_have_text(
        ["Hi! How can we help?", "First, online", "Answer while you were away", "Queued one", "Queued two"])
    assert await _texts(chat_server, widget_project) == [
        "First, online", "Answer while you were away", "Queued one", "Queued two"]

    # A message still queued when its page goes away is sent, once, by the next page load.
    stuck = await context.new_page()
    await stuck.route_web_socket(re.compile(r"/ws$"), lambda ws: None)  # a server that never answers
    await stuck.goto(page.url)
    await stuck.get_by_role("button", name="Open chat").click()
    await stuck.get_by_role("textbox", name="Message").fill("Queued, then the tab closed")
    await stuck.keyboard.press("Enter")
    await expect(stuck.locator(".r.v", has_text="Queued, then")).to_have_attribute("data-state", "pending")
    await stuck.close()
    await page.reload()
    await page.get_by_role("button", name="Open chat").click()
    queued = page.locator(".r.v", has_text="Queued, then the tab closed")
    await expect(queued).to_have_attribute("data-state", "sent")
    await expect(queued).to_have_count(1)
    assert (await _texts(chat_server, widget_project)).count("Queued, then the tab closed") == 1


async def test_a_silent_socket_is_replaced_when_the_page_wakes_up(page, chat_server, widget_project, embed):
    # After a laptop sleeps, a socket can look open and carry nothing. The first connection here
    # goes silent (the server's frames stop reaching the page); later ones work.
    connections: list[object] = []

    def route(ws) -> None:
        server = ws.connect_to_server()
        number = len(connections)
        connections.append(ws)
        server.on_message(lambda message: None if silent and number == 0 else ws.send(message))

    silent = False
    await page.route_web_socket(re.compile(r"/ws$"), route)
    await page.goto(embed(widget_project))
    await page.get_by_role("button", name="Open chat").click()
    await connected(page)
    silent = True
    async with rest(chat_server, widget_project) as api:
        sid = (await api.get("/sessions")).json()["sessions"][0]["id"]
        (await api.post(f"/sessions/{sid}/messages", json={"text": "Sent during the sleep"})).raise_for_status()
    # Waking up (the tab becomes visible again): the widget pings, hears nothing, reconnects,
    # and resumes from its last seq.
    await page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    await expect(page.locator(".r:not(.v) .b", has_text="Sent during the sleep")).to_have_count(1, timeout=15_000)
    assert len(connections) == 2
