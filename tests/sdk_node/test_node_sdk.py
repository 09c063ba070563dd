"""The Node.js SDK (sdk-node/, `@pocketping/sdk`), as its users get it: built, packed with
`npm pack`, installed from the tarball into a scratch project, and tested there with Node's
own test runner (`node --test`) against a real `pocketping serve` and real Chromium.

The Node tests are sdk-node/test/*.test.mjs; this module starts what they need, gives each
file a fresh project, and fails if a file fails or skips. The test dependencies (express,
fastify, playwright-core) come from sdk-node's pinned devDependencies (`npm ci`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from contract.schemas import MODELS, fields
from pocketping.crypto import generate_key
from pocketping_testkit.process import ServerProcess
from pocketping_testkit.server import free_port

ROOT = Path(__file__).resolve().parents[2]
SDK = ROOT / "sdk-node"
TEST_DEPENDENCIES = ("express", "fastify", "playwright-core")
CHROMIUM = "/usr/bin/chromium"
# Each Node test file, and what its project needs (None: no server at all).
NODE_FILES: dict[str, dict[str, bool] | None] = {
    "vectors.test.mjs": None,
    "retries.test.mjs": None,
    "abort.test.mjs": None,
    "package.test.cjs": None,
    "client.test.mjs": {},
    "stream.test.mjs": {},
    "receivers.test.mjs": {},
    "live.test.mjs": {"collect_country": True},
}


def _run(command: list[str], cwd: Path, timeout: float = 600, env: dict[str, str] | None = None
         ) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


@dataclass
class Installed:
    tarball: Path
    scratch: Path

    @property
    def package(self) -> Path:
        return self.scratch / "node_modules" / "@pocketping" / "sdk"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """Build (make sdk-node: npm ci and tsc, both skipped when up to date), pack, and install
    the tarball into a scratch project, offline: the package has no dependencies to fetch."""
    _run(["make", "-s", "sdk-node"], ROOT)
    out = tmp_path_factory.mktemp("pack")
    packed = json.loads(_run(["npm", "pack", "--json", "--pack-destination", str(out)], SDK).stdout)
    tarball = out / packed[0]["filename"]
    scratch = tmp_path_factory.mktemp("scratch")
    (scratch / "package.json").write_text(json.dumps({"name": "scratch", "private": True, "type": "module"}))
    _run(["npm", "install", "--offline", "--no-audit", "--no-fund", "--no-package-lock", str(tarball)], scratch)
    for name in TEST_DEPENDENCIES:  # linked, not installed: their own dependencies resolve in sdk-node
        (scratch / "node_modules" / name).symlink_to(SDK / "node_modules" / name, target_is_directory=True)
    shutil.copytree(SDK / "test", scratch / "test")
    return Installed(tarball, scratch)


def test_npm_pack_lists_only_the_built_files_the_readme_and_the_licence(installed: Installed):
    dry = json.loads(_run(["npm", "pack", "--dry-run", "--json"], SDK).stdout)[0]
    files = sorted(f["path"] for f in dry["files"])
    others = [f for f in files if f not in ("README.md", "LICENSE", "package.json")]
    assert "README.md" in files and "LICENSE" in files
    assert others and all(re.fullmatch(r"dist/(esm|cjs)/[a-z]+\.(js|d\.ts)|dist/(esm|cjs)/package\.json", f)
                          for f in others), others
    built = {p.relative_to(SDK).as_posix() for p in (SDK / "dist").rglob("*") if p.is_file() and p.name != ".built"}
    assert set(others) == built
    for half in ("esm", "cjs"):
        assert {f"dist/{half}/index.js", f"dist/{half}/index.d.ts"} <= set(others)
    manifest = json.loads((installed.package / "package.json").read_text())
    assert manifest["name"] == "@pocketping/sdk" and not manifest.get("dependencies")
    assert json.loads((SDK / "package.json").read_text())["version"] in installed.tarball.name


def test_the_package_types_compile_for_esm_and_commonjs_consumers(installed: Installed, tmp_path: Path):
    """A TypeScript project (module nodenext) imports and requires the installed package."""
    project = installed.scratch / "types"
    shutil.copytree(SDK / "test" / "types", project)
    (project / "node_modules").symlink_to(installed.scratch / "node_modules", target_is_directory=True)
    tsc = SDK / "node_modules" / "typescript" / "bin" / "tsc"
    _run(["node", str(tsc), "-p", str(project)], project)


def _interfaces(dts: str) -> dict[str, set[str]]:
    """Interface name -> property names, read from tsc's declaration output (4-space indented)."""
    found: dict[str, set[str]] = {}
    for match in re.finditer(r"^export interface (\w+)(?:<[^>]*>)?(?: extends ([\w, <>]+))? \{\n(.*?)^\}",
                             dts, re.M | re.S):
        name, _extends, body = match.groups()
        found[name] = set(re.findall(r"^    (?:readonly )?(\w+)\??:", body, re.M))
    return found


