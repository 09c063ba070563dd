"""A resume is bounded by POCKETPING_REPLAY_LIMIT (the latest items; `synced` says where it
began) and `history` frames page back to the first message: nothing is out of reach."""

from __future__ import annotations

import asyncio

import httpx
import orjson

from pocketping_testkit.widget_client import WidgetClient

TOTAL = 250
LIMIT = 100  # POCKETPING_REPLAY_LIMIT's default


async def _long_session(server, project, api: httpx.AsyncClient) -> tuple[WidgetClient, list[int]]:
    """A session of TOTAL messages (the visitor's first, then operator replies) with a few
    internal notes between them; returns the client and the seqs a widget sees."""
    w = await WidgetClient.connect(server.ws_url, project.public_key)
    await w.synced()
    await w.say("first")
    url = f"/api/v1/sessions/{w.session_id}/messages"

    async def post(body: dict[str, object]) -> int:
        r = await api.post(url, headers=project.auth, json=body)
        assert r.status_code == 201, r.text
        return int(r.json()["seq"])

    seqs = [1]
    notes = []
    for start in range(1, TOTAL, 50):  # concurrent posts: the group commit takes them in batches
        seqs += await asyncio.gather(*(post({"text": f"reply {i}"}) for i in range(start, min(TOTAL, start + 50))))
        notes.append(await post({"text": "for the team", "internal": True}))
    assert len(set(seqs)) == TOTAL and not set(notes) & set(seqs)
    await w.close()
    return w, sorted(seqs)


async def test_resume_is_bounded_and_history_reaches_every_message_once(server, project, api):
    w, seqs = await _long_session(server, project, api)

    back = await WidgetClient.connect(server.ws_url, project.public_key, token=w.token, last_seq=0)
    replay = []
    while (frame := await back.recv())["type"] != "synced":
        replay.append(frame)
    synced = frame
    assert [f["message"]["seq"] for f in replay] == seqs[-LIMIT:]  # the latest 100, in order
    assert synced == {"type": "synced", "lastSeq": seqs[-1], "replayFrom": seqs[-LIMIT], "more": True}

    # Scrolling up: pages of 40 before the oldest item held, until there is nothing older.
    seen = [f["message"]["seq"] for f in replay]
    before, pages = synced["replayFrom"], 0
    while True:
        await back.send({"type": "history", "beforeSeq": before, "limit": 40})
        page = await back.expect("history")
        got = [item["message"]["seq"] for item in page["items"]]
        assert page["beforeSeq"] == before and got == sorted(got) and all(s < before for s in got)
        assert len(got) == 40 or not page["more"]
        seen = got + seen
        pages += 1
        if not page["more"]:
            break
        before = got[0]
    assert seen == seqs and pages == 4  # every message exactly once, notes never
    assert all(item["type"] == "message" for item in page["items"])
    await back.close()

    # A resume that missed less than the limit gets all of it, and says nothing is left out.
    again = await WidgetClient.connect(server.ws_url, project.public_key, token=w.token, last_seq=seqs[-11])
    replay = []
    while (frame := await again.recv())["type"] != "synced":
        replay.append(frame)
    assert [f["message"]["seq"] for f in replay] == seqs[-10:]
    assert frame["replayFrom"] == seqs[-10] and frame["more"] is False
    # history without beforeSeq: the latest items; a limit over POCKETPING_REPLAY_LIMIT is lowered.
    await again.send({"type": "history", "limit": 5000})
    page = await again.expect("history")
    assert [i["message"]["seq"] for i in page["items"]] == seqs[-LIMIT:] and page["more"] is True
    await again.close()


async def test_synced_of_an_empty_and_a_short_session(server, project, api):
    w = await WidgetClient.connect(server.ws_url, project.public_key)
    while (frame := await w.recv())["type"] != "synced":
        pass
    assert frame == {"type": "synced", "lastSeq": 0, "replayFrom": None, "more": False}
    await w.say("hello")
    await w.send({"type": "history", "beforeSeq": 1})
    assert await w.expect("history") == {"type": "history", "beforeSeq": 1, "items": [], "more": False}
    await w.close()
    back = await WidgetClient.connect(server.ws_url, project.public_key, token=w.token, last_seq=0)
    replay = []
    while (frame := await back.recv())["type"] != "synced":
        replay.append(frame)
    assert [f["message"]["text"] for f in replay] == ["hello"]
    assert frame == {"type": "synced", "lastSeq": 1, "replayFrom": 1, "more": False}
    await back.close()


async def test_history_bad_input_has_stable_codes(server, project):
    w = await WidgetClient.connect(server.ws_url, project.public_key)
    await w.synced()
    for bad in ({"beforeSeq": "10"}, {"beforeSeq": 0}, {"beforeSeq": True}, {"beforeSeq": 2**40},
                {"limit": 0}, {"limit": 1.5}, {"limit": "all"}):
        await w.send({"type": "history", **bad})
        error = await w.expect("error")
        assert error["code"] == "invalid_history", (bad, error)
        assert error["field"] == next(iter(bad)), (bad, error)
    # The connection still works.
    await w.send({"type": "history"})
    assert (await w.expect("history"))["items"] == []
    await w.close()


async def test_history_is_rate_limited_with_the_control_frames(server, project):
    w = await WidgetClient.connect(server.ws_url, project.public_key)
    await w.synced()
    for _ in range(40):  # more than the burst of ping, read and history frames (30)
        await w.send({"type": "history", "limit": 1})
    answers = [await w.recv() for _ in range(40)]
    limited = [a for a in answers if a["type"] == "error"]
    assert limited and all(a["code"] == "rate_limited" and a["retryAfter"] > 0 for a in limited)
    assert sum(a["type"] == "history" for a in answers) >= 30
    await w.close()


async def test_history_before_hello_is_refused(server, project):
    import websockets

    async with websockets.connect(server.ws_url) as ws:
        await ws.send(orjson.dumps({"type": "history"}).decode())
        assert orjson.loads(await ws.recv())["code"] == "not_authenticated"


async def test_a_history_answer_stays_within_the_outgoing_bound(make_server):
    from conftest import create_project_on  # tests/conftest.py

    srv = make_server(max_frame_bytes=2048)  # what may wait for a slow reader: 16 x 2 KB; an answer, a quarter
    project = create_project_on(srv)
    w = await WidgetClient.connect(srv.ws_url, project.public_key)
    await w.synced()
    await w.say("first")
    async with httpx.AsyncClient(base_url=srv.base_url, headers=project.auth) as api:
        for i in range(30):
            r = await api.post(f"/api/v1/sessions/{w.session_id}/messages", json={"text": f"{i} " + "x" * 1000})
            assert r.status_code == 201
    seen, before = [], None
    while True:
        await w.send({"type": "history", **({"beforeSeq": before} if before else {})})
        page = await w.expect("history")
        assert len(orjson.dumps(page)) <= 16 * 2048 // 4 + 100 and page["items"]  # (the server uses orjson too)
        seen = [i["message"]["seq"] for i in page["items"]] + seen
        if not page["more"]:
            break
        before = page["items"][0]["message"]["seq"]
    assert seen == list(range(1, 32))  # every message once, in small answers
    await w.close()
