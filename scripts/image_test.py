"""make image-test: the built image, run and checked without a container engine.

    python scripts/image_test.py [IMAGE]        (default localhost/pocketping:latest; as root)

The image is mounted (``buildah from`` + ``buildah mount``); its entrypoint and command run in a
chroot of that mount, as the image's user, with the image's environment and working directory
(all read from ``buildah inspect``), in a network namespace of their own (only loopback, so the
command's ``--host 0.0.0.0`` binds nothing outside and port 8000 is free). Checked: the image's
configuration (non-root user, /data volume and settings, port, health check, entrypoint and
command), no compilers, tests or fakes inside; then /readyz answers, the server process is not
root, the SQLite database and the encryption key land in /data, ``pocketping project create``
works in the image, a widget round trip works (scripts/widget_roundtrip.py) and the image's
HEALTHCHECK passes. Prints the image's size. The container and its mounts are removed after.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import stat
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from widget_roundtrip import round_trip, wait_ready  # noqa: E402

IMAGE = "localhost/pocketping:latest"
COMPILERS = re.compile(r"(^|-)(gcc|cc|c\+\+|g\+\+|clang|clang\+\+|tcc|cc1|cc1plus|rustc)(-[\d.]+)?$")
NS_MARK = "POCKETPING_IMAGE_TEST_NETNS"


def buildah(*args: str) -> str:
    return subprocess.run(["buildah", *args], check=True, capture_output=True, text=True).stdout.strip()


class Report:
    def __init__(self) -> None:
        self.failures: list[str] = []
        self.passed = 0

    def check(self, ok: bool, what: str, detail: str = "") -> bool:
        print(f"  {'ok ' if ok else 'FAIL'} {what}" + (f": {detail}" if detail and not ok else ""))
        self.passed += ok
        if not ok:
            self.failures.append(what + (f": {detail}" if detail else ""))
        return ok


def image_user(mnt: Path, user: str) -> tuple[int, int]:
    """uid and gid of the image's USER (numeric or a name in the image's /etc/passwd)."""
    name, _, group = user.partition(":")
    passwd = [line.split(":") for line in (mnt / "etc/passwd").read_text().splitlines() if line]
    groups = [line.split(":") for line in (mnt / "etc/group").read_text().splitlines() if line]
    uid = int(name) if name.isdigit() else next(int(p[2]) for p in passwd if p[0] == name)
    if group:
        gid = int(group) if group.isdigit() else next(int(g[2]) for g in groups if g[0] == group)
    else:
        gid = next((int(p[3]) for p in passwd if int(p[2]) == uid), uid)
    return uid, gid


def in_image(mnt: Path, uid: int, gid: int, workdir: str) -> Callable[[], None]:
    """What a container runtime does before exec, minus the isolation we do not need here."""
    def enter() -> None:
        os.chroot(mnt)
        os.chdir(workdir or "/")
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
        os.umask(0o022)
    return enter


def static_checks(report: Report, mnt: Path, config: dict[str, Any], env: dict[str, str]) -> None:
    print("configuration and contents")
    uid, _ = image_user(mnt, config.get("User") or "0")
    report.check(uid != 0, f"runs as a non-root user ({config.get('User')!r})")
    report.check(env.get("POCKETPING_DATA_DIR") == "/data", "POCKETPING_DATA_DIR is /data")
    report.check(env.get("POCKETPING_DATABASE_URL", "").startswith("sqlite:////data/"),
                 "the default database is SQLite in /data", env.get("POCKETPING_DATABASE_URL", ""))
    report.check("/data" in (config.get("Volumes") or {}), "/data is a volume")
    report.check("8000/tcp" in (config.get("ExposedPorts") or {}), "exposes 8000")
    report.check(config.get("Entrypoint") == ["pocketping"], "entrypoint is pocketping", str(config.get("Entrypoint")))
    report.check(config.get("Cmd") == ["serve", "--host", "0.0.0.0"], "command is serve --host 0.0.0.0",
                 str(config.get("Cmd")))
    test = (config.get("Healthcheck") or {}).get("Test") or []
    report.check(bool(test) and "/readyz" in " ".join(test), "has a HEALTHCHECK on /readyz", str(test))
    compilers, ours = [], []
    for root, dirs, files in os.walk(mnt):
        rel = "/" + os.path.relpath(root, mnt)
        if rel in ("/proc", "/sys", "/dev"):
            dirs[:] = []
            continue
        compilers += [f"{rel}/{f}" for f in files if COMPILERS.search(f)]
        if "/site-packages/pocketping" in rel + "/":
            ours += [f"{rel}/{n}" for n in dirs + files if re.search(r"test|fake", n)]
        ours += [f"{rel}/{n}" for n in files if n in ("conftest.py", "test_protocol.py", "widget_roundtrip.py")]
    if (mnt / "usr/lib/gcc").exists() and any((mnt / "usr/lib/gcc").rglob("cc1*")):
        compilers.append("/usr/lib/gcc/.../cc1")
    report.check(not compilers, "no compilers", ", ".join(compilers[:5]))
    report.check(not ours, "no tests, test kit or fakes of ours", ", ".join(ours[:5]))
    venvs = list((mnt / "opt").glob("*/lib/python3*/site-packages"))
    tools = [m for v in venvs for m in ("pytest", "playwright", "hypothesis", "pip") if (v / m).exists()]
    report.check(bool(venvs) and not tools, "no test tools and no pip in the environment", ", ".join(tools))


def live_checks(report: Report, mnt: Path, config: dict[str, Any], env: dict[str, str], log_path: Path) -> None:
    print("running the entrypoint in the image")
    uid, gid = image_user(mnt, config.get("User") or "0")
    enter = in_image(mnt, uid, gid, config.get("WorkingDir") or "/")
    command = [*config["Entrypoint"], *config["Cmd"]]
    port = env.get("POCKETPING_PORT", "8000")
    base_url = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(command, env=env, preexec_fn=enter, stdout=log, stderr=subprocess.STDOUT)
    try:
        started = time.monotonic()
        try:
            wait_ready(base_url, 90)
            report.check(True, f"/readyz answers ({time.monotonic() - started:.1f} s after start)")
        except TimeoutError as exc:
            report.check(False, "/readyz answers", f"{exc}\n{log_path.read_text(errors='replace')[-3000:]}")
            return
        uids = re.search(r"^Uid:\s+(\d+)\s+(\d+)", Path(f"/proc/{server.pid}/status").read_text(), re.M)
        report.check(uids is not None and uids.group(1) != "0" and uids.group(2) != "0",
                     f"the server process is not root (uid {uids.group(1) if uids else '?'})")
        data = mnt / "data"
        for name in ("pocketping.db", "encryption.key"):
            path = data / name
            report.check(path.exists() and path.stat().st_uid == uid, f"{name} is in /data, owned by the user")
        key = data / "encryption.key"
        report.check(key.exists() and stat.S_IMODE(key.stat().st_mode) == 0o600, "the key file is mode 0600")
        created = subprocess.run([*config["Entrypoint"], "project", "create", "Image test", "--json"], env=env,
                                 preexec_fn=enter, capture_output=True, text=True, timeout=60)
        if not report.check(created.returncode == 0, "pocketping project create works in the image", created.stderr):
            return
        project = json.loads(created.stdout)
        try:
            result = asyncio.run(round_trip(base_url, project["publicKey"], project["secretKey"], None))
            report.check(bool(result["ok"]), "a widget round trip (hello, message, ack, REST reply, frame)")
        except Exception as exc:
            report.check(False, "a widget round trip", f"{type(exc).__name__}: {exc}")
        drivers = subprocess.run(["python3", "-c", "import asyncpg, aiomysql, aiosqlite, uvloop, httptools, greenlet"],
                                 env=env, preexec_fn=enter, capture_output=True, text=True, timeout=60)
        report.check(drivers.returncode == 0, "the PostgreSQL and MySQL drivers load", drivers.stderr[-500:])
        test = (config.get("Healthcheck") or {}).get("Test") or ["NONE"]
        if test[0] in ("CMD", "CMD-SHELL"):
            health = subprocess.run(test[1:] if test[0] == "CMD" else ["/bin/sh", "-c", test[1]], env=env,
                                    preexec_fn=enter, capture_output=True, text=True, timeout=30)
            report.check(health.returncode == 0, "the HEALTHCHECK command passes", health.stderr[-500:])
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    report.check(server.returncode in (0, -signal.SIGTERM), "stops cleanly on SIGTERM", str(server.returncode))


def sizes(mnt: Path, image: str) -> None:
    def measure(top: Path, *exclude: str) -> tuple[int, int]:
        """(bytes, gzipped bytes) of a tree, as a layer holds it."""
        skip = [f"--exclude=./{e}" for e in exclude]
        tar = subprocess.Popen(["tar", "--numeric-owner", *skip, "-C", str(top), "-cf", "-", "."],
                               stdout=subprocess.PIPE)
        assert tar.stdout is not None
        raw, z = 0, zlib.compressobj(6, zlib.DEFLATED, 31)
        packed = 0
        while chunk := tar.stdout.read(1 << 20):
            raw += len(chunk)
            packed += len(z.compress(chunk))
        packed += len(z.flush())
        tar.wait()
        return raw, packed

    venv = measure(mnt / "opt" / "pocketping")
    base = measure(mnt, "opt/pocketping")
    mb = 1_000_000
    print(f"image size: {(venv[0] + base[0]) / mb:.0f} MB ({(venv[1] + base[1]) / mb:.0f} MB gzipped): the server's "
          f"environment (/opt/pocketping) {venv[0] / mb:.0f} MB ({venv[1] / mb:.0f} MB gzipped), the rest "
          f"(base and user) {base[0] / mb:.0f} MB ({base[1] / mb:.0f} MB gzipped); "
          f"buildah images: {buildah('images', '--format', '{{.Size}}', image)}")


def main(argv: list[str]) -> int:
    image = argv[0] if argv else IMAGE
    if os.geteuid() != 0:
        print("make image-test needs root (chroot, mounts)", file=sys.stderr)
        return 2
    if os.environ.get(NS_MARK) != "1":
        # A network namespace with only loopback, and a mount namespace whose mounts (proc, dev)
        # vanish with this process.
        os.environ[NS_MARK] = "1"
        os.execvp("unshare", ["unshare", "--net", "--mount", "--propagation", "private", "--",
                              sys.executable, __file__, *argv])
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    started = time.monotonic()
    inspected = json.loads(buildah("inspect", "--type", "image", image))
    config: dict[str, Any] = inspected["Docker"]["config"]
    env = dict(item.split("=", 1) for item in config.get("Env") or [])
    report = Report()
    ctr = buildah("from", "--pull=never", image)
    mounted: list[Path] = []
    try:
        mnt = Path(buildah("mount", ctr))
        static_checks(report, mnt, config, env)
        for what, args in (("proc", ["-t", "proc", "proc"]), ("dev", ["--rbind", "/dev"])):
            subprocess.run(["mount", *args, str(mnt / what)], check=True)
            mounted.append(mnt / what)
        with tempfile.TemporaryDirectory(prefix="pp-image-test-") as tmp:
            live_checks(report, mnt, config, env, Path(tmp) / "server.log")
        for path in reversed(mounted):
            subprocess.run(["umount", "--recursive", "--lazy", str(path)], check=True)
        mounted.clear()
        sizes(mnt, image)
    finally:
        for path in reversed(mounted):
            subprocess.run(["umount", "--recursive", "--lazy", str(path)], check=False)
        subprocess.run(["buildah", "umount", ctr], check=False, capture_output=True)
        subprocess.run(["buildah", "rm", ctr], check=False, capture_output=True)
    print(f"image-test took {time.monotonic() - started:.1f} s")
    if report.failures:
        print("failed:\n- " + "\n- ".join(report.failures), file=sys.stderr)
    print(f"image-test: {report.passed} passed, {len(report.failures)} failed")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
