"""``pocketping operator ...`` and the demo operator, through the real CLI on a real database."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pocketping.crypto import generate_key
from pocketping.wiring import cli_app
from pocketping_testkit.inbox_client import InboxClient
from pocketping_testkit.server import ServerThread, make_settings

app = cli_app()


@pytest.fixture
def cli(tmp_path: Path):
    env = {"POCKETPING_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "POCKETPING_DATA_DIR": str(tmp_path),
           "POCKETPING_ENCRYPTION_KEY": generate_key()}
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None, ok: bool = True) -> Any:
        result = runner.invoke(app, list(args), env=env, input=input)
        if ok:
            assert result.exit_code == 0, result.output
            return json.loads(result.stdout) if "--json" in args else result
        return result

    invoke.env = env  # type: ignore[attr-defined]
    return invoke


def later(cli: Any, *args: str, **options: Any) -> Any:
    """In an async test: the CLI runs its own event loop, so it runs in a thread."""
    return asyncio.to_thread(cli, *args, **options)


def test_add_prints_a_generated_password_once(cli):
    project = cli("project", "create", "Shop", "--json")
    added = cli("operator", "add", "Ana@Example.com", "--project", project["id"], "--json")
    assert set(added) >= {"email", "password", "projects"}
    assert added["email"] == "ana@example.com"
    assert added["projects"] == [project["id"]]
    assert len(added["password"]) >= 20
    listed = cli("operator", "list", "--json")
    assert [(o["email"], o["projects"], o["admin"]) for o in listed] == [("ana@example.com", [project["id"]], False)]
    assert added["password"] not in json.dumps(listed)
    human = cli("operator", "add", "bo@example.com", "--project", project["id"])
    assert "Password (shown once, store it now): " in human.output
    assert "/inbox" in human.output


def test_add_with_password_from_stdin_several_projects_or_admin(cli):
    one = cli("project", "create", "One", "--json")
    two = cli("project", "create", "Two", "--json")
    added = cli("operator", "add", "ana@example.com", "--project", one["id"], "--project", two["id"],
                "--password-stdin", "--json", input="a long enough password\n")
    assert added["password"] is None
    assert sorted(added["projects"]) == sorted([one["id"], two["id"]])
    admin = cli("operator", "add", "root@example.com", "--admin", "--json")
    assert admin["admin"] is True and sorted(admin["projects"]) == sorted([one["id"], two["id"]])


def test_add_refuses_bad_input_with_clear_errors(cli):
    project = cli("project", "create", "Shop", "--json")
    cases = [
        (("operator", "add", "ana@example.com", "--json"), "project_required"),
        (("operator", "add", "ana@example.com", "--project", "proj_nope", "--json"), "project_not_found"),
        (("operator", "add", "not-an-email", "--project", project["id"], "--json"), "invalid_email"),
        (("operator", "add", "ana@example.com", "--admin", "--project", project["id"], "--json"), "invalid_input"),
    ]
    for args, code in cases:
        result = cli(*args, ok=False)
        assert result.exit_code == 1 and json.loads(result.stdout)["error"]["code"] == code, args
    weak = cli("operator", "add", "ana@example.com", "--project", project["id"], "--password-stdin", "--json",
               input="short\n", ok=False)
    assert json.loads(weak.stdout)["error"]["code"] == "weak_password"
    cli("operator", "add", "ana@example.com", "--project", project["id"], "--json")
    again = cli("operator", "add", "ANA@example.com", "--project", project["id"], "--json", ok=False)
    assert json.loads(again.stdout)["error"]["code"] == "operator_exists"
    assert cli("operator", "list", "--json")[0]["email"] == "ana@example.com"


async def test_the_printed_password_signs_in_and_reset_or_remove_take_effect(cli, tmp_path):
    project = await later(cli, "project", "create", "Shop", "--json")
    added = await later(cli, "operator", "add", "ana@example.com", "--project", project["id"], "--json")
    env = cli.env
    srv = ServerThread(make_settings(env["POCKETPING_DATABASE_URL"], str(tmp_path),
                                     encryption_key=env["POCKETPING_ENCRYPTION_KEY"])).start()
    try:
        async with InboxClient(srv.base_url) as client:
            await client.login("ana@example.com", added["password"])
            reset = await later(cli, "operator", "reset-password", "ana@example.com", "--json")
            assert reset["password"] and reset["password"] != added["password"]
            assert (await client.get("/me")).status_code == 401
            await client.login("ana@example.com", reset["password"])
            removed = await later(cli, "operator", "remove", "ana@example.com", "--json")
            assert removed == {"email": "ana@example.com", "removed": True}
            assert (await client.get("/me")).status_code == 401
        assert await later(cli, "operator", "list", "--json") == []
        missing = await later(cli, "operator", "remove", "ana@example.com", "--json", ok=False)
        assert json.loads(missing.stdout)["error"]["code"] == "operator_not_found"
    finally:
        srv.stop()


async def test_the_demo_gets_an_operator_whose_credentials_are_printed_once(cli, tmp_path):
    first = await later(cli, "demo", "--json")
    assert first["operator"]["email"] == "demo@example.com" and first["operator"]["password"]
    second = await later(cli, "demo", "--json")
    assert second["operator"] == {"email": "demo@example.com", "password": None}
    human = await later(cli, "demo")
    assert "operator reset-password demo@example.com" in human.output
    env = cli.env
    srv = ServerThread(make_settings(env["POCKETPING_DATABASE_URL"], str(tmp_path),
                                     encryption_key=env["POCKETPING_ENCRYPTION_KEY"])).start()
    try:
        async with InboxClient(srv.base_url) as client:
            await client.login("demo@example.com", first["operator"]["password"])
            me = (await client.get("/me")).json()
            assert [p["id"] for p in me["projects"]] == [first["projectId"]]
    finally:
        srv.stop()
