"""The CLI answers at once: a command imports only what it needs."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("fastapi", "starlette", "uvicorn", "httpx", "sqlalchemy", "pocketping.bridges")

PROBE = """
import json, sys
args, watched = json.loads(sys.argv[1]), json.loads(sys.argv[2])
sys.argv = ["pocketping", *args]
from pocketping.wiring import main
try:
    main()
except SystemExit:
    pass
heavy = [m for m in watched if m in sys.modules]
sys.stdout.write("\\nLOADED " + json.dumps(heavy) + "\\n")
"""


def _loaded(args: list[str], env_db: str) -> list[str]:
    result = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args), json.dumps(HEAVY)],
                            capture_output=True, text=True, timeout=120,
                            env={"POCKETPING_DATABASE_URL": env_db, "PATH": "/usr/bin:/bin"})
    line = next(line for line in result.stdout.splitlines() if line.startswith("LOADED "))
    return list(json.loads(line.removeprefix("LOADED ")))


def test_help_imports_none_of_the_heavy_modules(tmp_path):
    assert _loaded(["--help"], f"sqlite:///{tmp_path / 'cli.db'}") == []


def test_project_list_imports_the_database_layer_only(tmp_path):
    loaded = _loaded(["--database-url", f"sqlite:///{tmp_path / 'cli.db'}", "project", "list"],
                     f"sqlite:///{tmp_path / 'cli.db'}")
    assert loaded == ["sqlalchemy"]
