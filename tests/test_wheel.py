"""The server's wheel, built as a release would be: it holds the product and what the product
needs at run time (widget bundle, inbox assets, migrations), and no fakes or test helpers
(those live in the dev-only ``pocketping-testkit`` distribution under testkit/)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
import zipfile
from importlib.metadata import version
from pathlib import Path, PurePosixPath

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "pocketping"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
VERSION = re.search(r'__version__ = "([^"]+)"', (PACKAGE / "__init__.py").read_text()).group(1)  # type: ignore[union-attr]
DIST_INFO = f"pocketping_server-{VERSION}.dist-info"
# What the server reads from its own package directory at run time.
DATA_FILES = [
    "pocketping/server/static/widget.js",
    "pocketping/server/static/i18n/fr.txt",
    "pocketping/server/inbox/assets/inbox.js",
    "pocketping/server/inbox/assets/inbox.css",
    "pocketping/server/inbox/assets/signin.js",
    "pocketping/store/migrations/env.py",
    "pocketping/store/migrations/script.py.mako",
    "pocketping/store/migrations/versions/0001_initial_schema.py",
]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    # The pinned backend of pyproject.toml, installed by make setup: no download, no index.
    backend = PYPROJECT["build-system"]["requires"]
    assert backend == [f"hatchling=={version('hatchling')}"], "requirements-dev.txt must pin the same hatchling"
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "--quiet",
         "--wheel-dir", str(out), str(ROOT)],
        capture_output=True, text=True, env={**os.environ, "PIP_NO_INPUT": "1"}, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    [built] = out.glob("pocketping_server-*.whl")
    return zipfile.ZipFile(built)


def names(wheel: zipfile.ZipFile) -> list[PurePosixPath]:
    return [PurePosixPath(n) for n in wheel.namelist()]


def test_the_wheel_holds_the_server_package_and_nothing_else(wheel: zipfile.ZipFile) -> None:
    tops = {path.parts[0] for path in names(wheel)}
    assert tops == {"pocketping", DIST_INFO}


def test_the_wheel_holds_no_fakes_and_no_test_helpers(wheel: zipfile.ZipFile) -> None:
    offending = [str(path) for path in names(wheel)
                 if any(part.startswith(("fake", "testing", "testkit", "pocketping_testkit", "conftest", "test_"))
                        for part in path.parts)]
    assert offending == []
    importing = [name for name in wheel.namelist() if name.endswith(".py")
                 and any(kit in wheel.read(name) for kit in (b"pocketping_testkit", b"pocketping.testing"))]
    assert importing == []
    metadata = wheel.read(f"{DIST_INFO}/METADATA").decode()
    requires = [line.split(":", 1)[1].strip().lower() for line in metadata.splitlines()
                if line.startswith("Requires-Dist:")]
    assert requires and not [r for r in requires if r.startswith(("pocketping-testkit", "pytest", "playwright"))]


def test_the_wheel_holds_every_file_the_server_reads_at_run_time(wheel: zipfile.ZipFile) -> None:
    held = set(wheel.namelist())
    assert [name for name in DATA_FILES if name not in held] == []
    # ... and every other file of the package, so a new asset cannot be left out unseen.
    source = {str(PurePosixPath("pocketping", *path.relative_to(PACKAGE).parts)) for path in PACKAGE.rglob("*")
              if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"}
    assert sorted(source - held) == []
    entry_points = wheel.read(f"{DIST_INFO}/entry_points.txt").decode()
    assert "pocketping = pocketping.wiring:main" in entry_points
