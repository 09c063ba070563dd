"""Several real PocketPing processes on one database and one Redis (tests/cluster, bench).

``Cluster`` starts ``pocketping serve --no-workers`` web nodes and ``pocketping worker``
processes with the same settings, a key prefix of their own on Redis, and reads who holds
which lease straight from the database."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pocketping_testkit.process import ServerProcess

REDIS_URL = os.environ.get("POCKETPING_TEST_REDIS", "redis://127.0.0.1:6379/0")


class WorkerProcess:
    """``pocketping worker`` as a subprocess; ready once it says it runs."""

    def __init__(self, env: dict[str, str], log_path: Path, args: tuple[str, ...] = ()) -> None:
        self.env = env
        self.args = args
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 60.0) -> WorkerProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        start_at = self.log_path.stat().st_size
        self.proc = subprocess.Popen([sys.executable, "-m", "pocketping", "worker", *self.args],  # noqa: S603
                                     env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {self.proc.returncode}:\n{self.log()}")
            if "running" in self.log_path.read_bytes()[start_at:].decode(errors="replace"):
                return self
            time.sleep(0.05)  # a child process's readiness: there is no event to await
        raise TimeoutError(f"worker not ready after {timeout}s:\n{self.log()}")

    def kill(self) -> None:
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


class Cluster:
    def __init__(self, database_url: str, data_dir: Path, *, encryption_key: str,
                 env: dict[str, str] | None = None, redis_url: str = REDIS_URL) -> None:
        self.database_url = database_url
        self.data_dir = data_dir
        self.key = encryption_key
        self.prefix = f"pptest-{secrets.token_hex(4)}:"
        self.env = {"POCKETPING_REDIS_URL": redis_url, "POCKETPING_REDIS_PREFIX": self.prefix,
                    "POCKETPING_CONFIG_POLL_SECONDS": "0.5", "POCKETPING_OUTBOX_LEASE_SECONDS": "2",
                    "POCKETPING_NODE_HEARTBEAT_SECONDS": "1", **(env or {})}
        self.webs: list[ServerProcess] = []
        self.workers: list[WorkerProcess] = []

    def web(self, *args: str) -> ServerProcess:
        node = ServerProcess(self.database_url, self.data_dir, encryption_key=self.key, env=self.env,
                             args=("--no-workers", *args)).start()
        self.webs.append(node)
        return node

    def worker(self, *args: str) -> WorkerProcess:
        env = {**os.environ, "POCKETPING_DATABASE_URL": self.database_url, "POCKETPING_DATA_DIR": str(self.data_dir),
               "POCKETPING_ENCRYPTION_KEY": self.key, "POCKETPING_LOG_LEVEL": "info", **self.env}
        worker = WorkerProcess(env, self.data_dir / f"worker-{len(self.workers)}.log", args).start()
        self.workers.append(worker)
        return worker

    def stop(self) -> None:
        for web in self.webs:
            web.stop()
        for worker in self.workers:
            worker.stop()

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *_: Any) -> None:
        self.stop()


class RedisServer:
    """A private ``redis-server`` on a free port, for tests that stop and restart Redis
    (never the shared one other runs use)."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        from pocketping_testkit.server import free_port

        self.port = port or free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> RedisServer:
        import socket

        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",  # noqa: S603, S607
                                      "--save", "", "--appendonly", "no", "--dir", str(self.workdir)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                pass
            time.sleep(0.05)  # a child process's readiness: there is no event to await
        raise TimeoutError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)


class FailoverProxy:
    """A small TCP load balancer for tests: each new connection goes to the first backend that
    accepts it (no sticky sessions), so once a node dies its clients land on the next one."""

    def __init__(self, backends: list[tuple[str, int]]) -> None:
        import socket
        import threading

        self.backends = backends
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self._closed = False
        self._thread = threading.Thread(target=self._accept, name="failover-proxy", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        import threading

        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: Any) -> None:
        import socket
        import threading

        for host, port in self.backends:
            try:
                upstream = socket.create_connection((host, port), timeout=2)
            except OSError:
                continue
            upstream.settimeout(None)
            self.connections += 1
            threading.Thread(target=_pipe, args=(client, upstream), daemon=True).start()
            _pipe(upstream, client)
            return
        client.close()

    def close(self) -> None:
        self._closed = True
        self.listener.close()


def _pipe(source: Any, sink: Any) -> None:
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            try:
                end.shutdown(2)
            except OSError:
                pass
            end.close()
