"""The whole path in Chromium, on a foreign-origin host page: a visitor attaches a PNG (the
button), pastes a second image and drops a PDF; each appears in the widget, in the inbox and at
the Telegram, Discord and Slack fakes with the same bytes (images: the same pixels, without
metadata); an operator's photo from Telegram, a file from Slack and one from the inbox appear
in the widget."""

from __future__ import annotations

import io

import pytest
from PIL import Image, PngImagePlugin
from playwright.async_api import expect

from conftest import create_project_on  # tests/conftest.py
from pocketping_testkit.bridges import connect_discord, connect_telegram
from pocketping_testkit.slack_bridge import connect_slack

from .conftest import connected, fire_file
from .test_inbox import conversations, operator_for, sign_in

pytestmark = pytest.mark.asyncio(loop_scope="session")

SHADOW = "document.getElementById('pocketping-root').shadowRoot"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def png(color: tuple[int, int, int], size: tuple[int, int]) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Location", "48.85, 2.35")  # metadata that must not travel
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def pixels(data: bytes) -> tuple[tuple[int, int], bytes]:
    with Image.open(io.BytesIO(data)) as img:
        return img.size, img.convert("RGB").tobytes()


async def test_files_from_the_browser_reach_everyone_and_come_back(browser, page, make_server, host_site, embed,
                                                                  fake_telegram, fake_slack, fake_discord):
    srv = make_server(telegram_api_url=fake_telegram.url, slack_api_url=fake_slack.api_url,
                      discord_api_url=fake_discord.api_url, rate_limit_uploads_per_minute=0)
    project = create_project_on(srv, "Files shop", [host_site.origin])
    tg = connect_telegram(fake_telegram, srv, project.id)
    slack = connect_slack(fake_slack, srv, project.id)
    discord = connect_discord(fake_discord, srv, project.id)
    first, second = png((220, 20, 60), (30, 20)), png((20, 120, 220), (16, 16))

    await page.goto(embed(project, server=srv))
    await page.get_by_role("button", name="Open chat").click()
    await connected(page)
    log = page.get_by_role("log")
    async with page.expect_file_chooser() as chooser:
        await page.get_by_role("button", name="Attach a file").click()
    await (await chooser.value).set_files([{"name": "error.png", "mimeType": "image/png", "buffer": first}])
    await expect(log.locator(".r.v[data-state] img[alt='error.png']")).to_be_visible()
    composer = f"{SHADOW}.querySelector('.p > form:not(.o) textarea')"
    await fire_file(page, "paste", composer, "pasted.png", "image/png", second)
    await expect(log.locator(".r.v img[alt='pasted.png']")).to_be_visible()
    await fire_file(page, "drop", f"{SHADOW}.querySelector('.p')", "invoice.pdf", "application/pdf", PDF)
    await expect(log.locator(".r.v a", has_text="invoice.pdf")).to_be_visible()
    await expect(log.locator(".r.v[data-state='delivered'], .r.v[data-state='read']")).to_have_count(3)

    def same(got: dict[str, bytes]) -> bool:
        return (set(got) == {"error.png", "pasted.png", "invoice.pdf"} and pixels(got["error.png"]) == pixels(first)
                and pixels(got["pasted.png"]) == pixels(second) and got["invoice.pdf"] == PDF
                and not any(b"48.85" in data for data in got.values()))

    await fake_telegram.wait_for(lambda: len([m for m in tg.posts() if m.file is not None]) == 3, timeout=30)
    assert same({m.file.filename: m.file.data for m in tg.posts() if m.file is not None})
    await fake_slack.wait_until(lambda: len(fake_slack.files.uploaded(slack.channel.id)) == 3, 30, what="3 files")
    assert same({f.name: f.data for f in fake_slack.files.uploaded(slack.channel.id)})  # type: ignore[misc]
    await fake_discord.wait_until(lambda: len(discord.threads()) == 1
                                  and len(fake_discord.files_in(discord.thread()["id"])) == 3, 30)
    assert same(dict(fake_discord.files_in(discord.thread()["id"])))

    # The inbox shows them: the images inline, the PDF as a link.
    operator_context = await browser.new_context()
    try:
        inbox = await operator_context.new_page()
        await sign_in(inbox, srv, await operator_for(srv, project.id))
        await conversations(inbox).get_by_role("link").first.click()
        timeline = inbox.get_by_role("log", name="Messages")
        await expect(timeline.get_by_role("img", name="error.png")).to_be_visible()
        await expect(timeline.get_by_role("img", name="pasted.png")).to_be_visible()
        await expect(timeline.get_by_role("link", name="invoice.pdf (1 KB)")).to_be_visible()

        # Operators answer with files: a photo in Telegram, a file in Slack, one from the inbox.
        fake_telegram.operator_sends_file(tg.chat_id, tg.topic().id, "fix.png", png((0, 160, 0), (12, 12)),
                                          "image/png", caption="try this", photo=True)
        photo = log.locator(".r:not(.v)", has_text="try this").locator("img")  # Telegram photos have no name
        await expect(photo).to_be_visible(timeout=20000)
        await fake_slack.operator_shares_file(slack.channel.id, slack.card()["ts"], "steps.txt", b"1. restart\n",
                                              "text/plain", text="the steps")
        await expect(log.locator(".r:not(.v) a", has_text="steps.txt")).to_be_visible(timeout=20000)
        async with inbox.expect_file_chooser() as chooser:
            await inbox.get_by_role("button", name="Attach a file").click()
        await (await chooser.value).set_files([{"name": "receipt.pdf", "mimeType": "application/pdf",
                                                "buffer": PDF}])
        await expect(inbox.get_by_role("list", name="Files to send")).to_contain_text("receipt.pdf")
        await inbox.get_by_role("button", name="Send").click()
        await expect(log.locator(".r:not(.v) a", has_text="receipt.pdf")).to_be_visible(timeout=20000)
        # The operators' files load in the visitor's browser (signed links, from the host page's origin).
        assert await photo.evaluate("i => i.naturalWidth") == 12
    finally:
        await operator_context.close()