def test_node_types_have_every_field_the_server_sends(installed: Installed, tmp_path: Path):
    server = ServerProcess(f"sqlite:///{tmp_path / 'types.db'}", tmp_path, encryption_key=generate_key()).start()
    try:
        doc = httpx.get(f"{server.base_url}/openapi.json", timeout=10).json()
    finally:
        server.stop()
    shipped = _interfaces((installed.package / "dist" / "esm" / "models.d.ts").read_text())
    assert {"Session", "Message", "Event", "WebhookEvent"} <= set(shipped)
    missing: dict[str, set[str]] = {}
    extra: dict[str, set[str]] = {}
    allowed: dict[str, set[str]] = {}
    for schema, sdk in MODELS.items():
        if sdk["node"] is None:
            assert sdk.get("why"), schema
            continue
        have = shipped[sdk["node"]]
        server_fields = fields(doc, schema)
        allowed.setdefault(sdk["node"], set()).update(server_fields)
        if server_fields - have:
            missing[f"{schema} -> {sdk['node']}"] = server_fields - have
    for interface, names in allowed.items():
        if shipped[interface] - names:
            extra[interface] = shipped[interface] - names
    assert missing == {}, "fields the server sends that the Node SDK's types lack"
    assert extra == {}, "fields in the Node SDK's types that the server never sends"


@pytest.fixture(scope="module")
def node_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    path = tmp_path_factory.mktemp("node-server")
    server = ServerProcess(f"sqlite:///{path / 'node.db'}", path, encryption_key=generate_key(),
                           env={"POCKETPING_ALLOW_PRIVATE_URLS": "true"}).start()
    yield server
    server.stop()


def _cli(server: ServerProcess, *args: str) -> dict[str, object]:
    done = _run([sys.executable, "-m", "pocketping", *args, "--json"], ROOT, timeout=120, env=server.env)
    result: dict[str, object] = json.loads(done.stdout)
    return result


@pytest.mark.timeout(360)
@pytest.mark.parametrize("name", list(NODE_FILES))
def test_node_sdk(name: str, installed: Installed, request: pytest.FixtureRequest):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POCKETPING_", "PP_"))}
    env |= {"PP_REPO": str(ROOT), "PP_CHROMIUM": CHROMIUM, "NODE_OPTIONS": ""}
    needs = NODE_FILES[name]
    if needs is not None:
        server: ServerProcess = request.getfixturevalue("node_server")
        host_port = free_port()
        project = _cli(server, "project", "create", name, "--origin", f"http://localhost:{host_port}")
        if needs.get("collect_country"):
            _cli(server, "project", "update", str(project["id"]), "--collect-country")
        env |= {"POCKETPING_URL": server.base_url, "POCKETPING_SECRET_KEY": str(project["secretKey"]),
                "PP_PUBLIC_KEY": str(project["publicKey"]), "PP_HOST_PORT": str(host_port)}
    done = subprocess.run(["node", "--test", "--test-reporter=spec", "--test-timeout=90000", f"test/{name}"],
                          cwd=installed.scratch, env=env, capture_output=True, text=True, timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    counts = {key: int(value) for key, value in re.findall(r"^ℹ (tests|pass|fail|skipped|todo|cancelled) (\d+)$",
                                                            output, re.M)}
    assert counts.get("tests", 0) > 0 and counts["pass"] == counts["tests"], output
    assert counts["fail"] == counts["skipped"] == counts["todo"] == counts["cancelled"] == 0, output
