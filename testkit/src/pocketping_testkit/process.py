"""``pocketping serve`` as a real subprocess, for tests that kill and restart the server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from pocketping_testkit.server import free_port


class ServerProcess:
    def __init__(self, database_url: str, data_dir: Path, *, encryption_key: str, port: int | None = None,
                 env: dict[str, str] | None = None, args: tuple[str, ...] = (), scheme: str = "http") -> None:
        self.port = port or free_port()
        self.env = {
            **os.environ,
            "POCKETPING_DATABASE_URL": database_url,
            "POCKETPING_DATA_DIR": str(data_dir),
            "POCKETPING_ENCRYPTION_KEY": encryption_key,
            "POCKETPING_LOG_LEVEL": "warning",
            "POCKETPING_RATE_LIMIT_MESSAGES_PER_MINUTE": "0",
            "POCKETPING_RATE_LIMIT_CONNECTIONS_PER_MINUTE": "0",
            **(env or {}),
        }
        self.args = args
        self.scheme = scheme
        self.log_path = data_dir / f"server-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def start(self, timeout: float = 60.0) -> ServerProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        command = [sys.executable, "-m", "pocketping", "serve", "--port", str(self.port), *self.args]
        self.proc = subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.base_url}/readyz", timeout=1, verify=False).status_code == 200:  # noqa: S501
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)  # polling a child process's readiness: there is no event to await
        raise TimeoutError(f"server not ready after {timeout}s:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no flushing; what was committed must survive."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *_: Any) -> None:
        self.stop()
