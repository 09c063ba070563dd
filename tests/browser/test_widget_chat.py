"""The widget in a real Chromium against a real server, on a host page of another origin."""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import expect

from .conftest import connected, rest

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_open_send_receive_reload(page, chat_server, widget_project, embed):
    url = embed(widget_project)
    await page.goto(url)
    launcher = page.get_by_role("button", name="Open chat")
    await expect(launcher).to_be_visible()
    # One host element with an open shadow root; no globals but PocketPing.
    assert await page.evaluate("document.getElementById('pocketping-root').shadowRoot !== null")
    await launcher.click()
    dialog = page.get_by_role("dialog", name="Chat with Support")
    await expect(dialog).to_be_visible()
    await expect(page.get_by_role("button", name="Close chat")).to_have_attribute("aria-expanded", "true")
    log = page.get_by_role("log")
    await expect(log).to_have_attribute("aria-live", "polite")
    await expect(log).to_contain_text("Hi! How can we help?")  # the project's welcome message

    box = page.get_by_role("textbox", name="Message")
    await box.fill("Hello from the browser")
    await page.get_by_role("button", name="Send").click()
    mine = log.locator(".r.v", has_text="Hello from the browser")
    await expect(mine).to_have_attribute("data-state", "sent")
    # Arrow up in the empty box brings the last message back to correct it; Enter sends the edit.
    await box.press("ArrowUp")
    await expect(box).to_have_value("Hello from the browser")
    await box.fill("Hello from the browser!")
    await box.press("Enter")
    await expect(log.locator(".r.v", has_text="Hello from the browser!")).to_contain_text("edited")
    await expect(log.locator(".r.v")).to_have_count(1)

    async with rest(chat_server, widget_project) as api:
        sessions = (await api.get("/sessions")).json()["sessions"]
        assert len(sessions) == 1
        sid = sessions[0]["id"]
        stored = (await api.get(f"/sessions/{sid}/messages")).json()["messages"]
        assert [m["text"] for m in stored] == ["Hello from the browser!"]
        created = await api.post(f"/sessions/{sid}/messages",
                                 json={"text": "Hi! **Sarah** here", "operatorName": "Sarah"})
        assert created.status_code == 201

    reply = log.locator(".r:not(.v)", has_text="Sarah here")
    await expect(reply).to_be_visible()
    await expect(reply.locator("strong")).to_have_text("Sarah")
    # The operator's reply marks the visitor's message as read.
    await expect(mine).to_have_attribute("data-state", "read")

    await page.reload()
    await page.get_by_role("button", name="Open chat").click()
    log = page.get_by_role("log")

    # The replay shows the latest text, still marked edited.
    await expect(log.locator(".b")).to_have_text(["Hi! How can we help?", "Hello from the browser!", "Hi! Sarah here"])
    await expect(log.locator(".r.v")).to_contain_text("edited")


async def _session_id(server, project) -> str:
    async with rest(server, project) as api:
        return (await api.get("/sessions")).json()["sessions"][0]["id"]


async def test_two_tabs_show_one_conversation_live(context, chat_server, widget_project, embed):
    url = embed(widget_project)
    # A first visit opened in two tabs at once: still one visitor, one session.
    first, second = await context.new_page(), await context.new_page()
    await asyncio.gather(first.goto(url), second.goto(url))
    await first.get_by_role("button", name="Open chat").click()
    await first.get_by_role("textbox", name="Message").fill("Typed in the first tab")
    await first.keyboard.press("Enter")
    await expect(first.locator(".r.v[data-state=sent]")).to_have_count(1)

    await second.get_by_role("button", name="Open chat").click()
    await expect(second.locator(".r.v .b")).to_have_text(["Typed in the first tab"])
    await second.get_by_role("button", name="Minimize").click()
    async with rest(chat_server, widget_project) as api:
        assert len((await api.get("/sessions")).json()["sessions"]) == 1  # one visitor, one session
        sid = await _session_id(chat_server, widget_project)
        (await api.post(f"/sessions/{sid}/messages", json={"text": "Answer for both tabs"})).raise_for_status()
    await expect(first.locator(".r:not(.v) .b", has_text="Answer for both tabs")).to_be_visible()
    # The first tab is open and reads it; the second tab's unread badge follows.
    await expect(second.get_by_role("button", name="Open chat", exact=True)).to_be_visible()
    await expect(second.locator(".r:not(.v) .b", has_text="Answer for both tabs")).to_have_count(1)


