"""Files in the web inbox: a visitor's image shows inline and a file as a link; the operator
attaches (button), pastes and drops files into the reply, and they reach the widget."""

from __future__ import annotations

import io

import httpx
import pytest
from PIL import Image
from playwright.async_api import expect

from .conftest import fire_file
from .test_inbox import conversations, operator_for, sign_in, widget_visitor

pytestmark = pytest.mark.asyncio(loop_scope="session")


def png(color: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (24, 18), color).save(out, "PNG")
    return out.getvalue()


PASTE_ON = "document.getElementById('reply')"
DROP_ON = "document.getElementById('reply-form')"


async def fire(page, kind: str, name: str, ctype: str, data: bytes) -> None:
    await fire_file(page, kind, PASTE_ON if kind == "paste" else DROP_ON, name, ctype, data)


async def test_the_inbox_shows_files_and_sends_them(page, chat_server, widget_project, host_site):
    visitor = await widget_visitor(chat_server, widget_project, origin=host_site.origin)
    token = {"Authorization": f"Bearer {visitor.token}", "Origin": host_site.origin}
    async with httpx.AsyncClient(base_url=chat_server.base_url) as http:
        up = await http.post("/api/v1/widget/uploads", headers=token,
                             files={"file": ("screen.png", png((200, 0, 0)), "image/png")})
        doc = await http.post("/api/v1/widget/uploads", headers=token,
                              files={"file": ("notes.txt", b"some notes\n", "text/plain")})
    await visitor.send({"type": "message", "clientId": "v1", "text": "look",
                        "attachments": [up.json()["id"], doc.json()["id"]]})
    await visitor.expect("ack", clientId="v1")

    await sign_in(page, chat_server, await operator_for(chat_server, widget_project.id))
    await conversations(page).get_by_role("link").first.click()
    timeline = page.get_by_role("log", name="Messages")
    image = timeline.get_by_role("img", name="screen.png")
    await expect(image).to_be_visible()
    assert await image.evaluate("i => i.naturalWidth") == 24
    await expect(timeline.get_by_role("link", name="notes.txt (1 KB)")).to_be_visible()

    async with page.expect_file_chooser() as chooser:
        await page.get_by_role("button", name="Attach a file").click()
    await (await chooser.value).set_files([{"name": "invoice.pdf", "mimeType": "application/pdf",
                                            "buffer": b"%PDF-1.4\n%%EOF\n"}])
    pending = page.get_by_role("list", name="Files to send")
    await expect(pending).to_contain_text("invoice.pdf")
    await fire(page, "paste", "pasted.png", "image/png", png((0, 0, 200)))
    await fire(page, "drop", "dropped.txt", "text/plain", b"dropped\n")
    await fire(page, "drop", "extra.txt", "text/plain", b"removed before sending\n")
    await expect(pending.get_by_role("listitem")).to_have_count(4)
    await page.get_by_role("button", name="Remove extra.txt").click()
    await page.get_by_label("Reply").fill("Here are your files")
    await page.get_by_role("button", name="Send").click()
    await expect(pending.get_by_role("listitem")).to_have_count(0)
    await expect(timeline.get_by_role("img", name="pasted.png")).to_be_visible()

    frame = await visitor.expect("message", timeout=10)
    while frame["message"]["sender"] != "operator":
        frame = await visitor.expect("message", timeout=10)
    assert frame["message"]["text"] == "Here are your files"
    assert sorted(a["name"] for a in frame["message"]["attachments"]) == ["dropped.txt", "invoice.pdf", "pasted.png"]
    await visitor.close()
