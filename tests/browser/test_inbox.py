"""The web inbox in a real Chromium against a real server, with the real widget as the visitor.

Locators are the accessible names the issue promises (labels, roles), so the markup contract
is what is tested.
"""

from __future__ import annotations

import asyncio
import re
import secrets

import pytest
from playwright.async_api import Browser, BrowserContext, Locator, Page, expect

from conftest import ProjectKeys, create_project_on  # tests/conftest.py
from pocketping.actions.operators import add_operator
from pocketping.crypto import generate_key
from pocketping_testkit.process import ServerProcess
from pocketping_testkit.server import ServerThread
from pocketping_testkit.widget_client import WidgetClient

from .conftest import connected, rest

pytestmark = pytest.mark.asyncio(loop_scope="session")

PASSWORD = "correct-horse-battery-staple"


async def operator_for(server: ServerThread, *project_ids: str, name: str = "Sarah") -> str:
    email = f"op-{secrets.token_hex(4)}@example.com"
    await server.acall(add_operator(server.services, email, project_ids=list(project_ids), password=PASSWORD,
                                    name=name))
    return email


async def sign_in(page: Page, server: ServerThread | ServerProcess, email: str, password: str = PASSWORD) -> None:
    await page.goto(server.base_url + "/inbox")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()


def conversations(page: Page) -> Locator:
    return page.get_by_role("navigation", name="Conversations")


async def widget_visitor(server: ServerThread, project: ProjectKeys, *texts: str,
                         origin: str | None = None) -> WidgetClient:
    """A visitor without a browser, where the test is not about the widget."""
    client = await WidgetClient.connect(server.ws_url, project.public_key, origin=origin)
    await client.synced()
    for text in texts:
        await client.say(text)
    return client


async def test_sign_in_see_a_new_conversation_live_reply_and_the_widget_shows_it(
        browser: Browser, page: Page, chat_server, widget_project, embed):
    await sign_in(page, chat_server, await operator_for(chat_server, widget_project.id))
    nav = conversations(page)
    await expect(nav.get_by_text("No conversations yet")).to_be_visible()

    # A visitor writes from the site, in another browser.
    visitor_context = await browser.new_context()
    try:
        visitor = await visitor_context.new_page()
        await visitor.goto(embed(widget_project))
        await visitor.get_by_role("button", name="Open chat").click()
        await connected(visitor)
        message_box = visitor.get_by_role("textbox", name="Message")
        await message_box.fill("Hello, is anyone there? <b>bold?</b>")
        await visitor.get_by_role("button", name="Send").click()

        # It appears in the inbox without a reload, named after the visitor, unread.
        await expect(nav.get_by_role("link")).to_have_count(1)
        async with rest(chat_server, widget_project) as api:
            visitor_id = (await api.get("/sessions")).json()["sessions"][0]["visitorId"]
        link = nav.get_by_role("link", name=f"Visitor {visitor_id[-6:]}", exact=True)
        await expect(link).to_be_visible()
        await expect(nav.get_by_role("listitem")).to_contain_text("1 unread")
        await link.click()
        log = page.get_by_role("log", name="Messages")
        await expect(log).to_contain_text("Hello, is anyone there? <b>bold?</b>")
        assert await log.locator("b").count() == 0  # text is text
        await expect(nav.get_by_role("listitem")).not_to_contain_text("unread")
        # Opening it marked it read: the visitor sees their message as read.
        visitor_log = visitor.get_by_role("log")
        mine = visitor_log.locator(".r.v", has_text="Hello, is anyone there?")
        await expect(mine).to_have_attribute("data-state", "read")

        # The visitor types; the operator sees it.
        await message_box.press_sequentially("one more")
        await expect(page.get_by_role("status").filter(has_text="is typing")).to_be_visible()

        # The operator replies; the widget shows it, signed with the operator's name.
        reply = page.get_by_role("textbox", name="Reply")
        await reply.fill("Hi! <i>Sarah</i> here.")
        await page.get_by_role("button", name="Send").click()
        await expect(reply).to_have_value("")
        await expect(log).to_contain_text("Hi! <i>Sarah</i> here.")
        await expect(visitor_log).to_contain_text("Hi! <i>Sarah</i> here.")
        await expect(visitor_log).to_contain_text("Sarah")

        # The visitor answers; it arrives in the open conversation.
        await message_box.fill("Thanks!")
        await visitor.get_by_role("button", name="Send").click()
        await expect(log).to_contain_text("Thanks!")

        # The operator edits the reply in place: the inbox and the widget show the new text, marked edited.
        page.once("dialog", lambda dialog: dialog.accept("Hi! Sarah here, corrected."))
        await log.locator(".msg.operator").get_by_role("button", name="Edit").click()
        await expect(log.locator(".msg.operator")).to_contain_text("Hi! Sarah here, corrected.")
        await expect(log.locator(".msg.operator")).to_contain_text("edited")
        await expect(visitor_log.locator(".r:not(.v)", has_text="Sarah here, corrected.")).to_contain_text("edited")
        await expect(visitor_log).not_to_contain_text("<i>Sarah</i>")

        # The operator deletes the reply (after confirming): gone from the inbox and the widget.
        page.once("dialog", lambda dialog: dialog.accept())
        await log.locator(".msg.operator").get_by_role("button", name="Delete").click()
        await expect(log.locator(".msg.operator")).to_contain_text("Message deleted")
        await expect(log).not_to_contain_text("Sarah here, corrected.")
        await expect(log.locator(".msg.operator").get_by_role("button", name="Delete")).to_have_count(0)
        await expect(visitor_log).to_contain_text("Message deleted")
        await expect(visitor_log).not_to_contain_text("Sarah here, corrected.")

        # Close, reopen, and the AI switch.
        await page.get_by_role("button", name="Close conversation").click()
        await expect(page.get_by_role("button", name="Reopen conversation")).to_be_visible()
        await expect(log).to_contain_text("Conversation closed")
        await page.get_by_role("button", name="Reopen conversation").click()
        await expect(page.get_by_role("button", name="Close conversation")).to_be_visible()
        # Sarah's reply turned the AI fallback off for this conversation; the switch says so.
        ai = page.get_by_role("switch", name="AI answers")
        await expect(ai).not_to_be_checked()
        async with page.expect_response(re.compile(r"/ai$")):
            await ai.check()
        async with rest(chat_server, widget_project) as api:
            session = (await api.get("/sessions")).json()["sessions"][0]
        assert session["aiEnabled"] is True and session["status"] == "active"
        async with page.expect_response(re.compile(r"/ai$")):
            await ai.uncheck()
        async with rest(chat_server, widget_project) as api:
            session = (await api.get("/sessions")).json()["sessions"][0]
        assert session["aiEnabled"] is False
    finally:
        await visitor_context.close()


