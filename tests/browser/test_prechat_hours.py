"""The pre-chat form and office hours, in Chromium."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.async_api import expect

from conftest import create_project_on
from pocketping.actions.presence import set_operator_status
from pocketping.actions.projects import update_project
from pocketping.clock import FakeClock
from pocketping_testkit.server import ServerThread, make_settings

from .conftest import connected, rest

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_required_prechat_form_blocks_the_chat_until_valid(page, chat_server, host_site, embed):
    project = create_project_on(chat_server, "Shop", [host_site.origin])
    chat_server.call(update_project(chat_server.services, project.id, settings={
        "prechat": "required", "consent_text": "We only use your email to answer you."}))
    await page.goto(embed(project))
    await page.get_by_role("button", name="Open chat").click()
    start = page.get_by_role("button", name="Start chat")
    await expect(start).to_be_visible()
    await expect(page.locator("#pocketping-root form:has(input)").get_by_text(
            "We only use your email to answer you.").filter(visible=True)).to_be_visible()
    await expect(page.get_by_role("textbox", name="Message")).to_have_count(1)  # the form's, not the composer
    await page.get_by_role("textbox", name="Name").fill("Ana Lima")
    await page.get_by_role("textbox", name="Email").fill("not-an-email")
    await page.get_by_role("textbox", name="Message").fill("Do you ship to Norway?")
    await start.click()
    assert await page.get_by_role("textbox", name="Email").evaluate("e => !e.checkValidity()")
    async with rest(chat_server, project) as api:
        assert (await api.get("/sessions")).json()["sessions"] == []  # nothing connected yet
    await page.get_by_role("textbox", name="Email").fill("ana@example.net")
    await start.click()
    await expect(page.get_by_role("log")).to_contain_text("Do you ship to Norway?")
    await expect(start).to_be_hidden()
    await connected(page)
    await expect(page.get_by_role("textbox", name="Message")).to_be_visible()  # the composer now
    async with rest(chat_server, project) as api:
        [session] = (await api.get("/sessions")).json()["sessions"]
        assert session["identity"]["name"] == "Ana Lima" and session["identity"]["email"] == "ana@example.net"


async def test_outside_office_hours_the_widget_shows_the_away_message(browser, host_site, embed, tmp_path):
    clock = FakeClock(datetime(2030, 1, 5, 14, 0, tzinfo=UTC))  # Saturday 15:00 in Paris
    srv = ServerThread(make_settings(f"sqlite:///{tmp_path / 'h.db'}", str(tmp_path / "data")), clock=clock).start()
    try:
        project = create_project_on(srv, "Shop", [host_site.origin])
        srv.call(update_project(srv.services, project.id, settings={
            "hours": "mon-fri 09:00-18:00; sat 10:00-13:00", "timezone": "Europe/Paris",
            "away_message": "We are closed: back on Monday at 9.",
            "consent_text": "Your email answers you, nothing else."}))
        srv.call(set_operator_status(srv.services, project.id, "online"))
        context = await browser.new_context()
        page = await context.new_page()
        url = embed(project, server=srv)
        await page.goto(url)
        await page.get_by_role("button", name="Open chat").click()
        await expect(page.locator("#pocketping-root .s")).to_have_text("Away")
        await expect(page.get_by_text("We are closed: back on Monday at 9.")).to_be_visible()
        await expect(page.get_by_role("textbox", name="Email")).to_be_visible()
        await expect(page.locator("#pocketping-root form:has(input)").get_by_text(
            "Your email answers you, nothing else.").filter(visible=True)).to_be_visible()
        clock.set(datetime(2030, 1, 7, 9, 0, tzinfo=UTC))  # Monday 10:00 in Paris
        await page.reload()
        await page.get_by_role("button", name="Open chat").click()
        await connected(page)
        await expect(page.locator("#pocketping-root .s")).to_have_text("Online")
        await expect(page.get_by_text("We are closed: back on Monday at 9.")).to_be_hidden()
        await context.close()
    finally:
        srv.stop()