async def test_unread_badge_receipts_typing_ai_and_notices(page, chat_server, embed, host_site):
    from conftest import create_project_on
    from pocketping.actions.messages import send_ai_message
    from pocketping.hub import Event

    project = create_project_on(chat_server, "Shop", [host_site.origin], operator_name="Sarah")
    await page.goto(embed(project))
    await page.get_by_role("button", name="Open chat").click()
    await expect(page.get_by_role("dialog", name="Chat with Sarah")).to_be_visible()
    await page.get_by_role("textbox", name="Message").fill("Where is my order?")
    await page.keyboard.press("Enter")
    mine = page.locator(".r.v")
    await expect(mine).to_have_attribute("data-state", "sent")
    sid = await _session_id(chat_server, project)

    async def publish(frame: dict) -> None:
        async def go() -> None:  # on the server's own loop, where the hub lives
            chat_server.services.hub.publish(Event(frame["type"], project.id, sid, data=frame, widget_frame=frame))
        await chat_server.acall(go())

    # What the inbox and bridges publish: operator typing, delivery to the team.
    await publish({"type": "typing", "sender": "operator", "active": True, "operatorName": "Sarah"})
    await expect(page.get_by_text("Sarah is typing")).to_be_visible()
    await publish({"type": "typing", "sender": "operator", "active": False})
    await expect(page.get_by_text("Sarah is typing")).to_be_hidden()
    await publish({"type": "delivered", "seq": 1})
    await expect(mine).to_have_attribute("data-state", "delivered")

    await page.keyboard.press("Escape")
    await expect(page.get_by_role("button", name="Open chat", exact=True)).to_be_focused()
    async with rest(chat_server, project) as api:
        await api.post(f"/sessions/{sid}/messages", json={"text": "It ships today", "operatorName": "Sarah"})
    await expect(page.get_by_role("button", name="Open chat (1 unread)")).to_be_visible()
    await expect(mine).to_have_attribute("data-state", "read")
    await chat_server.acall(send_ai_message(chat_server.services, project.id, sid, "Tracking: see your email."))
    await expect(page.get_by_role("button", name="Open chat (2 unread)")).to_be_visible()
    await page.get_by_role("button", name="Open chat (2 unread)").click()
    ai = page.locator(".r", has_text="Tracking: see your email.")
    await expect(ai.locator(".ai")).to_have_text("AI")
    await expect(page.locator(".r:not(.v)", has_text="It ships today")).to_contain_text("Sarah")
    # Opening the chat told the server the visitor read everything: another tab shows no unread count.
    other = await page.context.new_page()
    await other.goto(page.url)
    await connected(other)
    await expect(other.get_by_role("button", name="Open chat", exact=True)).to_be_visible()
    async with rest(chat_server, project) as api:
        assert (await api.get(f"/sessions/{sid}")).json()["visitorReadSeq"] >= 3
        (await api.post(f"/sessions/{sid}/close")).raise_for_status()
    await expect(page.locator(".n")).to_have_text(["Conversation closed"])
    # Operators edit and delete (the inbox publishes these frames).
    async with rest(chat_server, project) as api:
        shipped = (await api.get(f"/sessions/{sid}/messages")).json()["messages"][1]
    assert shipped["text"] == "It ships today"
    # An edit over REST changes the bubble in place, marked "edited".
    async with rest(chat_server, project) as api:
        (await api.patch(f"/messages/{shipped['id']}", json={"text": "It ships **tomorrow**"})).raise_for_status()
    await expect(page.locator(".r:not(.v) .b strong")).to_have_text("tomorrow")
    await expect(page.locator(".r:not(.v)", has_text="tomorrow").locator(".t")).to_contain_text("edited")
    await expect(page.get_by_text("It ships today")).to_have_count(0)
    await publish({"type": "message_deleted", "message": {**shipped, "deletedAt": "2030-01-01T00:00:00.000Z"}})
    await expect(page.get_by_text("Message deleted")).to_be_visible()
    await expect(page.get_by_text("It ships")).to_have_count(0)
    await page.get_by_role("textbox", name="Message").fill("One more thing")
    await page.keyboard.press("Enter")
    await expect(page.locator(".n")).to_have_text(["Conversation closed", "Conversation reopened"])