async def test_a_wrong_password_and_a_missing_csrf_token_are_refused(page: Page, chat_server, widget_project,
                                                                    host_site):
    email = await operator_for(chat_server, widget_project.id)
    visitor = await widget_visitor(chat_server, widget_project, "hello", origin=host_site.origin)
    # Signed out, following a link to the conversation (as the chat apps' session cards give).
    await page.goto(f"{chat_server.base_url}/inbox#{visitor.session_id}")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill("not-the-password")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_have_text("Wrong email or password.")
    await expect(conversations(page)).to_have_count(0)
    await expect(page.get_by_label("Email")).to_have_value(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    # Signed in, on the conversation the link pointed at.
    await expect(page.get_by_role("log", name="Messages")).to_contain_text("hello")

    url = f"{chat_server.base_url}/inbox/api/conversations/{visitor.session_id}/messages"
    # The browser's own cookie, but no CSRF token: refused, nothing stored.
    forged = await page.request.post(url, data={"text": "forged"})
    assert forged.status == 403 and (await forged.json())["error"]["code"] == "csrf_failed"
    # The same request with the page's token goes through (so the token is what made the difference).
    token = await page.locator('meta[name="csrf-token"]').get_attribute("content")
    real = await page.request.post(url, data={"text": "real"}, headers={"X-CSRF-Token": token or ""})
    assert real.status == 201
    async with rest(chat_server, widget_project) as api:
        stored = (await api.get(f"/sessions/{visitor.session_id}/messages")).json()["messages"]
    assert [m["text"] for m in stored] == ["hello", "real"]
    await visitor.close()


async def test_an_operator_of_one_project_cannot_see_another_projects_sessions(page: Page, chat_server):
    mine = create_project_on(chat_server, "Mine")
    theirs = create_project_on(chat_server, "Theirs")
    await sign_in(page, chat_server, await operator_for(chat_server, mine.id))
    nav = conversations(page)
    await expect(nav).to_be_visible()
    other = await widget_visitor(chat_server, theirs, "a secret of another project")
    own = await widget_visitor(chat_server, mine, "my question")
    await expect(nav.get_by_role("link")).to_have_count(1)
    await expect(nav).to_contain_text("my question")
    # Live, too: the other project's visitor writes, then ours; only ours shows up.
    await other.say("another secret")
    await own.say("my second question")
    await expect(nav).to_contain_text("my second question")
    await expect(nav.get_by_role("link")).to_have_count(1)
    # Asking for the other project's session by its id shows nothing of it.
    await page.goto(f"{chat_server.base_url}/inbox#{other.session_id}")
    await expect(page.get_by_role("alert")).to_contain_text("not found")
    await expect(page.locator("body")).not_to_contain_text("secret")
    for client in (other, own):
        await client.close()


async def test_the_quick_start_chat_with_yourself_from_demo_to_inbox(context: BrowserContext, tmp_path):
    """The README's Quick start as a newcomer follows it: `pocketping serve --demo` (what `make serve`
    runs) prints the demo operator's credentials; /demo in one tab, /inbox in another."""
    srv = ServerProcess(f"sqlite:///{tmp_path / 'demo.db'}", tmp_path, encryption_key=generate_key(),
                        args=("--demo",))
    await asyncio.to_thread(srv.start)
    try:
        printed = srv.log()
        email = re.search(r"email:\s+(\S+)", printed)
        password = re.search(r"password:\s+(\S+)", printed)
        assert email and password, printed

        demo = await context.new_page()
        await demo.goto(srv.base_url + "/demo")
        await demo.get_by_role("button", name="Open chat").click()
        await connected(demo)
        await demo.get_by_role("textbox", name="Message").fill("Hi, I am trying PocketPing")
        await demo.get_by_role("button", name="Send").click()

        inbox = await context.new_page()
        await sign_in(inbox, srv, email.group(1), password.group(1))  # type: ignore[arg-type]
        await conversations(inbox).get_by_role("link").click()
        await expect(inbox.get_by_role("log", name="Messages")).to_contain_text("Hi, I am trying PocketPing")
        await inbox.get_by_role("textbox", name="Reply").fill("Welcome! This answer comes from the inbox.")
        await inbox.get_by_role("button", name="Send").click()
        await expect(demo.get_by_role("log")).to_contain_text("Welcome! This answer comes from the inbox.")
    finally:
        await asyncio.to_thread(srv.stop)


async def test_an_identity_the_visitor_typed_is_marked_unverified(page: Page, chat_server):
    """F8: whatever name or email a visitor sends in identify is not taken for a fact."""
    project = create_project_on(chat_server, "Identity shop")
    await sign_in(page, chat_server, await operator_for(chat_server, project.id))
    claimed = await widget_visitor(chat_server, project)
    await claimed.send({"type": "identify", "id": "u-1", "name": "Your Bank", "email": "security@bank.example"})
    await claimed.expect("identified")
    await claimed.say("Please confirm your password")
    nav = conversations(page)
    item = nav.get_by_role("listitem").filter(has_text="Your Bank")
    await expect(item).to_contain_text("Unverified")
    await nav.get_by_role("link", name="Your Bank", exact=True).click()
    head = page.locator("#identity-tag")
    await expect(head).to_be_visible()
    await expect(head).to_have_text("Unverified")
    await expect(page.locator("#details")).to_contain_text("Unverified: the visitor gave this name and email")

    anonymous = await widget_visitor(chat_server, project, "just asking")
    await nav.get_by_role("link", name=f"Visitor {anonymous.welcome['visitorId'][-6:]}", exact=True).click()
    await expect(head).to_be_hidden()
    await expect(nav.get_by_role("listitem").filter(has_text="just asking")).not_to_contain_text("Unverified")
    await claimed.close()
    await anonymous.close()


async def test_a_frame_about_one_conversation_leaves_the_other_rows_as_they_are(page: Page, chat_server):
    """The list is drawn again on every frame; a row that reads the same stays the same element,
    so a click on it (or the focus, or a screen reader's place) is not lost to a frame about
    another conversation."""
    project = create_project_on(chat_server, "Rows")
    await sign_in(page, chat_server, await operator_for(chat_server, project.id))
    ana = await widget_visitor(chat_server, project, "First question")
    bob = await widget_visitor(chat_server, project, "Second question")
    nav = conversations(page)
    await expect(nav.get_by_role("link")).to_have_count(2)
    first = await nav.get_by_role("listitem").filter(has_text="First question").get_by_role("link").element_handle()
    await bob.say("and another thing")
    await expect(nav).to_contain_text("and another thing")  # the frame about Bob was drawn
    assert await first.evaluate("link => link.isConnected")
    await ana.close()
    await bob.close()


async def test_the_inbox_says_when_a_visitors_email_gets_no_mail(page: Page, chat_server, widget_project, host_site):
    """chat_server has no SMTP: beside the visitor's email the details say replies are not mailed."""
    await sign_in(page, chat_server, await operator_for(chat_server, widget_project.id))
    visitor = await widget_visitor(chat_server, widget_project, "Please email me the answer", origin=host_site.origin)
    await visitor.send({"type": "contact", "email": "ana@example.net"})
    await visitor.expect("contact")
    link = conversations(page).get_by_role("link", name="ana@example.net")
    await link.click()
    details = page.locator("#details")
    await expect(details).to_contain_text("ana@example.net")
    await expect(details).to_contain_text("Replies by email")
    await expect(details).to_contain_text("this server sends no mail (POCKETPING_SMTP_URL is not set)")
    await visitor.close()
