"""Kill the server (SIGKILL) and start it again: everything acknowledged is still there."""

from __future__ import annotations

import httpx

from pocketping.crypto import generate_key
from pocketping_testkit.process import ServerProcess
from pocketping_testkit.widget_client import WidgetClient


async def test_data_survives_a_killed_server(database, tmp_path):
    from pocketping_testkit.databases import create_database, drop_database

    # A database of its own: the suite's shared server runs on `database`, and a second web
    # process on one database without Redis is refused.
    url, name = create_database(database.backend, tmp_path)
    try:
        await _killed_and_restarted(url, tmp_path)
    finally:
        drop_database(database.backend, name)


async def _killed_and_restarted(url, tmp_path):
    from pocketping.actions.projects import create_project
    from pocketping.wiring import build_services
    from pocketping_testkit.server import make_settings

    key = generate_key()
    admin = build_services(make_settings(url, str(tmp_path), encryption_key=key))
    await admin.db.migrate()
    project, secret = await create_project(admin, "Restart")  # as `pocketping project create` would
    await admin.db.dispose()

    first = ServerProcess(url, tmp_path, encryption_key=key).start()
    try:
        w = await WidgetClient.connect(first.ws_url, project.public_key)
        await w.synced()
        acks = [await w.say(f"before crash {i}") for i in range(5)]
        async with httpx.AsyncClient(base_url=first.base_url) as api:
            r = await api.post(f"/api/v1/sessions/{w.session_id}/messages",
                               headers={"Authorization": f"Bearer {secret}"}, json={"text": "reply"})
            assert r.status_code == 201
        first.kill()
        await w.close()
    finally:
        first.kill()

    second = ServerProcess(url, tmp_path, encryption_key=key).start()
    try:
        back = await WidgetClient.connect(second.ws_url, project.public_key, token=w.token, last_seq=0)
        assert back.session_id == w.session_id
        replay = await back.synced()
        assert [f["message"]["text"] for f in replay] == [f"before crash {i}" for i in range(5)] + ["reply"]
        assert [f["message"]["id"] for f in replay[:5]] == [a["id"] for a in acks]
        assert (await back.say("after restart"))["seq"] == 7
        await back.close()
    finally:
        second.stop()
