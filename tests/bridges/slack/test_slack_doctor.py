"""``check()`` (what ``pocketping doctor`` shows for a Slack bridge) and configuration checks."""

from __future__ import annotations

from pocketping.bridges.base import Finding
from pocketping.bridges.slack import SlackBridge, SlackConfig
from pocketping.clock import SystemClock
from pocketping_testkit.fakes.slack import DEFAULT_SCOPES, Channel, FakeApp, FakeSlack

from .conftest import BridgeFactory


def failing(findings: list[Finding]) -> dict[str, Finding]:
    return {f.check: f for f in findings if not f.ok}


async def test_everything_in_order(fake_slack: FakeSlack, slack_app: FakeApp, slack_channel: Channel,
                                   make_bridge: BridgeFactory) -> None:
    bridge = make_bridge(slack_app, slack_channel, public_url="https://chat.example.com")
    findings = await bridge.check()
    assert all(f.ok for f in findings), findings
    assert any("https://chat.example.com/bridges/slack/events" in f.detail for f in findings)
    assert any(f"#{slack_channel.name}" in f.detail for f in findings)


async def test_a_bot_outside_the_channel_is_told_to_invite_it(
        fake_slack: FakeSlack, slack_app: FakeApp, make_bridge: BridgeFactory) -> None:
    channel = fake_slack.create_channel("help-desk")
    problems = failing(await make_bridge(slack_app, channel, public_url="https://x.io").check())
    assert list(problems) == ["channel"]
    assert problems["channel"].fix == "In #help-desk, type /invite @pocketping (or use the channel's " \
                                            "Integrations tab)."


async def test_missing_scopes_are_named(fake_slack: FakeSlack, make_bridge: BridgeFactory) -> None:
    app = fake_slack.create_app(scopes=DEFAULT_SCOPES - {"users:read", "groups:history"})
    channel = fake_slack.create_channel(members=[app.bot_user_id])
    problems = failing(await make_bridge(app, channel, public_url="https://x.io").check())
    assert "groups:history, users:read" in problems["scopes"].detail
    assert "Reinstall" in (problems["scopes"].fix or "")


async def test_a_wrong_token_stops_at_the_first_check(fake_slack: FakeSlack, slack_channel: Channel) -> None:
    bridge = SlackBridge("brg_x", SlackConfig(bot_token="xoxb-wrong", channel_id=slack_channel.id,
                                              signing_secret="s"), api_url=fake_slack.api_url, clock=SystemClock())
    try:
        [finding] = await bridge.check()
    finally:
        await bridge.stop()
    assert not finding.ok and "invalid_auth" in finding.detail and "xoxb-" in (finding.fix or "")


async def test_an_unknown_channel(fake_slack: FakeSlack, slack_app: FakeApp, make_bridge: BridgeFactory) -> None:
    private = fake_slack.create_channel(private=True)  # invisible to a bot that is not in it
    problems = failing(await make_bridge(slack_app, private, public_url="https://x.io").check())
    assert "was not found" in problems["channel"].detail
    assert "/invite @pocketping" in (problems["channel"].fix or "")


async def test_events_need_a_public_https_url(fake_slack: FakeSlack, slack_app: FakeApp, slack_channel: Channel,
                                              make_bridge: BridgeFactory) -> None:
    problems = failing(await make_bridge(slack_app, slack_channel).check())
    assert "POCKETPING_PUBLIC_URL" in problems["events"].detail
    problems = failing(await make_bridge(slack_app, slack_channel, public_url="http://chat.example.com").check())
    assert "https" in problems["events"].detail


async def test_socket_mode_checks_the_app_level_token(
        fake_slack: FakeSlack, slack_app: FakeApp, slack_channel: Channel, make_bridge: BridgeFactory) -> None:
    slack_app.socket_mode = True
    findings = await make_bridge(slack_app, slack_channel, socket_mode=True).check()
    assert all(f.ok for f in findings), findings
    slack_app.app_scopes = set()
    problems = failing(await make_bridge(slack_app, slack_channel, socket_mode=True).check())
    assert "missing_scope" in problems["socket mode"].detail
    assert "connections:write" in (problems["socket mode"].fix or "")
