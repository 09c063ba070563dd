"""Replies by email, in a real browser: the offline form leaves an address, the page is closed,
the team replies, one mail arrives, and its link restores the conversation in the widget."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from conftest import create_project_on
from pocketping.clock import FakeClock
from pocketping_testkit.mail import MailCatcher, parts
from pocketping_testkit.server import ServerThread, make_settings
from pocketping_testkit.uvicorn_thread import free_port

from .conftest import connected, rest

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_the_mail_link_restores_the_conversation(browser, host_site, embed, tmp_path):
    with MailCatcher() as smtp:
        port, clock = free_port(), FakeClock()
        srv = ServerThread(make_settings(f"sqlite:///{tmp_path / 'mail.db'}", str(tmp_path / "data"),
                                         smtp_url=smtp.url, mail_from="Support <support@example.com>",
                                         public_url=f"http://127.0.0.1:{port}"), clock=clock, port=port).start()
        try:
            project = create_project_on(srv, "Shop", [host_site.origin], offline_form=True)
            url = embed(project, server=srv)
            first = await browser.new_context()
            page = await first.new_page()
            await page.goto(url)
            await page.get_by_role("button", name="Open chat").click()
            await connected(page)
            await page.get_by_role("textbox", name="Message").fill("Do you ship to Norway?")
            await page.keyboard.press("Enter")
            await page.get_by_role("textbox", name="Email").fill("ana@example.com")
            await page.get_by_role("button", name="Notify me").click()
            await expect(page.get_by_text("Thanks! We'll reply to ana@example.com.")).to_be_visible()
            await first.close()  # the visitor leaves

            async with rest(srv, project) as api:
                session = (await api.get("/sessions")).json()["sessions"][0]
                for text in ("Yes, we do!", "Shipping takes 3 days."):
                    r = await api.post(f"/sessions/{session['id']}/messages", json={"text": text})
                    assert r.status_code == 201
            clock.advance(301)
            [mail] = smtp.wait_for(1)
            text, page_html = parts(mail)
            link = re.search(r"Continue the conversation: (\S+)", text).group(1)
            assert link.startswith(url) and "#pocketping=r1." in link

            second = await browser.new_context()  # another browser: nothing stored
            page = await second.new_page()
            await page.goto(link)
            await page.get_by_role("button", name=re.compile("Open chat")).click()
            await connected(page)
            log = page.get_by_role("log")
            await expect(log).to_contain_text("Do you ship to Norway?")
            await expect(log).to_contain_text("Shipping takes 3 days.")
            assert "pocketping=" not in page.url  # the token leaves the address bar
            # The address is known: the widget offers the transcript, mailed when the conversation closes.
            await page.get_by_role("button", name="Email me this conversation").click()
            await expect(page.get_by_role("button", name="Email me this conversation")).to_be_hidden()
            async with rest(srv, project) as api:
                await srv.acall(srv.node.outbox.wait_idle())
                assert (await api.post(f"/sessions/{session['id']}/close")).status_code == 200
            transcript = smtp.wait_for(2)[1]
            assert transcript["Subject"] == "Your conversation with Shop"
            assert "Do you ship to Norway?" in parts(transcript)[0]
            # The HTML mail, rendered in Chromium (the screenshot docs/email.md shows).
            await page.set_content(page_html)
            await expect(page.get_by_role("link", name="Continue the conversation")).to_be_visible()
            await second.close()
        finally:
            srv.stop()
