"""Office hours: outside them (the injected clock) the widget is told "away", with the away
message and the email field, whatever the presence; inside, the normal status."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from pocketping.actions.presence import set_operator_status
from pocketping.actions.projects import create_project, update_project
from pocketping.clock import FakeClock
from pocketping.core.hours import is_open, parse_hours
from pocketping.errors import InvalidInput
from pocketping.wiring import cli_app
from pocketping_testkit.widget_client import WidgetClient

PARIS = {"hours": "mon-fri 09:00-18:00; sat 10:00-13:00", "timezone": "Europe/Paris", "closed_on": ["2030-01-08"]}


def test_hours_rules():
    assert is_open(PARIS, datetime(2030, 1, 7, 8, 0, tzinfo=UTC))  # Monday 09:00 in Paris
    assert not is_open(PARIS, datetime(2030, 1, 7, 7, 59, tzinfo=UTC))
    assert not is_open(PARIS, datetime(2030, 1, 7, 17, 0, tzinfo=UTC))  # 18:00: closed
    assert is_open(PARIS, datetime(2030, 1, 5, 11, 0, tzinfo=UTC))  # Saturday 12:00
    assert not is_open(PARIS, datetime(2030, 1, 5, 12, 0, tzinfo=UTC))  # Saturday 13:00
    assert not is_open(PARIS, datetime(2030, 1, 6, 11, 0, tzinfo=UTC))  # Sunday
    assert not is_open(PARIS, datetime(2030, 1, 8, 10, 0, tzinfo=UTC))  # a closed day
    assert is_open({}, datetime(2030, 1, 6, 3, 0, tzinfo=UTC))  # no hours: always open
    assert is_open({"hours": "fri-mon 20:00-24:00"}, datetime(2030, 1, 6, 21, 0, tzinfo=UTC))  # wraps the week
    for bad in ("weekdays 9-5", "mon-fri 18:00-09:00", "mon-fri 09:00-25:00", "", "mon-fry 09:00-10:00"):
        with pytest.raises(InvalidInput) as err:
            parse_hours(bad)
        assert err.value.code == "invalid_hours"


async def test_the_widget_is_away_outside_the_hours_whatever_the_presence(make_server):
    clock = FakeClock(datetime(2030, 1, 5, 14, 0, tzinfo=UTC))  # Saturday 15:00 in Paris: closed
    srv = make_server(clock=clock)
    project, _ = srv.call(create_project(srv.services, "Shop", []))
    srv.call(update_project(srv.services, project.id, settings={
        "hours": "mon-fri 09:00-18:00; sat 10:00-13:00", "timezone": "Europe/Paris",
        "away_message": "Back on Monday at 9."}))
    srv.call(set_operator_status(srv.services, project.id, "online"))  # someone is there, but it is closed
    w = await WidgetClient.connect(srv.ws_url, project.public_key)
    assert w.welcome["online"] is False
    assert w.welcome["settings"]["awayMessage"] == "Back on Monday at 9."
    assert w.welcome["settings"]["offlineForm"] is True
    await w.close()
    clock.set(datetime(2030, 1, 7, 9, 0, tzinfo=UTC))  # Monday 10:00 in Paris
    w = await WidgetClient.connect(srv.ws_url, project.public_key)
    assert w.welcome["online"] is True
    assert "awayMessage" not in w.welcome["settings"] and w.welcome["settings"]["offlineForm"] is False
    await w.close()


def test_project_update_takes_the_hours_and_says_what_is_wrong(tmp_path):
    env = {"POCKETPING_DATABASE_URL": f"sqlite:///{tmp_path / 'h.db'}", "POCKETPING_DATA_DIR": str(tmp_path)}
    runner = CliRunner()
    app = cli_app()
    created = runner.invoke(app, ["project", "create", "Shop", "--json"], env=env)
    import orjson

    pid = orjson.loads(created.stdout)["id"]
    ok = runner.invoke(app, ["project", "update", pid, "--hours", "Mon-Fri 09:00-18:00; sat 10:00-13:00",
                             "--timezone", "Europe/Paris", "--closed-on", "2026-12-25,2027-01-01",
                             "--away-message", "Back soon"], env=env)
    assert ok.exit_code == 0, ok.output
    assert "mon-fri 09:00-18:00; sat 10:00-13:00 Europe/Paris closed 2026-12-25, 2027-01-01" in ok.stdout
    for flags, code in ((["--hours", "9 to 5"], "invalid_hours"), (["--timezone", "Mars/Olympus"], "invalid_timezone"),
                        (["--closed-on", "christmas"], "invalid_date"), (["--prechat", "maybe"], "invalid_setting")):
        bad = runner.invoke(app, ["project", "update", pid, *flags, "--json"], env=env)
        assert bad.exit_code != 0 and code in bad.output, bad.output
