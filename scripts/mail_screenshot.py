"""Renders docs/email-reply.png: a reply mail as compose.build makes it, in headless Chromium.

    .venv/bin/python scripts/mail_screenshot.py
"""

import asyncio
from datetime import UTC, datetime
from email.headerregistry import Address

from playwright.async_api import async_playwright

from pocketping.mail import compose
from pocketping_testkit.mail import parts

mail = compose.Mail(
    kind="replies", project_name="Acme Shop", colour="#2563eb", locale="en",
    lines=(compose.Line("Bob", "Hi Ana! Yes, we ship to Norway.", datetime(2026, 12, 2, 10, tzinfo=UTC)),
           compose.Line("Bob", "Delivery takes 3-5 working days, and the pro plan includes phone support.",
                        datetime(2026, 12, 2, 10, 1, tzinfo=UTC))),
    sender=Address("Support", "support", "example.com"), to="ana@example.net", message_id="<x@example.com>",
    date=datetime(2026, 12, 2, 10, 6, tzinfo=UTC), continue_url="https://shop.example/pricing#pocketping=r1...",
    unsubscribe_url="https://chat.example.com/email/unsubscribe?t=u1...", reply_to="reply+abc@reply.example.com")
_, page_html = parts(compose.build(mail))


async def main():
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        page = await b.new_page(viewport={"width": 640, "height": 520})
        await page.set_content(page_html)
        await page.screenshot(path="docs/email-reply.png", full_page=True)
        await b.close()

asyncio.run(main())
