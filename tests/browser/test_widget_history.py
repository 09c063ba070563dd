"""A long conversation: a page shows the latest 100 items and loads older ones as the visitor
scrolls to the top (`history` frames), until the first message, each once, in order."""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import expect

from .conftest import connected, rest

pytestmark = pytest.mark.asyncio(loop_scope="session")

ROWS = ("el => [...el.querySelectorAll('.r')].map(r => (/^(first|reply \\d+\\.)/.exec(r.textContent) || [])[0])"
        ".filter(Boolean)")

IN_VIEW = """(el, text) => {
  const row = [...el.querySelectorAll('.r')].find((r) => r.textContent.startsWith(text)).getBoundingClientRect()
  const box = el.getBoundingClientRect()
  return row.bottom > box.top && row.top < box.bottom
}"""


async def test_scrolling_up_loads_every_older_message_once(page, context, chat_server, widget_project, embed):
    await page.goto(embed(widget_project))
    await page.get_by_role("button", name="Open chat").click()
    await connected(page)
    box = page.get_by_role("textbox", name="Message")
    await box.fill("first")
    await box.press("Enter")
    log = page.get_by_role("log")
    await expect(log.locator(".r.v", has_text="first")).to_have_attribute("data-state", "sent")
    async with rest(chat_server, widget_project) as api:
        sid = (await api.get("/sessions")).json()["sessions"][0]["id"]
        for start in range(1, 250, 50):
            answers = await asyncio.gather(*(api.post(f"/sessions/{sid}/messages", json={"text": f"reply {i}."})
                                             for i in range(start, min(250, start + 50))))
            assert all(a.status_code == 201 for a in answers)
    seqs = {}  # reply text -> seq, the order the page must show
    async with rest(chat_server, widget_project) as api:
        after = 0
        while True:
            page_ = (await api.get(f"/sessions/{sid}/messages", params={"after_seq": after, "limit": 500})).json()
            seqs |= {m["text"]: m["seq"] for m in page_["messages"]}
            if not page_["nextCursor"]:
                break
            after = int(page_["nextCursor"])
    expected = sorted(seqs, key=seqs.get)
    assert len(expected) == 250

    await page.reload()
    await page.get_by_role("button", name="Open chat").click()
    await connected(page)
    await expect(log.locator(".r", has_text="reply")).to_have_count(100)
    shown = await log.evaluate(ROWS)
    assert shown == expected[-100:]
    # A reconnect that missed nothing keeps the older items within reach.
    await context.set_offline(True)
    await expect(page.locator("#pocketping-root .s")).to_have_text("Connecting…")
    await context.set_offline(False)
    await connected(page)
    # Scrolling to the top asks for the page before the oldest one shown; the visitor keeps their place.
    for count in (200, 250):
        top = await log.locator(".r", has_text="reply").first.text_content()
        await log.evaluate("el => el.scrollTop = 0")
        await expect(log.locator(".r", has_text="reply")).to_have_count(count - (count == 250))
        assert await log.evaluate(IN_VIEW, top.split(".")[0] + ".")  # the row that was at the top is still in view
        assert await log.evaluate("el => el.scrollTop") > 0
    shown = await log.evaluate(ROWS)
    assert len(shown) == 250 and shown == expected
    # Nothing older: scrolling to the top again asks for nothing more.
    await log.evaluate("el => el.scrollTop = 0")
    await expect(log.locator(".r", has_text="first")).to_have_count(1)
