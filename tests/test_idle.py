"""An idle server stays idle: with a webhook endpoint down and a Telegram group backing off
after a 429, rows queued behind their chains' heads, and no visitor connected, the server
process uses almost no CPU (it sleeps until the next head is due instead of polling)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from pocketping_sdk import PocketPing

from pocketping.actions.bridges import add_bridge
from pocketping.actions.projects import create_project
from pocketping.crypto import generate_key
from pocketping.store import outbox as outbox_repo
from pocketping.wiring import build_services
from pocketping_testkit.fakes.telegram import FakeTelegram
from pocketping_testkit.process import ServerProcess
from pocketping_testkit.server import free_port, make_settings
from pocketping_testkit.waiting import eventually
from pocketping_testkit.widget_client import WidgetClient

pytestmark = pytest.mark.slow

WINDOW_SECONDS = 10.0
MAX_SHARE_OF_A_CORE = 0.02


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, from /proc/<pid>/stat (utime and stime)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def test_an_idle_server_with_a_dead_webhook_and_a_throttled_telegram_uses_no_cpu(fresh_db, tmp_path,
                                                                                      fake_telegram: FakeTelegram):
    key = generate_key()
    admin = build_services(make_settings(fresh_db.url, str(tmp_path), encryption_key=key,
                                         telegram_api_url=fake_telegram.url))
    await admin.db.migrate()
    project, secret = await create_project(admin, "Idle")
    token = fake_telegram.add_bot()
    chat = fake_telegram.add_forum(token)
    bridge = await add_bridge(admin, project.id, "telegram", {"bot_token": token, "chat_id": str(chat)})
    # Telegram throttles the group for an hour: the chain's head backs off, the rest queue behind it.
    fake_telegram.fail_next(token, "sendMessage", 429, retry_after=3600, times=1000)

    server = ServerProcess(fresh_db.url, tmp_path, encryption_key=key,
                           env={"POCKETPING_TELEGRAM_API_URL": fake_telegram.url}).start()
    pp = PocketPing(secret_key=secret, base_url=server.base_url)
    try:
        dead = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there: connection refused
        hook = await pp.create_webhook(dead)
        w = await WidgetClient.connect(server.ws_url, project.public_key)
        await w.synced()
        for i in range(3):
            await w.say(f"queued {i}")
        await w.close()

        async def backing_off() -> bool:
            async with admin.db.read() as tx:
                rows = {t: await outbox_repo.list_items(tx, target_id=t, status="pending")
                        for t in (hook.id, bridge.id)}
            return all(len(r) >= 3 and any(i.attempts for i in r) for r in rows.values())

        await eventually(backing_off, timeout=30)

        before = cpu_seconds(server.proc.pid)  # type: ignore[union-attr]
        await asyncio.sleep(WINDOW_SECONDS)  # the measured window itself: real idleness, nothing to await
        used = cpu_seconds(server.proc.pid) - before  # type: ignore[union-attr]
        assert used < MAX_SHARE_OF_A_CORE * WINDOW_SECONDS, f"{used:.2f} CPU-seconds in {WINDOW_SECONDS:.0f} s idle"
        async with admin.db.read() as tx:  # nothing was given up on or lost meanwhile
            assert len(await outbox_repo.list_items(tx, target_id=bridge.id, status="pending")) >= 3
    finally:
        await pp.aclose()
        server.stop()
        await admin.db.dispose()
