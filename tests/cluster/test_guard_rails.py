"""Guard rails: a second web process on one database without Redis is refused with what to
set; `--workers N` and `pocketping worker` need Redis; `pocketping status` lists the nodes,
their roles and leases, and the outbox depth."""

from __future__ import annotations

import os
import subprocess
import sys

import orjson
import pytest

from pocketping_testkit.process import ServerProcess
from pocketping_testkit.waiting import eventually


def _cli(setup, *args: str, redis: bool = False) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POCKETPING_")}
    env.update({"POCKETPING_DATABASE_URL": setup.url, "POCKETPING_DATA_DIR": str(setup.data_dir),
                "POCKETPING_ENCRYPTION_KEY": setup.key})
    if redis:
        env.update(setup.cluster.env)
    return subprocess.run([sys.executable, "-m", "pocketping", *args], env=env, capture_output=True, text=True,
                          timeout=60)


async def test_a_second_web_process_without_redis_is_refused(setup):
    first = ServerProcess(setup.url, setup.data_dir, encryption_key=setup.key).start()
    try:
        with pytest.raises(RuntimeError) as refused:
            ServerProcess(setup.url, setup.data_dir, encryption_key=setup.key).start()
        assert "runs on this database without Redis" in str(refused.value)
        assert "Set POCKETPING_REDIS_URL" in str(refused.value)
    finally:
        first.stop()
    # Once the first one stopped, a new one starts.
    again = ServerProcess(setup.url, setup.data_dir, encryption_key=setup.key).start()
    again.stop()


def test_several_processes_need_redis(setup):
    for args in (("serve", "--workers", "2"), ("worker",)):
        done = _cli(setup, *args)
        assert done.returncode == 1
        assert "needs POCKETPING_REDIS_URL" in done.stderr, done.stderr


async def test_status_lists_nodes_roles_leases_and_the_outbox(setup):
    setup.cluster.web()
    setup.cluster.worker()
    holder = await eventually(lambda: _held(setup), timeout=20, interval=0.2)
    done = _cli(setup, "status", "--json", redis=True)
    assert done.returncode == 0, done.stderr
    status = orjson.loads(done.stdout)
    roles = sorted(n["role"] for n in status["nodes"])
    assert roles == ["web", "worker"]
    worker = next(n for n in status["nodes"] if n["role"] == "worker")
    assert worker["id"] == holder
    assert [lease["name"] for lease in worker["leases"]] == [f"bridge:{setup.bridge_id}"]
    assert status["outbox"] == {"pending": 0, "failed": 0}
    text = _cli(setup, "status", redis=True).stdout
    assert "2 live node(s)" in text and f"bridge:{setup.bridge_id}" in text


async def _held(setup) -> str | None:
    holder, _ = await setup.lease_holder()
    return holder


async def test_worker_with_workers_2_runs_two_worker_nodes(setup):
    from datetime import timedelta

    from pocketping.store import cluster as repo

    async def workers() -> list[str] | None:
        svc = setup.services()
        try:
            async with svc.db.read() as tx:
                found = [n.id for n in await repo.live_nodes(tx, timedelta(seconds=5)) if n.role == "worker"]
        finally:
            await svc.db.dispose()
        return found if len(found) == 2 else None

    supervisor = setup.cluster.worker("--workers", "2")
    ids = await eventually(workers, timeout=30, interval=0.3)
    assert len(set(ids)) == 2
    holder = await eventually(lambda: _held(setup), timeout=20, interval=0.2)
    assert holder in ids  # exactly one of the two holds the Telegram poller
    supervisor.stop()  # SIGTERM reaches both; they leave the node list
    assert supervisor.proc is not None and supervisor.proc.returncode == 0
    assert await workers() is None
