"""Two `serve --no-workers` web nodes and one `pocketping worker` on one database and one
Redis: every node hears what any other did, once each and in order."""

from __future__ import annotations

import httpx

from pocketping_testkit.fakes.telegram import FakeTelegram
from pocketping_testkit.inbox_client import InboxClient
from pocketping_testkit.widget_client import WidgetClient


async def test_a_visitor_on_node_a_hears_node_b_and_the_worker(setup, fake_telegram: FakeTelegram):
    a = setup.cluster.web()
    b = setup.cluster.web()
    setup.cluster.worker()
    async with InboxClient(b.base_url) as inbox:
        await inbox.login(setup.operator_email, setup.operator_password)
        sock = await inbox.socket()
        w = await WidgetClient.connect(a.ws_url, setup.public_key)
        await w.synced()
        await w.say("hello from node A")

        # The inbox on node B sees the visitor's message live.
        seen = await sock.expect("message")
        assert seen["message"]["text"] == "hello from node A" and seen["message"]["sender"] == "visitor"
        # The worker delivered it to Telegram (the web nodes run no workers).
        await fake_telegram.wait_for(lambda: any("hello from node A" in m.text
                                                 for m in fake_telegram.posts(setup.chat)), timeout=30)
        topic = fake_telegram.topics(setup.chat)[0].id

        # An operator reply by REST to node B, then replies in Telegram taken in by the worker.
        async with httpx.AsyncClient(base_url=b.base_url) as api:
            r = await api.post(f"/api/v1/sessions/{w.session_id}/messages",
                               headers={"Authorization": f"Bearer {setup.secret}"}, json={"text": "rest reply"})
            assert r.status_code == 201
        assert (await w.expect("message", sender="operator"))["message"]["text"] == "rest reply"
        for i in range(5):
            fake_telegram.operator_says(setup.chat, topic, f"telegram reply {i}")
        got = [(await w.expect("message", sender="operator", timeout=20))["message"] for _ in range(5)]
        assert [m["text"] for m in got] == [f"telegram reply {i}" for i in range(5)]
        seqs = [m["seq"] for m in got]
        assert seqs == sorted(seqs) and len(set(seqs)) == 5
        # Nothing more arrives: each once.
        await w.send({"type": "ping", "t": 1})
        await w.expect("pong")
        assert not [f for f in w.pending if f.get("type") == "message" and f["message"]["sender"] == "operator"]
        # The visitor's own message came back once too (to its other tabs).
        assert [f["message"]["text"] for f in w.pending if f.get("type") == "message"] == ["hello from node A"]
        await w.close()
        await sock.close()


async def test_serve_workers_2_runs_two_web_processes_with_redis(setup):
    from pocketping_testkit.process import ServerProcess

    node = ServerProcess(setup.url, setup.data_dir, encryption_key=setup.key, env=setup.cluster.env,
                         args=("--workers", "2")).start()
    setup.cluster.webs.append(node)
    clients = [await WidgetClient.connect(node.ws_url, setup.public_key) for _ in range(6)]
    for c in clients:
        await c.synced()
    async with httpx.AsyncClient(base_url=node.base_url) as api:
        for c in clients:
            r = await api.post(f"/api/v1/sessions/{c.session_id}/messages",
                               headers={"Authorization": f"Bearer {setup.secret}"}, json={"text": "to all"})
            assert r.status_code == 201
    for c in clients:
        assert (await c.expect("message", sender="operator"))["message"]["text"] == "to all"
        await c.close()
    pids = {n.pid for n in await _nodes(setup)}
    assert len(pids) >= 2  # two web processes registered


async def _nodes(setup):
    from datetime import timedelta

    from pocketping.store import cluster as repo

    svc = setup.services()
    try:
        async with svc.db.read() as tx:
            return await repo.live_nodes(tx, timedelta(seconds=10))
    finally:
        await svc.db.dispose()
