"""``pocketping bridge add ... slack`` and ``pocketping doctor`` as a user runs them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from pocketping.wiring import cli_app
from pocketping_testkit.fakes.slack import FakeSlack

app = cli_app()


@pytest.fixture
def cli(make_server: Callable[..., Any], fake_slack: FakeSlack) -> Callable[..., Any]:
    srv = make_server(slack_api_url=fake_slack.api_url)
    env = {"POCKETPING_DATABASE_URL": srv.settings.database_url,
           "POCKETPING_ENCRYPTION_KEY": srv.settings.encryption_key.get_secret_value(),
           "POCKETPING_DATA_DIR": str(srv.settings.data_dir),
           "POCKETPING_SLACK_API_URL": fake_slack.api_url,
           "POCKETPING_PUBLIC_URL": "https://chat.example.com"}
    runner = CliRunner()

    def invoke(*args: str, ok: bool = True) -> Any:
        result = runner.invoke(app, list(args), env=env)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return invoke


def test_add_then_doctor(cli: Callable[..., Any], fake_slack: FakeSlack) -> None:
    pid = orjson.loads(cli("project", "create", "Shop", "--json").stdout)["id"]
    slack = fake_slack.create_app()
    channel = fake_slack.create_channel("website-chat", members=[slack.bot_user_id])
    added = orjson.loads(cli("bridge", "add", pid, "slack", "--bot-token", slack.bot_token, "--channel-id",
                             channel.id, "--signing-secret", slack.signing_secret, "--json").stdout)
    listed = cli("bridge", "list", pid, "--json").stdout
    assert slack.bot_token not in listed and slack.signing_secret not in listed
    assert orjson.loads(listed)[0]["config"]["channelId"] == channel.id
    report = orjson.loads(cli("doctor", pid, "--json").stdout)
    assert report["ok"] is True, report
    checks = {f["check"]: f for f in report["bridges"][0]["findings"]}
    assert {"bot token", "scopes", "channel", "events"} <= set(checks)
    assert "https://chat.example.com/bridges/slack/events" in checks["events"]["detail"]

    # The same app, pointed at a channel the bot was never invited to.
    elsewhere = fake_slack.create_channel("sales")
    cli("bridge", "update", pid, added["id"], "--channel-id", elsewhere.id)
    result = cli("doctor", pid, ok=False)
    assert result.exit_code == 1
    assert "the bot is not a member of #sales" in result.stdout
    assert "fix: In #sales, type /invite @pocketping" in result.stdout
