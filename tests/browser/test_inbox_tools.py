"""The team's tools in the inbox, in a real Chromium: search (and, as they come, the others).

The server runs on a FakeClock, so "last week" is a real week before the search.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Page, expect

from conftest import create_project_on  # tests/conftest.py
from pocketping.clock import FakeClock
from pocketping_testkit.server import ServerThread, make_settings
from pocketping_testkit.widget_client import WidgetClient

from .test_inbox import conversations, operator_for, sign_in, widget_visitor

pytestmark = pytest.mark.asyncio(loop_scope="session")

ANONYMOUS = re.compile(r"^Visitor \w{6}$")


@pytest.fixture(scope="module")
def clock() -> FakeClock:
    return FakeClock(datetime.now(UTC) - timedelta(days=8))


@pytest.fixture(scope="module")
def team_server(tmp_path_factory: pytest.TempPathFactory, clock: FakeClock) -> Iterator[ServerThread]:
    path = tmp_path_factory.mktemp("team")
    srv = ServerThread(make_settings(f"sqlite:///{path / 'team.db'}", str(path / "data")), clock=clock).start()
    yield srv
    srv.stop()


async def test_search_finds_a_word_from_last_weeks_message_and_opens_it(page: Page, team_server, clock):
    project = create_project_on(team_server, "Shop")
    old = await widget_visitor(team_server, project, "Hello", "Where is my invoice for the blue kayak?",
                               "Thanks in advance")
    await old.close()
    clock.advance(7 * 86400)
    recent = await widget_visitor(team_server, project, "Do you ship kayaks to Norway?")
    await sign_in(page, team_server, await operator_for(team_server, project.id))
    await expect(conversations(page).get_by_role("link")).to_have_count(2)

    search = page.get_by_role("search")
    await search.get_by_role("searchbox", name="Search messages and visitors").fill("INVOICE kayak")
    await search.get_by_role("button", name="Search").click()
    results = page.get_by_role("region", name="Search results")
    await expect(results.get_by_role("status")).to_have_text("1 found for “INVOICE kayak”.")
    hit = results.get_by_role("link", name="Where is my invoice for the blue kayak?")
    await expect(hit).to_be_visible()
    written = (clock.now() - timedelta(days=7)).astimezone()
    await expect(results.get_by_role("listitem")).to_contain_text(f"{written:%b} {written.day}, {written.year}")

    await hit.click()
    log = page.get_by_role("log", name="Messages")
    found = log.get_by_role("listitem").filter(has_text="Where is my invoice for the blue kayak?")
    await expect(found).to_have_attribute("aria-current", "true")
    await expect(found).to_be_focused()
    await expect(log).to_contain_text("Thanks in advance")
    assert old.session_id in page.url

    # A prefix finds both conversations; back to the list afterwards.
    await search.get_by_role("searchbox").fill("kaya")
    await search.get_by_role("button", name="Search").click()
    await expect(results.get_by_role("status")).to_have_text("2 found for “kaya”.")
    await expect(results.get_by_role("link")).to_have_count(2)
    await results.get_by_role("button", name="Back to conversations").click()
    await expect(results).to_be_hidden()
    await recent.close()


async def test_assign_views_waiting_order_and_earlier_conversations(page: Page, team_server, clock):
    project = create_project_on(team_server, "Views")
    await operator_for(team_server, project.id, name="Tom")
    waited = await widget_visitor(team_server, project, "I have waited the longest")
    await waited.send({"type": "identify", "id": "u-9", "name": "Kim", "email": "kim@example.com"})
    await waited.expect("identified")
    clock.advance(60)
    later = await widget_visitor(team_server, project, "A later question")
    clock.advance(60)
    again = await widget_visitor(team_server, project, "Me again, from my phone")
    await again.send({"type": "identify", "id": "u-9", "name": "Kim (phone)", "email": "kim@example.com"})
    await again.expect("identified")
    await sign_in(page, team_server, await operator_for(team_server, project.id, name="Sarah"))
    nav = conversations(page)
    links = nav.get_by_role("link")
    await expect(links).to_have_count(3)
    await expect(links).to_have_text(["Kim (phone)", ANONYMOUS, "Kim"])

    # Waiting longest first.
    await nav.get_by_label("Sort").select_option(label="Waiting longest")
    await expect(links).to_have_text(["Kim", ANONYMOUS, "Kim (phone)"])

    # Assign one to me and one to Tom; the cards and the views follow.
    await links.filter(has_text="Visitor").click()
    assignee = page.get_by_label("Assigned to")
    await assignee.select_option(label="Sarah")
    await expect(nav.get_by_role("listitem").filter(has_text="Visitor")).to_contain_text("Assigned to me")
    await links.filter(has_text="Kim (phone)").click()
    await expect(page.get_by_role("heading", name="Kim (phone)")).to_be_visible()
    await assignee.select_option(label="Tom")
    await expect(nav.get_by_role("listitem").filter(has_text="Kim (phone)")).to_contain_text("Assigned to Tom")
    await nav.get_by_label("Show").select_option(label="Mine")
    await expect(links).to_have_text([ANONYMOUS])
    await nav.get_by_label("Show").select_option(label="Unassigned")
    await expect(links).to_have_text(["Kim"])
    await nav.get_by_label("Show").select_option(label="Open")
    await expect(links).to_have_count(3)

    # Kim's earlier conversation, from another device, is listed in the details.
    earlier = page.get_by_role("region", name="Earlier conversations")
    await expect(earlier.get_by_role("link", name="I have waited the longest")).to_be_visible()
    await earlier.get_by_role("link").click()
    await expect(page.get_by_role("heading", name="Kim", exact=True)).to_be_visible()
    for w in (waited, later, again):
        await w.close()


NOTIFICATION_SPY = """
window.__notifications = [];
const Real = window.Notification;
window.Notification = class extends Real {
  constructor(title, options) {
    super(title, options);
    window.__notifications.push({title, body: options && options.body});
  }
  static get permission() { return Real.permission; }
  static requestPermission() { return Real.requestPermission(); }
};
"""


async def test_note_saved_reply_notifications_and_keyboard(browser, team_server):
    project = create_project_on(team_server, "Tools")
    context = await browser.new_context()
    await context.grant_permissions(["notifications"], origin=team_server.base_url)
    await context.add_init_script(NOTIFICATION_SPY)  # a spy on the browser's API, not on our code
    page = await context.new_page()
    try:
        first = await widget_visitor(team_server, project, "Hello there")
        await first.send({"type": "identify", "id": "u-1", "name": "Ana", "email": "ana@example.com"})
        await first.expect("identified")
        await sign_in(page, team_server, await operator_for(team_server, project.id, name="Sarah"))
        nav = conversations(page)
        await expect(nav.get_by_role("link")).to_have_count(1)

        # The saved replies screen: add one.
        await page.get_by_role("button", name="Saved replies").click()
        screen = page.get_by_role("region", name="Saved replies")
        await screen.get_by_label("Shortcut").fill("hours")
        await screen.get_by_label("Text").fill("Hi {name}, we are open 9-17.")
        await screen.get_by_role("button", name="Save reply").click()
        await expect(screen.get_by_role("listitem")).to_contain_text("/hours")
        await screen.get_by_role("button", name="Back to conversations").click()

        # Keyboard: j opens the first conversation, r focuses the reply box; "/" offers saved replies.
        await page.locator("body").press("j")
        await expect(page.get_by_role("heading", name="Ana")).to_be_visible()
        await page.locator("body").press("r")
        reply = page.get_by_role("textbox", name="Reply")
        await expect(reply).to_be_focused()
        await reply.press_sequentially("/ho")
        offered = page.get_by_role("listbox", name="Saved replies").get_by_role("option")
        await expect(offered).to_have_count(1)
        await expect(offered).to_contain_text("/hours")
        await reply.press("Enter")
        await expect(reply).to_have_value("Hi Ana, we are open 9-17.")
        await reply.press("Enter")
        said = await first.expect("message", sender="operator")
        assert said["message"]["text"] == "Hi Ana, we are open 9-17."

        # A note: shown in the inbox as a note, never sent to the widget (live or replayed).
        await page.get_by_role("switch", name="Note").check()
        await reply.fill("Ana is a VIP, refund without questions")
        await reply.press("Enter")
        log = page.get_by_role("log", name="Messages")
        await expect(log.get_by_role("listitem").filter(has_text="refund without questions")).to_contain_text(
            "Note (the visitor does not see it)")
        await page.get_by_role("switch", name="Note").uncheck()
        await reply.fill("Anything else?")
        await reply.press("Enter")
        assert (await first.expect("message", sender="operator"))["message"]["text"] == "Anything else?"
        assert "refund without questions" not in str(first.pending)
        replay = await WidgetClient.connect(team_server.ws_url, project.public_key, token=first.token)
        assert "refund without questions" not in str(await replay.synced())
        await replay.close()

        # A notification for a new conversation, and for a message in one not on screen; mute silences them.
        second = await widget_visitor(team_server, project, "Is anyone there?")
        await expect(nav.get_by_role("link")).to_have_count(2)
        await page.wait_for_function("window.__notifications.length >= 1")
        shown = await page.evaluate("window.__notifications")
        assert shown[0]["title"].startswith("New conversation: Visitor") and shown[0]["body"] == "Is anyone there?"
        await second.say("Hello??")
        await page.wait_for_function("window.__notifications.length >= 2")
        assert (await page.evaluate("window.__notifications"))[1]["body"] == "Hello??"
        await page.get_by_role("switch", name="Mute").check()
        await second.say("muted now")
        await expect(nav.get_by_role("listitem").filter(has_text="muted now")).to_be_visible()
        assert len(await page.evaluate("window.__notifications")) == 2
        await page.reload()
        await expect(page.get_by_role("switch", name="Mute")).to_be_checked()  # remembered
        await expect(nav.get_by_role("link")).to_have_count(2)

        # e closes, a assigns to me, ? lists the shortcuts, / searches.
        await page.locator("body").press("a")
        await expect(page.get_by_label("Assigned to")).to_have_value(re.compile(r"^op_"))
        await page.locator("body").press("e")
        await expect(page.get_by_role("button", name="Reopen conversation")).to_be_visible()
        await page.locator("body").press("?")
        keys = page.get_by_role("dialog", name="Keyboard shortcuts")
        await expect(keys).to_contain_text("assign it to me")
        await keys.get_by_role("button", name="Close").click()
        await page.locator("body").press("/")
        await expect(page.get_by_role("searchbox")).to_be_focused()
        await second.close()
        await first.close()
    finally:
        await context.close()


async def test_a_rating_given_in_the_widget_is_shown_in_the_inbox(browser, page: Page, chat_server, widget_project,
                                                                   embed):
    from .conftest import connected, rest

    await page.goto(embed(widget_project))
    await page.get_by_role("button", name="Open chat").click()
    await connected(page)
    await page.get_by_role("textbox", name="Message").fill("Thanks, that solved it")
    await page.get_by_role("button", name="Send").click()
    async with rest(chat_server, widget_project) as api:
        sid = (await api.get("/sessions")).json()["sessions"][0]["id"]
        assert (await api.post(f"/sessions/{sid}/close")).status_code == 200
    widget = page.locator("#pocketping-root")
    await expect(widget.get_by_text("How was this conversation?")).to_be_visible()
    await widget.get_by_role("textbox", name="How was this conversation?").fill("Very helpful")
    await widget.get_by_role("button", name="4/5").click()
    await expect(widget.get_by_text("How was this conversation?")).to_be_hidden()
    await expect(widget.locator(".n")).to_have_text(["Conversation closed"])
    async with rest(chat_server, widget_project) as api:
        rating = (await api.get(f"/sessions/{sid}")).json()["rating"]
        assert rating["score"] == 4 and rating["scale"] == "stars" and rating["comment"] == "Very helpful"
        events = (await api.get("/events", params={"type": "session.rated"})).json()["events"]
        assert events[0]["data"]["rating"]["score"] == 4

    inbox_context = await browser.new_context()
    try:
        inbox = await inbox_context.new_page()
        await sign_in(inbox, chat_server, await operator_for(chat_server, widget_project.id))
        await inbox.get_by_label("Show").select_option(label="Closed")
        await conversations(inbox).get_by_role("link").first.click()
        await expect(inbox.locator("#details")).to_contain_text("★★★★☆ “Very helpful”")
    finally:
        await inbox_context.close()


async def test_the_stats_page(page: Page, team_server, clock):
    project = create_project_on(team_server, "Numbers")
    visitor = await widget_visitor(team_server, project, "Any news?")
    await sign_in(page, team_server, await operator_for(team_server, project.id, name="Sarah"))
    await expect(conversations(page).get_by_role("link")).to_have_count(1)
    await conversations(page).get_by_role("link").click()
    clock.advance(45)
    reply = page.get_by_role("textbox", name="Reply")
    await reply.fill("Yes: it shipped")
    await reply.press("Enter")
    await visitor.expect("message", sender="operator")
    await page.get_by_role("button", name="Stats").click()
    stats = page.get_by_role("region", name="Stats")
    await expect(stats.locator("#stats-figures")).to_contain_text("Conversations started1")
    await expect(stats.locator("#stats-figures")).to_contain_text("First response, p5045 s")
    await expect(stats.get_by_role("table", name="By day").get_by_role("row")).to_have_count(2)
    await visitor.close()
