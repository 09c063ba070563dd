"""`pocketping --version`, and the database URL given on the command line (`pocketping serve
--database-url URL` and the global `pocketping --database-url URL serve`) winning over
POCKETPING_DATABASE_URL."""

from __future__ import annotations

import importlib.metadata
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import pocketping
from pocketping.wiring import cli_app
from pocketping_testkit.server import free_port

app = cli_app()

ROUND_TRIP = Path(__file__).resolve().parents[1] / "scripts" / "widget_roundtrip.py"


def test_version_prints_the_distributions_version():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"pocketping {pocketping.__version__}\n"
    assert pocketping.__version__ == importlib.metadata.version("pocketping-server")
    # It needs no database and no command after it.
    out = subprocess.run([sys.executable, "-m", "pocketping", "--version"], capture_output=True, text=True,
                         env={**os.environ, "POCKETPING_DATABASE_URL": "sqlite:////nonexistent/dir/x.db"})
    assert (out.returncode, out.stdout) == (0, result.stdout)


@pytest.mark.parametrize("form", ["serve --database-url URL", "--database-url URL serve"])
def test_the_database_url_option_of_serve_wins_over_the_environment(form, tmp_path):
    real = f"sqlite:///{tmp_path / 'real.db'}"
    decoy = tmp_path / "decoy.db"
    env = {**os.environ, "POCKETPING_DATA_DIR": str(tmp_path), "POCKETPING_DATABASE_URL": f"sqlite:///{decoy}",
           "POCKETPING_LOG_LEVEL": "warning"}
    created = CliRunner().invoke(app, ["--database-url", real, "project", "create", "Opt", "--json"], env=env)
    assert created.exit_code == 0, created.output
    project = json.loads(created.stdout)
    assert not decoy.exists()

    port = free_port()
    args = [real if word == "URL" else word for word in form.split()]
    log_path = tmp_path / "server.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen([sys.executable, "-m", "pocketping", *args, "--port", str(port)], env=env,
                                  stdout=log, stderr=subprocess.STDOUT)
    try:
        # The project exists only in the database named on the command line.
        trip = subprocess.run([sys.executable, str(ROUND_TRIP), f"http://127.0.0.1:{port}",
                               "--public-key", project["publicKey"], "--secret-key", project["secretKey"]],
                              capture_output=True, text=True, timeout=120)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    assert trip.returncode == 0, f"{trip.stdout}\n{trip.stderr}\nserver log:\n{log_path.read_text()}"
    assert json.loads(trip.stdout)["ok"]
    assert not decoy.exists()
