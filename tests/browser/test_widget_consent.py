"""Consent in a real Chromium: with ``--consent required`` the widget shows the project's text and
an Accept button, sends no metadata and asks no email until it is clicked, then chats; with
``notice`` the text shows once (remembered across page views)."""

from __future__ import annotations

import orjson
import pytest
from playwright.async_api import expect
from sqlalchemy import text

from pocketping.actions.projects import update_project

from .conftest import connected, rest

pytestmark = pytest.mark.asyncio(loop_scope="session")

TEXT = "We keep this chat and the page you are on to answer you."


def _raw_meta(server, session_id: str) -> tuple[dict, str | None]:
    async def read() -> tuple[dict, str | None]:
        async with server.services.db.read() as tx:
            meta, consent = (await tx.conn.execute(text("SELECT meta, consent FROM sessions WHERE id = :id"),
                                                   {"id": session_id})).one()
            return orjson.loads(tx.decrypt(meta)), consent

    return server.call(read())


async def test_required_consent_then_chat(page, chat_server, widget_project, embed):
    chat_server.call(update_project(chat_server.services, widget_project.id, settings={
        "consent": "required", "consent_text": TEXT, "offline_form": True}))
    url = embed(widget_project)
    await page.goto(url)
    await page.get_by_role("button", name="Open chat").click()
    await connected(page)
    notice = page.locator("#pocketping-root form", has=page.get_by_role("button", name="Accept"))
    await expect(notice).to_be_visible()
    await expect(notice).to_contain_text(TEXT)
    await expect(page.get_by_role("textbox", name="Message")).to_be_hidden()
    async with rest(chat_server, widget_project) as api:
        [session] = (await api.get("/sessions")).json()["sessions"]
        assert _raw_meta(chat_server, session["id"]) == ({}, None)  # nothing before the click

        await page.get_by_role("button", name="Accept").click()
        await expect(notice).to_be_hidden()
        box = page.get_by_role("textbox", name="Message")
        await box.fill("Accepted, now my question")
        await page.get_by_role("button", name="Send").click()
        await expect(page.get_by_role("log").locator(".r.v", has_text="Accepted")).to_have_attribute(
            "data-state", "sent")
        meta, consent = _raw_meta(chat_server, session["id"])
        assert consent == "accepted" and meta["url"] == url and meta["title"] == "Shop" and meta["screen"]
        messages = (await api.get(f"/sessions/{session['id']}/messages")).json()["messages"]
        assert [m["text"] for m in messages] == ["Accepted, now my question"]

    # Accepted once: the next page view sends its metadata in the hello and shows no consent box.
    await page.reload()
    await page.get_by_role("button", name="Open chat").click()
    await connected(page)
    await expect(page.get_by_role("textbox", name="Message")).to_be_visible()
    await expect(page.get_by_role("button", name="Accept")).to_be_hidden()


async def test_notice_shows_the_text_once(page, chat_server, widget_project, embed):
    chat_server.call(update_project(chat_server.services, widget_project.id, settings={"consent_text": TEXT}))
    await page.goto(embed(widget_project))
    await page.get_by_role("button", name="Open chat").click()
    await connected(page)
    ok = page.get_by_role("button", name="OK")
    await expect(ok).to_be_visible()
    await expect(page.get_by_role("textbox", name="Message")).to_be_visible()  # the chat does not wait
    async with rest(chat_server, widget_project) as api:
        [session] = (await api.get("/sessions")).json()["sessions"]
    assert _raw_meta(chat_server, session["id"])[1] is None
    # A first page view: the metadata follows the welcome (the mode was not known before it), ahead
    # of the first message (frames are handled in order).
    await page.get_by_role("textbox", name="Message").fill("Hello")
    await page.get_by_role("button", name="Send").click()
    await expect(page.get_by_role("log").locator(".r.v", has_text="Hello")).to_have_attribute("data-state", "sent")
    assert _raw_meta(chat_server, session["id"])[0]["title"] == "Shop"
    await ok.click()
    await expect(ok).to_be_hidden()
    await page.get_by_role("textbox", name="Message").fill("Seen it")
    await page.get_by_role("button", name="Send").click()
    await expect(page.get_by_role("log").locator(".r.v", has_text="Seen it")).to_have_attribute("data-state", "sent")
    assert _raw_meta(chat_server, session["id"])[1] == "accepted"  # the notice's OK is recorded too
    await page.reload()
    await page.get_by_role("button", name="Open chat").click()
    await connected(page)
    await expect(page.get_by_role("button", name="OK")).to_be_hidden()
