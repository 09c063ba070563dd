"""`pocketping reply add/list/remove`: a project's saved replies from the command line."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from pocketping.wiring import cli_app


def test_reply_add_list_replace_and_remove(tmp_path):
    env = {"POCKETPING_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "POCKETPING_DATA_DIR": str(tmp_path)}
    runner = CliRunner()

    def cli(*args: str, ok: bool = True):
        result = runner.invoke(cli_app(), list(args), env=env)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    project = json.loads(cli("project", "create", "Acme", "--json").stdout)["id"]
    added = json.loads(cli("reply", "add", project, "Hours", "Hi {name}, we open at 9.", "--json").stdout)
    assert added["shortcut"] == "hours" and added["created"] is True
    again = json.loads(cli("reply", "add", project, "hours", "Hi {name}, we open at 8.", "--json").stdout)
    assert again["created"] is False
    assert "/hours  Hi {name}, we open at 8." in cli("reply", "list", project).stdout
    bad = cli("reply", "add", project, "no spaces", "x", "--json", ok=False)
    assert bad.exit_code == 1 and json.loads(bad.stdout)["error"]["code"] == "invalid_shortcut"
    cli("reply", "remove", project, "hours")
    assert json.loads(cli("reply", "list", project, "--json").stdout) == []
    gone = cli("reply", "remove", project, "hours", "--json", ok=False)
    assert json.loads(gone.stdout)["error"]["code"] == "reply_not_found"
