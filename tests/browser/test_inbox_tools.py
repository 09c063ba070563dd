"""The team's tools in the inbox, in a real Chromium: search (and, as they come, the others).

The server runs on a FakeClock, so "last week" is a real week before the search.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Page, expect

from conftest import create_project_on  # tests/conftest.py
from pocketping.clock import FakeClock
from pocketping_testkit.server import ServerThread, make_settings

from .test_inbox import conversations, operator_for, sign_in, widget_visitor

pytestmark = pytest.mark.asyncio(loop_scope="session")


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
