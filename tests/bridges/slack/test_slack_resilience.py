"""Slack misbehaving, end to end: an outage while visitors keep writing, and a server killed
right after Slack took a message but before the answer was recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pocketping.actions.bridges import add_bridge
from pocketping.actions.projects import create_project
from pocketping.clock import FakeClock
from pocketping.crypto import generate_key
from pocketping.wiring import build_services
from pocketping_testkit.bridges import advance_until
from pocketping_testkit.fakes.slack import FakeSlack
from pocketping_testkit.process import ServerProcess
from pocketping_testkit.server import make_settings
from pocketping_testkit.slack_bridge import connect_slack
from pocketping_testkit.widget_client import WidgetClient


async def test_messages_written_during_an_outage_arrive_afterwards_in_order_once(
        make_server: Any, fake_slack: FakeSlack) -> None:
    clock = FakeClock()
    srv = make_server(clock=clock, slack_api_url=fake_slack.api_url)
    project, _ = srv.call(create_project(srv.services, "Outage", []))
    slack = connect_slack(fake_slack, srv, project.id)
    w = await WidgetClient.connect(srv.ws_url, project.public_key)
    await w.synced()
    await w.say("before the outage")
    await slack.wait_reply("before the outage")
    fake_slack.fail("chat.postMessage", status=503, times=10_000, app=slack.app)
    texts = [f"message {i:02d}" for i in range(30)]
    for text in texts:
        assert (await w.say(text))["duplicate"] is False  # stored, its delivery queued with it
    for _ in range(12):  # a minute of fake time: every attempt meets the outage and backs off
        clock.advance(5)
        await advance_until(clock, lambda: True)
    assert not any("message 00" in t for t in slack.texts())
    fake_slack.heal(slack.app)

    def arrived() -> list[str]:
        return [t.split(": ", 1)[1] for t in slack.texts() if ": message " in t]

    spent = await advance_until(clock, lambda: len(arrived()) >= len(texts), step=2.0, settle=0.05,
                                limit_seconds=3600)
    assert arrived() == texts  # all of them, in order, once each
    assert len(slack.cards()) == 1
    assert spent >= 25  # about one a second in the channel, after a short burst
    await w.close()


async def test_a_server_killed_after_slack_took_a_part_posts_nothing_twice(tmp_path: Path,
                                                                         fake_slack: FakeSlack) -> None:
    url = f"sqlite:///{tmp_path / 'kill.db'}"
    key = generate_key()
    env = {"POCKETPING_SLACK_API_URL": fake_slack.api_url, "POCKETPING_OUTBOX_LEASE_SECONDS": "1",
           "POCKETPING_MAX_TEXT_CHARS": "10000", "POCKETPING_CONFIG_POLL_SECONDS": "0.5"}
    app = fake_slack.create_app()
    channel = fake_slack.create_channel(members=[app.bot_user_id])
    svc = build_services(make_settings(url, str(tmp_path / "data"), encryption_key=key))
    await svc.db.migrate()
    project, _ = await create_project(svc, "Kill", [])
    await add_bridge(svc, project.id, "slack", {"bot_token": app.bot_token, "channel_id": channel.id,
                                                "signing_secret": app.signing_secret})
    await svc.db.dispose()

    def texts() -> list[str]:
        return [str(m["text"]) for card in fake_slack.top_level(channel.id)
                for m in fake_slack.replies(channel.id, card["ts"])]

    long_text = " ".join(f"word{i:04d}" for i in range(1000))  # 9,000 characters: three Slack messages
    first = ServerProcess(url, tmp_path / "data", encryption_key=key, env=env).start()
    try:
        w = await WidgetClient.connect(first.ws_url, project.public_key)
        await w.synced()
        await w.say("before")
        await fake_slack.wait_until(lambda: any(t.endswith(": before") for t in texts()), 30)
        # Part 1 goes through; Slack takes part 2 but its answer never comes back: the server dies.
        fake_slack.fail("chat.postMessage", hang=True, after=True, skip=1, app=app)
        await w.say(long_text)
        await w.say("after")
        await fake_slack.wait_until(lambda: len(texts()) == 3, 30)
        first.kill()
        await w.close()
    finally:
        first.kill()
        fake_slack.release()

    second = ServerProcess(url, tmp_path / "data", encryption_key=key, env=env).start()
    try:
        await fake_slack.wait_until(lambda: any(t.endswith(": after") for t in texts()), 30)
    finally:
        second.stop()
    assert len(fake_slack.top_level(channel.id)) == 1
    posted = texts()
    assert posted[0].endswith(": before") and posted[-1].endswith(": after")
    parts = [t.split(": ", 1)[1] for t in posted[1:-1]]
    assert len(parts) == 3, posted  # each part once: part 2, taken before the crash, was found, not re-posted
    assert " ".join(parts).split() == long_text.split()
