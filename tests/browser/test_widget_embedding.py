"""Embedding: strict CSP, keyboard only, phones, languages, the offline form, first paint, /demo."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from .conftest import connected, rest

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _send(page, text: str) -> None:
    await page.get_by_role("textbox", name="Message").fill(text)
    await page.keyboard.press("Enter")


async def test_one_line_embed_under_a_strict_content_security_policy(page, chat_server, widget_project, embed):
    server = chat_server.base_url
    csp = (f"default-src 'none'; script-src {server}; connect-src {chat_server.ws_url}; "
           "style-src 'none'; img-src 'none'; font-src 'none'; base-uri 'none'; form-action 'none'")
    url = embed(widget_project, data=True, primary_color="#0f766e", headers={"Content-Security-Policy": csp})
    problems: list[str] = []
    page.on("console", lambda msg: msg.type in ("error", "warning") and problems.append(msg.text))
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    await page.goto(url)
    launcher = page.get_by_role("button", name="Open chat")
    await expect(launcher).to_have_css("position", "fixed")  # the stylesheet applied, with no inline <style>
    await expect(launcher).to_have_css("background-color", "rgb(15, 118, 110)")
    await launcher.click()
    await _send(page, "Hello under CSP")
    await expect(page.locator(".r.v")).to_have_attribute("data-state", "sent")
    assert problems == []
    # Nothing is loaded from anywhere but the page and the PocketPing server.
    assert all(u.startswith((server, page.url.split("/page")[0])) for u in requests), requests


async def test_another_language_arrives_from_the_chat_server_under_a_strict_policy(page, chat_server,
                                                                                   widget_project, embed):
    # Only English is in the bundle: French comes from the chat server, which connect-src allows.
    server = chat_server.base_url
    csp = (f"default-src 'none'; script-src {server}; connect-src {chat_server.ws_url} {server}; "
           "style-src 'none'; img-src 'none'; font-src 'none'; base-uri 'none'; form-action 'none'")
    problems: list[str] = []
    page.on("console", lambda msg: msg.type in ("error", "warning") and problems.append(msg.text))
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url))
    await page.goto(embed(widget_project, data=True, locale="fr", headers={"Content-Security-Policy": csp}))
    await page.get_by_role("button", name="Ouvrir le chat").click()
    await expect(page.get_by_role("textbox", name="Message")).to_have_attribute("placeholder", "Écrivez un message…")
    await expect(page.get_by_role("button", name="Envoyer")).to_be_visible()
    assert f"{server}/widget/i18n/fr.txt" in fetched
    assert problems == []


async def test_keyboard_only(page, widget_project, embed):
    await page.goto(embed(widget_project))
    await connected(page)
    await page.keyboard.press("Tab")  # the page's own link comes first
    await page.keyboard.press("Tab")
    launcher = page.get_by_role("button", name="Open chat")
    await expect(launcher).to_be_focused()
    await page.keyboard.press("Enter")
    box = page.get_by_role("textbox", name="Message")
    await expect(box).to_be_focused()
    await page.keyboard.type("First line")
    await page.keyboard.press("Shift+Enter")  # a new line, not a send
    await page.keyboard.type("second line")
    await page.keyboard.press("Enter")
    await expect(page.locator(".r.v .b")).to_have_text(["First line\nsecond line"])
    await expect(page.locator(".r.v")).to_have_attribute("data-state", "sent")
    await expect(box).to_have_value("")
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("button", name="Send")).to_be_focused()
    await page.keyboard.press("Escape")
    await expect(page.get_by_role("dialog")).to_be_hidden()
    await expect(page.get_by_role("button", name="Open chat")).to_be_focused()
    await page.keyboard.press("Space")
    await expect(page.get_by_role("dialog")).to_be_visible()


async def test_mobile_viewport_is_full_screen(browser, widget_project, embed):
    context = await browser.new_context(viewport={"width": 375, "height": 667}, is_mobile=True, has_touch=True,
                                        device_scale_factor=2, reduced_motion="reduce")
    try:
        page = await context.new_page()
        await page.goto(embed(widget_project))
        await page.get_by_role("button", name="Open chat").tap()
        dialog = page.get_by_role("dialog")
        await expect(dialog).to_be_visible()
        # No opening animation with reduced motion: the panel is where it ends up at once.
        assert await dialog.evaluate("e => getComputedStyle(e).animationName") == "none"
        box = await dialog.bounding_box()
        assert {k: round(v) for k, v in box.items()} == {"x": 0, "y": 0, "width": 375, "height": 667}
        await expect(page.get_by_role("button", name="Close chat")).to_be_hidden()  # the panel covers the screen
        await _send(page, "From my phone")
        await expect(page.locator(".r.v")).to_have_attribute("data-state", "sent")
        await page.get_by_role("button", name="Minimize").tap()
        await expect(dialog).to_be_hidden()
        await expect(page.get_by_role("button", name="Open chat")).to_be_visible()
    finally:
        await context.close()


async def test_rtl_locale_and_browser_language(browser, widget_project, embed):
    context = await browser.new_context(locale="fr-FR")
    try:
        page = await context.new_page()
        await page.goto(embed(widget_project))  # no locale option: the browser's language decides
        await page.get_by_role("button", name="Ouvrir le chat").click()
        box = page.get_by_role("textbox", name="Message")
        await expect(box).to_have_attribute("placeholder", "Écrivez un message…")
        await expect(page.get_by_role("button", name="Fermer le chat")).to_be_visible()

        await page.goto(embed(widget_project, locale="ar"))
        await page.get_by_role("button", name="فتح المحادثة").click()
        dialog = page.get_by_role("dialog")
        await expect(dialog).to_have_attribute("dir", "rtl")
        await expect(dialog).to_have_css("direction", "rtl")
        await page.get_by_role("textbox", name="رسالة").fill("مرحبا")
        await page.get_by_role("button", name="إرسال").click()
        mine = page.locator(".r.v")
        await expect(mine).to_have_attribute("data-state", "sent")
        # Our own messages sit at the inline end: the left in a right-to-left layout.
        panel, bubble = await dialog.bounding_box(), await mine.bounding_box()
        assert bubble["x"] + bubble["width"] < panel["x"] + panel["width"] / 2
    finally:
        await context.close()


async def test_offline_form_leaves_an_email(page, chat_server, host_site, embed):
    from conftest import create_project_on

    project = create_project_on(chat_server, "Shop", [host_site.origin], offline_form=True)
    await page.goto(embed(project))
    await page.get_by_role("button", name="Open chat").click()
    await expect(page.locator(".s")).to_have_text("Away")  # nobody answered lately
    await page.get_by_role("textbox", name="Email").fill("ana@example.com")
    await page.get_by_role("button", name="Notify me").click()
    await expect(page.get_by_text("Thanks! We'll reply to ana@example.com.")).to_be_visible()
    async with rest(chat_server, project) as api:
        session = (await api.get("/sessions")).json()["sessions"][0]
        assert session["identity"]["email"] == "ana@example.com"
    await page.reload()
    await page.get_by_role("button", name="Open chat").click()
    await connected(page)
    await expect(page.get_by_role("textbox", name="Email")).to_be_hidden()  # asked once


async def test_first_paint_has_no_layout_shift_and_does_not_block(page, chat_server, widget_project, embed):
    observe = """<script>
window.shifts = 0; window.longTasks = [];
new PerformanceObserver(l => l.getEntries().forEach(e => { window.shifts += e.value }))
  .observe({type: "layout-shift", buffered: true});
new PerformanceObserver(l => l.getEntries().forEach(e => window.longTasks.push(e.duration)))
  .observe({type: "longtask", buffered: true});
</script>"""
    await page.goto(embed(widget_project, head=observe, body="<p>" + "Some text of the page. " * 200 + "</p>"))
    await connected(page)
    await page.get_by_role("button", name="Open chat").click()
    await expect(page.get_by_role("dialog")).to_be_visible()
    assert await page.evaluate("window.shifts") == 0
    print("\nwidget first paint: long tasks", await page.evaluate("window.longTasks"))


async def test_demo_page_works_with_the_real_widget(page, chat_server):
    from pocketping.actions.projects import ensure_demo_project

    await chat_server.acall(ensure_demo_project(chat_server.services))
    await page.goto(chat_server.base_url + "/demo")
    await page.get_by_role("button", name="Open chat").click()
    await _send(page, "Hello from the demo page")
    await expect(page.locator(".r.v")).to_have_attribute("data-state", "sent")
