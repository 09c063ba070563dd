"""The JavaScript API on window.PocketPing, options, and what happens with a wrong key or origin."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
from playwright.async_api import expect

from .conftest import connected, rest

pytestmark = pytest.mark.asyncio(loop_scope="session")

# Counts the WebSockets a page opens (instrumenting the browser, not the widget).
COUNT_SOCKETS = """window.sockets = 0; const NativeWebSocket = WebSocket;
window.WebSocket = class extends NativeWebSocket { constructor(...a) { super(...a); window.sockets++ } };"""


async def test_api_calls_options_and_listeners(page, chat_server, widget_project, host_site):
    init = json.dumps({"publicKey": widget_project.public_key, "open": True, "operatorName": "Maya",
                       "welcomeMessage": "Bonjour **there**", "position": "bottom-left", "theme": "dark",
                       "primaryColor": "#fde047"})
    url = host_site.add(f"""<!doctype html><html><head><script src="{chat_server.base_url}/widget.js" defer></script>
<script>window.seen = [];
addEventListener("DOMContentLoaded", () => {{
  for (const type of ["message", "open", "close", "unread"]) PocketPing.on(type, (x) => seen.push([type, x]));
  PocketPing.identify({{id: "user_42", email: "ana@example.com", name: "Ana", plan: "pro"}});
  PocketPing.init({init});
}})</script></head><body></body></html>""")
    await page.goto(url)
    dialog = page.get_by_role("dialog", name="Chat with Maya")
    await expect(dialog).to_be_visible()  # `open: true`
    await expect(page.get_by_role("textbox", name="Message")).not_to_be_focused()  # no focus stolen at load
    await expect(page.locator(".b").first).to_have_text("Bonjour there")
    launcher = page.get_by_role("button", name="Close chat")
    box = await launcher.bounding_box()
    assert box["x"] < 100  # bottom-left
    await expect(launcher).to_have_css("background-color", "rgb(253, 224, 71)")
    await expect(launcher).to_have_css("color", "rgb(17, 17, 17)")  # dark text on a light color
    await expect(dialog).to_have_css("background-color", "rgb(23, 25, 29)")  # dark theme
    await connected(page)

    async with rest(chat_server, widget_project) as api:
        session = (await api.get("/sessions")).json()["sessions"][0]
        assert session["identity"]["id"] == "user_42" and session["identity"]["traits"] == {"plan": "pro"}
        sid = session["id"]
        await page.evaluate("PocketPing.close()")
        await expect(dialog).to_be_hidden()
        (await api.post(f"/sessions/{sid}/messages", json={"text": "Ping"})).raise_for_status()
        await expect(page.get_by_role("button", name="Open chat (1 unread)")).to_be_visible()
        await page.evaluate("PocketPing.toggle()")
        await expect(dialog).to_be_visible()
        await expect(page.get_by_role("textbox", name="Message")).to_be_focused()
        await expect(page.get_by_role("button", name="Close chat")).to_be_visible()
    seen = await page.evaluate("seen")
    assert ["close", None] in seen and ["open", None] in seen
    assert [x for t, x in seen if t == "unread"] == [1, 0]
    messages = [x for t, x in seen if t == "message"]
    assert [(m["sender"], m["text"]) for m in messages] == [("operator", "Ping")]

    await page.evaluate("PocketPing.destroy()")
    await expect(page.locator("#pocketping-root")).to_have_count(0)


@pytest.mark.parametrize("problem", ["key", "origin"])
async def test_wrong_key_or_origin_hides_the_widget_and_is_not_retried(problem, page, chat_server, host_site,
                                                                         embed):
    from conftest import ProjectKeys, create_project_on

    if problem == "key":
        project = ProjectKeys("proj_x", "pk_live_" + "x" * 32, "")
    else:
        project = create_project_on(chat_server, "Elsewhere", ["https://shop.example.com"])
    await page.add_init_script(COUNT_SOCKETS)
    code = "invalid_key" if problem == "key" else "origin_not_allowed"
    # The site owner learns why from the console.
    async with page.expect_console_message(lambda msg: msg.type == "warning" and code in msg.text):
        await page.goto(embed(project))
    await expect(page.locator("#pocketping-root")).to_be_hidden()
    await page.wait_for_function("window.sockets === 1")
    # Waking up (network back, tab visible) would reconnect at once after any other close.
    await page.evaluate("dispatchEvent(new Event('online')); document.dispatchEvent(new Event('visibilitychange'))")
    assert await page.evaluate("window.sockets") == 1


async def test_visitor_typing_reaches_the_team(page, chat_server, widget_project, embed):
    await page.goto(embed(widget_project))
    await page.get_by_role("button", name="Open chat").click()
    await connected(page)
    async with rest(chat_server, widget_project) as api:
        sid = (await api.get("/sessions")).json()["sessions"][0]["id"]
    heard: list[dict] = []
    typing = threading.Event()

    def listen(event) -> None:
        if event.type == "typing":
            heard.append(event.data)
            typing.set()

    async def subscribe():  # what the inbox and the bridges listen to
        return chat_server.services.hub.subscribe_session(sid, listen)

    unsubscribe = await chat_server.acall(subscribe())
    try:
        await page.get_by_role("textbox", name="Message").press_sequentially("Hel")
        assert await asyncio.to_thread(typing.wait, 10)
        assert heard[0] == {"sender": "visitor", "active": True}
        typing.clear()
        await page.keyboard.press("Enter")  # sending stops the typing indicator
        assert await asyncio.to_thread(typing.wait, 10)
        assert heard[-1] == {"sender": "visitor", "active": False}
    finally:
        chat_server.loop.call_soon_threadsafe(unsubscribe)