async def test_hostile_text_is_rendered_inert(page, chat_server, widget_project, embed):
    await page.goto(embed(widget_project))
    await page.get_by_role("button", name="Open chat").click()
    hostile = '<img src=x onerror="window.pwned=1"> [me](javascript:window.pwned=2)'
    await page.get_by_role("textbox", name="Message").fill(hostile)
    await page.keyboard.press("Enter")
    await expect(page.locator(".r.v")).to_have_attribute("data-state", "sent")
    sid = await _session_id(chat_server, widget_project)
    hostile = ('<img src=x onerror="window.pwned=3"><script>window.pwned=4</script> '
               "[click](javascript:window.pwned=5) javascript:window.pwned=6 [ok](https://example.com/a?b=1) "
               "<a href=\"javascript:window.pwned=7\">x</a> **bold** _it_ snake_case_name 2 * 3 * 4")
    async with rest(chat_server, widget_project) as api:
        (await api.post(f"/sessions/{sid}/messages", json={"text": hostile})).raise_for_status()
    reply = page.locator(".r:not(.v) .b").last
    await expect(reply).to_contain_text('<img src=x onerror="window.pwned=3"><script>')
    root = page.locator("#pocketping-root")
    assert await root.locator("img, script, iframe").count() == 0
    links = reply.locator("a")
    await expect(links).to_have_count(1)
    await expect(links).to_have_attribute("href", "https://example.com/a?b=1")
    await expect(links).to_have_attribute("rel", "noopener noreferrer nofollow ugc")
    await expect(reply.locator("strong")).to_have_text("bold")
    await expect(reply.locator("em")).to_have_text(["it"])  # not snake_case_name, not 2 * 3 * 4
    assert await page.locator(".r.v a").count() == 0
    assert await page.evaluate("window.pwned") is None
    # Nothing but PocketPing leaks into the page's globals.
    assert await page.evaluate("typeof PocketPing") == "object"


async def test_custom_events_both_ways(page, chat_server, widget_project, host_site):
    init = {"publicKey": widget_project.public_key}
    url = host_site.add(f"""<!doctype html><html><head><script src="{chat_server.base_url}/widget.js" defer></script>
<script>addEventListener("DOMContentLoaded", () => {{
  PocketPing.init({init!r});
  window.got = [];
  const off = PocketPing.onEvent("coupon", (data, event) => window.got.push([data, event]));
  PocketPing.onEvent("ignored", () => window.got.push("unsubscribed handler ran"))();
  PocketPing.trigger("viewed_pricing", {{plan: "pro"}});  // before the connection is up
}})</script></head><body></body></html>""")
    await page.goto(url)
    async with rest(chat_server, widget_project) as api:
        await connected(page)
        sid = await _session_id(chat_server, widget_project)
        # The widget drops a queued frame from its stored outbox once the server acknowledged it.
        key = f"pocketping:{widget_project.public_key}"
        await page.wait_for_function(f"JSON.parse(localStorage.getItem('{key}')).q.length == 0")
        items = (await api.get(f"/sessions/{sid}/messages", params={"include_events": "true"})).json()["messages"]
        assert [(i["kind"], i["name"], i["data"]) for i in items] == [("event", "viewed_pricing", {"plan": "pro"})]
        (await api.post(f"/sessions/{sid}/events", json={"name": "ignored", "data": {}})).raise_for_status()
        coupon = {"name": "coupon", "data": {"code": "WELCOME10"}}
        (await api.post(f"/sessions/{sid}/events", json=coupon)).raise_for_status()
        await page.wait_for_function("window.got.length > 0")
        data, event = await page.evaluate("window.got[0]")
        assert data == {"code": "WELCOME10"}
        assert event["name"] == "coupon" and event["data"] == data and event["createdAt"].endswith("Z")
        # A reload does not fire old events again; a new one arrives once.
        await page.reload()
        coupon = {"name": "coupon", "data": {"code": "SECOND"}}
        (await api.post(f"/sessions/{sid}/events", json=coupon)).raise_for_status()
        await page.wait_for_function("window.got.length > 0")
        assert await page.evaluate("window.got.map(([d]) => d.code)") == ["SECOND"]


async def test_a_link_whose_text_is_another_address_shows_where_it_goes(page, chat_server, widget_project, embed):
    """F11/F12: [https://bank.example](https://evil.example/login) names evil.example; bubbles
    isolate their direction."""
    await page.goto(embed(widget_project))
    await page.get_by_role("button", name="Open chat").click()
    await page.get_by_role("textbox", name="Message").fill("hello")
    await page.keyboard.press("Enter")
    await expect(page.locator(".r.v")).to_have_attribute("data-state", "sent")
    sid = await _session_id(chat_server, widget_project)
    text = ("[https://bank.example](https://evil.example/login) [bank.example](https://bank.example/x) "
            "[our help pages](https://help.example/)")
    async with rest(chat_server, widget_project) as api:
        (await api.post(f"/sessions/{sid}/messages", json={"text": text})).raise_for_status()
    reply = page.locator(".r:not(.v) .b").last
    await expect(reply.locator("a")).to_have_text(["https://bank.example (evil.example)", "bank.example",
                                                   "our help pages"])
    await expect(reply).to_have_attribute("dir", "auto")
