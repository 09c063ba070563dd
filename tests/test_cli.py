"""The CLI works directly on the database; running servers pick its changes up."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from pocketping.wiring import cli_app
from pocketping_testkit.widget_client import WidgetClient

app = cli_app()


@pytest.fixture
def cli(tmp_path):
    env = {"POCKETPING_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "POCKETPING_DATA_DIR": str(tmp_path)}
    runner = CliRunner()

    def run(*args: str, ok: bool = True, input: str | None = None, extra_env: dict | None = None):
        result = runner.invoke(app, list(args), env={**env, **(extra_env or {})}, input=input)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return run


def test_project_lifecycle_with_json(cli, tmp_path):
    created = json.loads(cli("project", "create", "Acme", "--origin", "https://acme.test/", "--json").stdout)
    assert set(created) >= {"id", "name", "publicKey", "secretKey"}
    assert created["id"].startswith("proj_") and created["publicKey"].startswith("pk_live_")
    assert created["secretKey"].startswith("sk_live_") and created["allowedOrigins"] == ["https://acme.test"]
    listed = json.loads(cli("project", "list", "--json").stdout)
    assert [p["id"] for p in listed] == [created["id"]] and "secretKey" not in listed[0]
    shown = json.loads(cli("project", "show", created["id"], "--json").stdout)
    assert shown["secretKeyHint"] == created["secretKey"][-4:]
    updated = json.loads(cli("project", "update", created["id"], "--name", "Acme Inc", "--primary-color", "#ff0000",
                             "--operator-name", "Sam", "--welcome-message", "Hello!", "--position", "bottom-left",
                             "--locale", "fr", "--origin", "https://*.acme.test", "--notify-event",
                             "clicked_pricing", "--json").stdout)
    assert updated["name"] == "Acme Inc" and updated["allowedOrigins"] == ["https://*.acme.test"]
    assert updated["widget"] == {"primaryColor": "#ff0000", "operatorName": "Sam", "welcomeMessage": "Hello!",
                                 "position": "bottom-left", "locale": "fr", "offlineForm": False,
                                 "ratings": "stars", "rate": updated["widget"]["rate"]}
    assert updated["notifyEvents"] == ["clicked_pricing"]
    assert updated["consent"] == "notice"  # the default
    consent = json.loads(cli("project", "update", created["id"], "--consent", "required", "--json").stdout)
    assert consent["consent"] == "required"
    assert "consent:     required" in cli("project", "show", created["id"]).stdout
    rotated = json.loads(cli("project", "rotate-secret", created["id"], "--json").stdout)
    assert rotated["secretKey"] != created["secretKey"]
    # The secret key never shows again after creation.
    human = cli("project", "show", created["id"]).stdout
    assert created["secretKey"] not in human and rotated["secretKey"] not in human
    assert (tmp_path / "encryption.key").exists()


def test_bad_input_gives_a_clear_error_and_a_stable_code(cli):
    created = json.loads(cli("project", "create", "Acme", "--json").stdout)
    for args, code in [
        (("project", "update", created["id"], "--primary-color", "red"), "invalid_color"),
        (("project", "update", created["id"], "--position", "top"), "invalid_position"),
        (("project", "update", created["id"], "--origin", "ftp://x"), "invalid_origin"),
        (("project", "update", created["id"], "--locale", "xx"), "invalid_locale"),
        (("project", "update", created["id"], "--notify-event", "bad name"), "invalid_event_name"),
        (("project", "update", created["id"], "--consent", "maybe"), "invalid_setting"),
        (("project", "show", "proj_nope"), "project_not_found"),
    ]:
        result = cli(*args, "--json", ok=False)
        assert result.exit_code == 1
        assert json.loads(result.stdout)["error"]["code"] == code, args
    shown = json.loads(cli("project", "show", created["id"], "--json").stdout)
    assert shown["widget"]["primaryColor"] == "#2563eb"  # nothing changed


def test_migrate_and_keys(cli):
    first = json.loads(cli("migrate", "--json").stdout)
    assert first["after"] and json.loads(cli("migrate", "--json").stdout)["changed"] is False
    key = json.loads(cli("generate-key", "--json").stdout)["key"]
    import base64

    assert len(base64.b64decode(key)) == 32


def test_rotate_key_with_the_embedded_key_file(cli, tmp_path):
    cli("project", "create", "Acme", "--json")
    cli("project", "update", json.loads(cli("project", "list", "--json").stdout)[0]["id"],
        "--identity-secret", "a-long-identity-secret-value")
    before = (tmp_path / "encryption.key").read_text().split()
    out = json.loads(cli("rotate-key", "--new-key", "--json").stdout)
    after = (tmp_path / "encryption.key").read_text().split()
    assert len(after) == 2 and after[1] == before[0]
    assert out["reencrypted"]["projects.identity_secret"] == 1
    assert json.loads(cli("project", "list", "--json").stdout)[0]["identityVerification"] is True


def test_demo_is_created_once(cli):
    first = json.loads(cli("demo", "--json").stdout)
    again = json.loads(cli("demo", "--json").stdout)
    assert first["created"] and first["secretKey"] and not again["created"] and again["secretKey"] is None
    assert again["projectId"] == first["projectId"]
    assert first["publicKey"] in first["snippet"] and "/widget.js" in first["snippet"]


def test_console_script_and_help():
    out = subprocess.run([sys.executable, "-m", "pocketping", "--help"], capture_output=True, text=True, check=True)
    for command in ("serve", "migrate", "project", "rotate-key"):
        assert command in out.stdout


async def test_changes_reach_a_running_server_without_restart(server, make_project):
    """`project update` from another process: the next connection sees the new origins and settings."""

    keys = make_project()
    w = await WidgetClient.connect(server.ws_url, keys.public_key, origin="https://a.example")
    assert w.welcome["settings"]["operatorName"] == "Support"
    await w.close()
    # The CLI is another process working on the same database: run it for real.
    settings = server.settings
    env = {"POCKETPING_DATABASE_URL": settings.database_url,
           "POCKETPING_ENCRYPTION_KEY": settings.encryption_key.get_secret_value(),
           "POCKETPING_DATA_DIR": str(settings.data_dir)}
    import os

    subprocess.run([sys.executable, "-m", "pocketping", "project", "update", keys.id, "--origin", "https://b.example",
                    "--operator-name", "Nina", "--json"], check=True, capture_output=True,
                   env={**os.environ, **env})
    with pytest.raises(ConnectionRefusedError):
        await WidgetClient.connect(server.ws_url, keys.public_key, origin="https://a.example")
    w = await WidgetClient.connect(server.ws_url, keys.public_key, origin="https://b.example")
    assert w.welcome["settings"]["operatorName"] == "Nina"
    await w.close()
