"""What `pocketping bridge list` says about a bridge: the receiver's word (polling, gateway,
socket mode) and the deliveries' are kept apart, so a bridge that can post but cannot hear
replies stays in "error" until the receiver itself is fixed."""

from __future__ import annotations

from pocketping.actions.bridges import get_bridge
from pocketping.actions.projects import create_project
from pocketping_testkit.bridges import connect_telegram
from pocketping_testkit.fakes.telegram import FakeTelegram
from pocketping_testkit.waiting import eventually
from pocketping_testkit.widget_client import WidgetClient


async def test_a_receivers_error_is_not_cleared_by_successful_deliveries(make_server, fake_telegram: FakeTelegram):
    # Webhook mode without a public URL: Telegram could never call us, but posting works.
    srv = make_server(telegram_api_url=fake_telegram.url, telegram_mode="webhook", public_url=None)
    project, _ = srv.call(create_project(srv.services, "Half-working", []))
    tg = connect_telegram(fake_telegram, srv, project.id)

    def record():
        return srv.call(get_bridge(srv.services, project.id, tg.bridge_id))

    first = await eventually(lambda: (r := record()).status == "error" and r)
    assert "POCKETPING_PUBLIC_URL" in (first.status_detail or "")
    w = await WidgetClient.connect(srv.ws_url, project.public_key)
    await w.synced()
    await w.say("can you hear me?")
    await tg.wait_post("can you hear me?")
    await w.say("and now?")
    await tg.wait_post("and now?")
    # Two successful deliveries later, the operators still learn why replies cannot arrive.
    after = record()
    assert after.status == "error" and "POCKETPING_PUBLIC_URL" in (after.status_detail or "")
    await w.close()


async def test_a_delivery_error_is_cleared_by_the_next_delivery(make_server, fake_telegram: FakeTelegram):
    srv = make_server(telegram_api_url=fake_telegram.url)
    project, _ = srv.call(create_project(srv.services, "Recovering", []))
    tg = connect_telegram(fake_telegram, srv, project.id)

    def record():
        return srv.call(get_bridge(srv.services, project.id, tg.bridge_id))

    await eventually(lambda: record().status == "active")
    fake_telegram.fail_next(tg.token, "createForumTopic", 400, description="Bad Request: not enough rights")
    w = await WidgetClient.connect(srv.ws_url, project.public_key)
    await w.synced()
    await w.say("first")
    failed = await eventually(lambda: (r := record()).status == "error" and r)
    assert "not enough rights" in (failed.status_detail or "")
    # The next visitor opens a topic fine: the bridge works again, and says so.
    other = await WidgetClient.connect(srv.ws_url, project.public_key)
    await other.synced()
    await other.say("second")
    await tg.wait_post("second")
    await eventually(lambda: record().status == "active")
    await w.close()
    await other.close()
