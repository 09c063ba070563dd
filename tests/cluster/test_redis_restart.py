"""Redis restarted during traffic: the nodes reconnect by themselves, /readyz says when they
cannot reach it, nothing acknowledged is lost, and what pub/sub dropped is read back from the
database by seq."""

from __future__ import annotations

import asyncio

import httpx

from pocketping_testkit.cluster import RedisServer
from pocketping_testkit.waiting import eventually
from pocketping_testkit.widget_client import WidgetClient

MESSAGES = 60


async def test_redis_restarted_during_traffic_loses_nothing(setup, tmp_path):
    redis = RedisServer(tmp_path / "redis").start()
    try:
        setup.cluster.env["POCKETPING_REDIS_URL"] = redis.url
        a, b = setup.cluster.web(), setup.cluster.web()
        w = await WidgetClient.connect(a.ws_url, setup.public_key)
        await w.synced()
        await w.say("hello")
        auth = {"Authorization": f"Bearer {setup.secret}"}
        async with httpx.AsyncClient(base_url=b.base_url, headers=auth) as api, \
                httpx.AsyncClient() as probe:
            async def send(i: int) -> None:
                r = await api.post(f"/api/v1/sessions/{w.session_id}/messages", json={"text": f"op {i:02d}"})
                assert r.status_code == 201

            for i in range(MESSAGES // 3):
                await send(i)
            redis.stop()
            # Both nodes say they are not ready while Redis is away ...
            for node in (a, b):
                await eventually(lambda n=node: _status(probe, n.base_url, 503), timeout=15, interval=0.1)
            # ... and still take messages (the database is the source of truth).
            for i in range(MESSAGES // 3, 2 * MESSAGES // 3):
                await send(i)
            # Node B dies with these still unpublished: only the database can tell node A of them.
            b.kill()
            redis.start()
            await eventually(lambda: _status(probe, a.base_url, 200), timeout=15, interval=0.1)
            c = setup.cluster.web()
            api.base_url = httpx.URL(c.base_url)
            for i in range(2 * MESSAGES // 3, MESSAGES):
                await send(i)

        got = [(await w.expect("message", sender="operator", timeout=20))["message"] for _ in range(MESSAGES)]
        assert [m["text"] for m in got] == [f"op {i:02d}" for i in range(MESSAGES)]
        seqs = [m["seq"] for m in got]
        assert seqs == sorted(set(seqs))
        await w.send({"type": "ping", "t": 1})
        await w.expect("pong")
        await asyncio.sleep(0)
        assert not [f for f in w.pending if f.get("type") == "message" and f["message"]["sender"] == "operator"]
        await w.close()
    finally:
        setup.cluster.stop()
        redis.stop()


async def _status(client: httpx.AsyncClient, base_url: str, wanted: int) -> bool:
    try:
        return (await client.get(f"{base_url}/readyz", timeout=2)).status_code == wanted
    except httpx.HTTPError:
        return False
