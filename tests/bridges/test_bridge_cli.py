"""``pocketping bridge ...`` and ``pocketping doctor`` as a user runs them."""

from __future__ import annotations

import orjson
import pytest
from typer.testing import CliRunner

from pocketping.wiring import cli_app
from pocketping_testkit.fakes.telegram import FakeTelegram

app = cli_app()


@pytest.fixture
def cli(make_server, fake_telegram: FakeTelegram):
    srv = make_server(telegram_api_url=fake_telegram.url)
    env = {"POCKETPING_DATABASE_URL": srv.settings.database_url,
           "POCKETPING_ENCRYPTION_KEY": srv.settings.encryption_key.get_secret_value(),
           "POCKETPING_DATA_DIR": str(srv.settings.data_dir),
           "POCKETPING_TELEGRAM_API_URL": fake_telegram.url}
    runner = CliRunner()

    def invoke(*args: str, ok: bool = True):
        result = runner.invoke(app, list(args), env=env)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return invoke


def project_id(cli) -> str:
    return orjson.loads(cli("project", "create", "Shop", "--json").stdout)["id"]


def test_add_list_update_remove_never_print_tokens(cli, fake_telegram: FakeTelegram):
    pid = project_id(cli)
    token = fake_telegram.add_bot()
    chat = fake_telegram.add_forum(token)
    added = orjson.loads(cli("bridge", "add", pid, "telegram", "--bot-token", token, f"--chat-id={chat}",
                             "--json").stdout)
    assert added["type"] == "telegram" and added["id"].startswith("brg_")
    listed = cli("bridge", "list", pid, "--json").stdout
    assert token not in listed and token.split(":")[1][:10] not in listed
    bridges = orjson.loads(listed)
    assert [(b["id"], b["type"]) for b in bridges] == [(added["id"], "telegram")]
    assert {"id", "type", "status"} <= set(bridges[0]) and bridges[0]["config"]["chatId"] == chat
    assert bridges[0]["config"]["botTokenHint"] == "..." + token[-4:]
    other = fake_telegram.add_forum(token)
    updated = orjson.loads(cli("bridge", "update", pid, added["id"], f"--chat-id={other}", "--json").stdout)
    assert updated["config"]["chatId"] == other
    assert token not in cli("bridge", "status", pid, "--json").stdout
    removed = orjson.loads(cli("bridge", "remove", pid, added["id"], "--json").stdout)
    assert removed["removed"] is True
    assert orjson.loads(cli("bridge", "list", pid, "--json").stdout) == []


def test_bad_input_gets_clear_errors(cli):
    pid = project_id(cli)
    cases = [
        (["telegram", "--bot-token", "nope", "--chat-id=-1001"], "does not look like a Telegram bot token"),
        (["telegram", "--bot-token", "123456:" + "A" * 30], "--chat-id is required"),
        (["slack", "--bot-token", "xoxb-1", "--channel-id", "C0123456"], "--signing-secret is required"),
        (["discord", "--bot-token", "abc", "--channel-id", "general"], "--channel-id is required"),
        (["irc", "--bot-token", "x"], "unknown bridge type"),
    ]
    for args, message in cases:
        result = cli("bridge", "add", pid, *args, "--json", ok=False)
        assert result.exit_code == 1
        assert message in orjson.loads(result.stdout)["error"]["message"]
    assert orjson.loads(cli("bridge", "add", pid, "slack", "--bot-token", "xoxb-1", "--channel-id", "C0123456",
                            "--app-token", "xapp-1", "--json").stdout)["config"]["appTokenHint"]
    missing = cli("bridge", "list", "proj_nope", "--json", ok=False)
    assert orjson.loads(missing.stdout)["error"]["code"] == "project_not_found"


def test_config_errors_are_said_with_the_flags(cli):
    pid = project_id(cli)

    def error(*args: str) -> str:
        return orjson.loads(cli("bridge", "add", pid, *args, "--json", ok=False).stdout)["error"]["message"]

    assert error("telegram", "--bot-token", "123456:" + "A" * 30) == (
        "--chat-id is required: the forum supergroup's id, e.g. --chat-id=-1001234567890 (note the '=' for "
        "negative numbers)")
    assert error("slack", "--bot-token", "xoxb-1", "--channel-id", "C0123456") == (
        "--signing-secret is required (Basic Information > App Credentials) unless you use Socket Mode with "
        "--app-token xapp-...")
    assert error("discord", "--channel-id", "123456789012345678") == (
        "--bot-token is required: the bot token from the Discord developer portal")


def test_doctor_says_what_to_fix(cli, fake_telegram: FakeTelegram):
    pid = project_id(cli)
    token = fake_telegram.add_bot()
    good = fake_telegram.add_forum(token)
    cli("bridge", "add", pid, "telegram", "--bot-token", token, f"--chat-id={good}")
    report = orjson.loads(cli("doctor", pid, "--json").stdout)
    assert report["ok"] is True, report
    assert {f["check"] for f in report["bridges"][0]["findings"]} >= {"bot token", "topics", "permissions"}
    plain = fake_telegram.add_forum(token, is_forum=False, admin=False)
    second = orjson.loads(cli("project", "create", "Other", "--json").stdout)["id"]
    cli("bridge", "add", second, "telegram", "--bot-token", token, f"--chat-id={plain}")
    result = cli("doctor", second, ok=False)
    assert result.exit_code == 1
    assert "Topics" in result.stdout and "Manage Topics" in result.stdout and "fix:" in result.stdout
    cli("bridge", "add", second, "telegram", "--bot-token", "123456789:" + "B" * 35, f"--chat-id={plain}")
    bad = orjson.loads(cli("doctor", second, "--json", ok=False).stdout)
    wrong = [b for b in bad["bridges"] if b["findings"][0]["check"] == "bot token" and not b["findings"][0]["ok"]]
    assert wrong and "@BotFather" in wrong[0]["findings"][0]["fix"]


def test_doctor_says_when_mail_is_not_configured(cli):
    project_id(cli)
    report = orjson.loads(cli("doctor", "--json").stdout)
    assert report["mail"]["configured"] is False and report["ok"] is True
    assert "POCKETPING_SMTP_URL" in cli("doctor").stdout
