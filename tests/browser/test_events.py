"""Custom events in a real browser: the page's trigger() reaches the SDK (webhook and stream),
the backend's events reach the page's onEvent, and identify() needs a valid userHash."""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import expect
from pocketping_sdk import CustomEvent, PocketPing, Session

from pocketping.actions.projects import update_project
from pocketping_testkit.waiting import eventually
from webhooks.receiver import running_receiver

from .conftest import connected, rest

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_trigger_reaches_the_sdk_by_webhook_and_by_stream(page, chat_server, widget_project, embed):
    pp = PocketPing(secret_key=widget_project.secret_key, base_url=chat_server.base_url)
    with running_receiver() as receiver:
        hook = await pp.create_webhook(receiver.url, events=["event.triggered"])
        receiver.pp = PocketPing(secret_key=widget_project.secret_key, base_url=chat_server.base_url,
                                 webhook_secret=hook.secret)

        @receiver.pp.on_event("clicked_pricing")
        async def by_webhook(event: CustomEvent, session: Session) -> None:
            receiver.handled.put((event, session))

        stream = pp.stream(after=0, types=["event.triggered"])
        streamed = asyncio.ensure_future(anext(stream))
        await page.goto(embed(widget_project))
        await connected(page)
        await page.evaluate("PocketPing.trigger('clicked_pricing', {plan: 'pro', seats: 3})")

        event, session = await receiver.next_handled()
        assert event.name == "clicked_pricing" and event.data == {"plan": "pro", "seats": 3}
        assert session.id == event.session_id and session.metadata["url"].startswith("http://localhost")
        from_stream = await asyncio.wait_for(streamed, 15)
        assert from_stream.id == event.id and from_stream.custom_event().data == event.data
        await stream.aclose()
    await pp.aclose()


async def test_backend_events_reach_on_event_and_identify_needs_the_hash(page, chat_server, widget_project,
                                                                         host_site):
    secret = "identity-secret-for-the-browser-test"
    await chat_server.acall(update_project(chat_server.services, widget_project.id, identity_secret=secret))
    pp = PocketPing(secret_key=widget_project.secret_key, base_url=chat_server.base_url, identity_secret=secret)
    url = host_site.add(f"""<!doctype html><html><head><script src="{chat_server.base_url}/widget.js" defer></script>
<script>window.got = [];
addEventListener("DOMContentLoaded", () => {{
  PocketPing.init({{publicKey: "{widget_project.public_key}"}});
  PocketPing.onEvent("show_discount", (data, event) => got.push(["discount", data]));
  PocketPing.onEvent("flash_sale", (data) => got.push(["sale", data]));
  PocketPing.identify({{id: "user_1", email: "mallory@example.com", userHash: "{'0' * 64}"}});
}})</script></head><body></body></html>""")
    await page.goto(url)
    await connected(page)
    async with rest(chat_server, widget_project) as api:
        session = (await api.get("/sessions")).json()["sessions"][0]
        sid = session["id"]
        # The forged identity was refused: the visitor is still anonymous.
        assert session["identity"] is None
        await pp.emit_event(sid, "show_discount", {"percent": 20})
        await page.wait_for_function("got.length == 1")
        await pp.broadcast_event("flash_sale", {"until": "noon"})
        await page.wait_for_function("got.length == 2")
        assert await page.evaluate("got") == [["discount", {"percent": 20}], ["sale", {"until": "noon"}]]
        # The real user, with the hash from the site's backend.
        await page.evaluate(f"PocketPing.identify({{id: 'user_1', email: 'ana@example.com', "
                            f"userHash: '{pp.user_hash('user_1')}'}})")
        async def identified() -> dict | None:
            return (await api.get(f"/sessions/{sid}")).json()["identity"]

        identity = await eventually(identified)
        assert identity["verified"] is True and identity["email"] == "ana@example.com"
    await expect(page.locator("#pocketping-root")).to_have_count(1)
    await pp.aclose()
