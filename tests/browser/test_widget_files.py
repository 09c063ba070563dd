"""Attachments in the widget, in Chromium, on a host page of another origin: the "Attach a file"
button, a pasted image and a dropped PDF reach the server byte for byte (images: same pixels,
no metadata), show as a thumbnail or a link with name and size; refused files say why and can
be retried or cancelled; an operator's file appears in the widget."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from playwright.async_api import expect

from .conftest import connected, fire_file, rest

pytestmark = pytest.mark.asyncio(loop_scope="session")


def png(color: tuple[int, int, int], size: tuple[int, int] = (30, 20)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def same_pixels(a: bytes, b: bytes) -> bool:
    with Image.open(io.BytesIO(a)) as x, Image.open(io.BytesIO(b)) as y:
        return x.size == y.size and x.convert("RGB").tobytes() == y.convert("RGB").tobytes()


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"

PASTE_ON = "document.getElementById('pocketping-root').shadowRoot.querySelector('.p > form:not(.o) textarea')"
DROP_ON = "document.getElementById('pocketping-root').shadowRoot.querySelector('.p')"


async def fire(page, kind: str, name: str, ctype: str, data: bytes) -> None:
    await fire_file(page, kind, PASTE_ON if kind == "paste" else DROP_ON, name, ctype, data)


async def test_button_paste_and_drop_send_files_and_an_operator_file_arrives(page, chat_server, widget_project, embed):
    await page.goto(embed(widget_project))
    await page.get_by_role("button", name="Open chat").click()
    await connected(page)
    log = page.get_by_role("log")
    first, second = png((250, 10, 10)), png((10, 250, 10), (16, 16))

    async with page.expect_file_chooser() as chooser:
        await page.get_by_role("button", name="Attach a file").click()
    await (await chooser.value).set_files([{"name": "error.png", "mimeType": "image/png", "buffer": first}])
    await expect(log.locator(".r.v img[alt='error.png']")).to_be_visible()
    await fire(page, "paste", "image.png", "image/png", second)
    await expect(log.locator(".r.v img[alt='image.png']")).to_be_visible()
    await fire(page, "drop", "invoice.pdf", "application/pdf", PDF)
    pdf_link = log.locator(".r.v a", has_text="invoice.pdf")
    await expect(pdf_link).to_have_text("invoice.pdf (1 KB)")
    await expect(log.locator(".r.v[data-state='sent'] a")).to_have_count(3)
    # The thumbnail opens the full image; it loads from the server (a signed link).
    thumb = log.locator(".r.v img[alt='error.png']")
    assert await thumb.evaluate("i => i.naturalWidth") == 30
    assert await log.locator(".r.v a:has(img[alt='error.png'])").get_attribute("target") == "_blank"

    async with rest(chat_server, widget_project) as api:
        sid = (await api.get("/sessions")).json()["sessions"][0]["id"]
        stored = (await api.get(f"/sessions/{sid}/messages")).json()["messages"]
        files = [m["attachments"][0] for m in stored]
        assert [f["name"] for f in files] == ["error.png", "image.png", "invoice.pdf"]
        got = [(await api.get(f"/files/{f['id']}")).content for f in files]
        assert same_pixels(got[0], first) and same_pixels(got[1], second) and got[2] == PDF

        up = await api.post("/files", files={"file": ("price-list.csv", b"item,price\nmug,12\n", "text/csv")})
        reply = {"text": "Here you go", "attachments": [up.json()["id"]], "operatorName": "Sarah"}
        sent = await api.post(f"/sessions/{sid}/messages", json=reply)
        assert sent.status_code == 201
    reply = log.locator(".r:not(.v)", has_text="Here you go")
    await expect(reply.locator("a")).to_have_text("price-list.csv (1 KB)")


async def test_a_refused_file_says_why_and_can_be_retried_or_cancelled(page, chat_server, widget_project, embed):
    await page.goto(embed(widget_project))
    await page.get_by_role("button", name="Open chat").click()
    await connected(page)
    log = page.get_by_role("log")
    await fire(page, "drop", "setup.pdf", "application/pdf", b"MZ\x90\x00" + b"\x00" * 500)  # a renamed program
    alert = log.get_by_role("alert")
    await expect(alert).to_have_text("Type not allowed")
    await log.get_by_role("button", name="Retry").click()
    await expect(alert).to_have_text("Type not allowed")  # tried again, refused again
    await log.get_by_role("button", name="Cancel").click()
    await expect(log.locator(".r.v")).to_have_count(0)
    async with rest(chat_server, widget_project) as api:
        sessions = (await api.get("/sessions")).json()["sessions"]
        for s in sessions:
            assert (await api.get(f"/sessions/{s['id']}/messages")).json()["messages"] == []


async def test_the_button_is_localized(page, chat_server, widget_project, embed):
    await page.goto(embed(widget_project, locale="fr"))
    await page.get_by_role("button", name="Ouvrir le chat").click()
    await expect(page.get_by_role("button", name="Joindre un fichier")).to_be_visible()
