"""Replies by email, in a real browser: the offline form leaves an address, the page is closed,
the team replies, one mail arrives, and its link restores the conversation in the widget."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from playwright.async_api import expect

from conftest import create_project_on
from pocketping.actions.operators import add_operator
from pocketping.clock import FakeClock
from pocketping_testkit.inbox_client import InboxClient
from pocketping_testkit.mail import MailCatcher, advance, parts
from pocketping_testkit.server import ServerThread, make_settings
from pocketping_testkit.slack_bridge import connect_slack
from pocketping_testkit.uvicorn_thread import free_port

from .conftest import connected, rest

PASSWORD = "correct-horse-battery-staple"

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_the_mail_link_restores_the_conversation(browser, host_site, embed, tmp_path, fake_slack):
    with MailCatcher() as smtp:
        # Fake time that starts now, so the fake Slack's signed events are fresh.
        port, clock = free_port(), FakeClock(datetime.now(UTC))
        srv = ServerThread(make_settings(f"sqlite:///{tmp_path / 'mail.db'}", str(tmp_path / "data"),
                                         smtp_url=smtp.url, mail_from="Support <support@example.com>",
                                         public_url=f"http://127.0.0.1:{port}", slack_api_url=fake_slack.api_url,
                                         bridge_pacing="off"), clock=clock, port=port).start()
        try:
            project = create_project_on(srv, "Shop", [host_site.origin], offline_form=True)
            slack = connect_slack(fake_slack, srv, project.id)
            await srv.acall(add_operator(srv.services, "sam@example.com", project_ids=[project.id],
                                         password=PASSWORD, name="Sam"))
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
            # The team answers from Slack and from the inbox, within a minute.
            await slack.wait_reply("Do you ship to Norway?")
            await slack.say("Yes, we do!")
            async with InboxClient(srv.base_url) as inbox:
                await inbox.login("sam@example.com", PASSWORD)
                clock.advance(40)
                assert (await inbox.reply(session["id"], "Shipping takes 3 days.")).status_code == 201
            await advance(srv, 300, lambda: len(smtp.messages) >= 1)
            [mail] = smtp.wait_for(1)
            assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
            text, page_html = parts(mail)
            assert text.index("Yes, we do!") < text.index("Shipping takes 3 days.")  # both, in one mail
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
            assert len(smtp.messages) == 2  # still exactly one reply mail
            assert transcript["Subject"] == "Your conversation with Shop"
            assert "Do you ship to Norway?" in parts(transcript)[0]
            # The HTML mail, rendered in Chromium (the screenshot docs/email.md shows).
            await page.set_content(page_html)
            await expect(page.get_by_role("link", name="Continue the conversation")).to_be_visible()
            await second.close()
        finally:
            srv.stop()
