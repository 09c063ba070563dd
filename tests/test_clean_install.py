"""A clean install, as a new operator makes it: the wheels of the server and of the SDK, installed
into a fresh virtual environment with no development requirements, then ``pocketping --version``,
``pocketping migrate``, ``pocketping project create``, ``pocketping serve --database-url`` and a
widget round trip against that server (scripts/widget_roundtrip.py, run by the fresh Python).

The development environment brings many packages of its own (Playwright brings greenlet, for one);
only this test sees what the wheel alone installs.

The wheels are built and installed on every run. The environment they go into is cached (one per
checkout, in ~/.cache/pocketping-tests or POCKETPING_TEST_CACHE) by what the wheels require
(their Requires-Dist and Requires-Python) and the Python version: while that stays the same, a
rerun only reinstalls the two wheels (a few seconds); a changed, added or removed dependency
makes a new environment, installed from scratch.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from pocketping_testkit.server import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("POCKETPING_TEST_CACHE") or Path.home() / ".cache" / "pocketping-tests") / "clean-install"
KEEP = 6  # environments kept in the cache (one per checkout and set of requirements)


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment of a shell on a new server: none of ours or the development venv's."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("POCKETPING_") and k not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"}}
    return {**env, **extra}


def _build_wheels(into: Path) -> list[Path]:
    # hatchling (pinned in requirements-dev.txt as in [build-system]) is already here: no build env.
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(into), str(ROOT), str(ROOT / "sdk")], check=True, env=_clean_env())
    wheels = sorted(into.glob("*.whl"))
    assert sorted(w.name.split("-")[0] for w in wheels) == ["pocketping_sdk", "pocketping_server"], wheels
    return wheels


def _requirements(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        lines = archive.read(metadata).decode().splitlines()
    return sorted(line for line in lines if line.startswith(("Requires-Dist:", "Requires-Python:")))


def _fresh_venv(wheels: list[Path]) -> Path:
    digest = hashlib.sha256(f"{sys.version}\0{ROOT}".encode())
    for wheel in wheels:
        digest.update("\n".join([wheel.name.split("-")[0], *_requirements(wheel)]).encode() + b"\0")
    venv = CACHE / digest.hexdigest()[:20]
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another run may be installing
        if (venv / ".complete").exists():
            # The same requirements, already installed: only our code is new.
            subprocess.run([*pip, "--force-reinstall", "--no-deps", *map(str, wheels)], check=True, env=_clean_env())
        else:
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=_clean_env())
            # Runtime dependencies come from the index pip is configured with, and nothing else.
            subprocess.run([*pip, *map(str, wheels)], check=True, env=_clean_env())
            (venv / ".complete").write_text("\n".join(w.name for w in wheels) + "\n")
        (venv / ".complete").touch()
        others = sorted((p for p in CACHE.iterdir() if p.is_dir() and p != venv),
                        key=lambda p: p.stat().st_mtime, reverse=True)
        for old in others[KEEP - 1:]:
            shutil.rmtree(old, ignore_errors=True)
    return venv


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _fresh_venv(_build_wheels(tmp_path_factory.mktemp("wheels")))


def _run(venv: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(venv / "bin" / args[0]), *args[1:]], capture_output=True, text=True, env=env,
                            timeout=120)
    assert result.returncode == 0, f"{args} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result


def test_the_wheel_installs_the_command_alone(venv):
    version = _run(venv, "pocketping", "--version", env=_clean_env()).stdout.strip()
    meta = _run(venv, "python", "-c", "import importlib.metadata as m, pocketping, sys; "
                "print(m.version('pocketping-server'), pocketping.__file__, sys.prefix)", env=_clean_env())
    dist_version, package_file, prefix = meta.stdout.split()
    assert version == f"pocketping {dist_version}"
    # Imported from the environment's own site-packages, not from this checkout.
    assert Path(package_file).is_relative_to(prefix) and not Path(package_file).is_relative_to(ROOT)
    # The test kit (fakes, throwaway databases) and the test tools are not shipped.
    absent = _run(venv, "python", "-c", "import importlib.util as u; "
                  "print([m for m in ('pocketping.testing', 'pytest', 'playwright') if u.find_spec(m)])",
                  env=_clean_env())
    assert absent.stdout.strip() == "[]"


def test_migrate_project_serve_and_a_widget_round_trip(venv, fresh_db, tmp_path):
    data = tmp_path / "data"
    env = _clean_env(POCKETPING_DATABASE_URL=fresh_db.url, POCKETPING_DATA_DIR=str(data),
                     POCKETPING_LOG_LEVEL="warning")
    migrated = json.loads(_run(venv, "pocketping", "migrate", "--json", env=env).stdout)
    assert migrated["changed"] and migrated["after"]
    project = json.loads(_run(venv, "pocketping", "project", "create", "Clean", "--origin", "https://shop.test",
                              "--json", env=env).stdout)

    # `serve --database-url` wins over POCKETPING_DATABASE_URL: the project exists only in fresh_db.
    decoy = tmp_path / "decoy.db"
    port = free_port()
    log_path = tmp_path / "server.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen([str(venv / "bin" / "pocketping"), "serve", "--database-url", fresh_db.url,
                                   "--port", str(port)], stdout=log, stderr=subprocess.STDOUT,
                                  env={**env, "POCKETPING_DATABASE_URL": f"sqlite:///{decoy}"})
    try:
        trip = subprocess.run([str(venv / "bin" / "python"), str(ROOT / "scripts" / "widget_roundtrip.py"),
                               f"http://127.0.0.1:{port}", "--public-key", project["publicKey"],
                               "--secret-key", project["secretKey"], "--origin", "https://shop.test"],
                              capture_output=True, text=True, env=_clean_env(), timeout=120)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    assert trip.returncode == 0, f"{trip.stdout}\n{trip.stderr}\nserver log:\n{log_path.read_text()}"
    result = json.loads(trip.stdout)
    assert result["ok"] and result["sessionId"].startswith("sess_") and result["replySeq"] > result["ackedSeq"]
    # A clean stop: uvicorn re-raises the SIGTERM it handled once it has shut down.
    assert server.returncode in (0, -signal.SIGTERM), log_path.read_text()
    assert not decoy.exists()
    assert (data / "encryption.key").exists()
