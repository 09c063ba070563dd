"""With Redis, a configuration change made with the CLI reaches the running nodes at once,
not at their next database poll."""

from __future__ import annotations

import time

from pocketping_testkit.fakes.telegram import FakeTelegram

from .test_guard_rails import _cli


async def test_a_bridge_added_with_the_cli_starts_at_once(setup, fake_telegram: FakeTelegram):
    setup.cluster.env["POCKETPING_CONFIG_POLL_SECONDS"] = "60"  # the poll alone would take a minute
    setup.cluster.web()
    setup.cluster.worker()
    await fake_telegram.wait_for(lambda: bool(fake_telegram.calls(setup.token, "getUpdates")), timeout=30)
    token = fake_telegram.add_bot()
    chat = fake_telegram.add_forum(token)
    started = time.monotonic()
    done = _cli(setup, "bridge", "add", setup.project_id, "telegram", "--bot-token", token, "--chat-id", str(chat),
                redis=True)
    assert done.returncode == 0, done.stderr
    await fake_telegram.wait_for(lambda: bool(fake_telegram.calls(token, "getUpdates")), timeout=30)
    assert time.monotonic() - started < 20
