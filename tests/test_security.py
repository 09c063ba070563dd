"""Who may do what: origins, keys, project isolation, rate limits."""

from __future__ import annotations

import orjson
import pytest
import websockets

from pocketping_testkit.widget_client import WidgetClient


@pytest.fixture
def shop(make_project):
    return make_project("Shop", origins=["https://shop.example.com", "https://*.example.org",
                                         "http://localhost:3000"])


@pytest.mark.parametrize("origin", ["https://shop.example.com", "https://a.example.org",
                                    "https://deep.sub.example.org", "http://localhost:3000",
                                    "https://SHOP.example.com", "https://shop.example.com:443"])
async def test_allowed_origins(server, shop, origin):
    w = await WidgetClient.connect(server.ws_url, shop.public_key, origin=origin)
    assert w.welcome["type"] == "welcome"
    await w.close()


@pytest.mark.parametrize("origin", [None, "https://evil.com", "http://shop.example.com",
                                    "https://shop.example.com:8443", "https://example.org",
                                    "https://shop.example.com.evil.com", "https://evilexample.org",
                                    "http://localhost:3001", "null"])
async def test_refused_origins(server, shop, origin):
    ws = await websockets.connect(server.ws_url, origin=origin)
    await ws.send(orjson.dumps({"type": "hello", "publicKey": shop.public_key}).decode())
    error = orjson.loads(await ws.recv())
    assert error["code"] == "origin_not_allowed"
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await ws.recv()
    assert closed.value.rcvd.code == 4003


async def test_a_token_only_reaches_its_own_project(server, make_project, api):
    a, b = make_project("A"), make_project("B")
    wa = await WidgetClient.connect(server.ws_url, a.public_key)
    await wa.synced()
    await wa.say("secret of A")
    # A's token presented with B's public key starts a fresh session in B; A's history stays hidden.
    wb = await WidgetClient.connect(server.ws_url, b.public_key, token=wa.token, last_seq=0)
    assert wb.session_id != wa.session_id
    assert await wb.synced() == []
    # A tampered token grants nothing either.
    forged = wa.token[:-2] + ("AA" if not wa.token.endswith("AA") else "BB")
    wf = await WidgetClient.connect(server.ws_url, a.public_key, token=forged)
    assert wf.session_id != wa.session_id and await wf.synced() == []
    # A token naming A's session but another visitor (signature then fails) grants nothing.
    parts = wa.token.split(".")
    parts[3] = "vis_someoneelse000000000"
    wg = await WidgetClient.connect(server.ws_url, a.public_key, token=".".join(parts))
    assert wg.session_id != wa.session_id
    for client in (wa, wb, wf, wg):
        await client.close()


async def test_secret_keys_only_reach_their_own_project(server, make_project, api):
    a, b = make_project("A"), make_project("B")
    wa = await WidgetClient.connect(server.ws_url, a.public_key)
    await wa.synced()
    await wa.say("hello A")
    sid = wa.session_id
    for method, path, body in [
        ("GET", f"/api/v1/sessions/{sid}", None),
        ("GET", f"/api/v1/sessions/{sid}/messages", None),
        ("POST", f"/api/v1/sessions/{sid}/messages", {"text": "pwned"}),
        ("POST", f"/api/v1/sessions/{sid}/close", None),
        ("POST", f"/api/v1/sessions/{sid}/events", {"name": "x", "data": {}}),
        ("GET", f"/api/v1/visitors/{wa.welcome['visitorId']}/export", None),
        ("DELETE", f"/api/v1/visitors/{wa.welcome['visitorId']}", None),
    ]:
        r = await api.request(method, path, headers=b.auth, json=body)
        missing = await api.request(method, path.replace(sid, "sess_doesnotexist00000000"), headers=a.auth,
                                    json=body) if sid in path else None
        assert r.status_code == 404, (method, path, r.text)
        if missing is not None:
            assert missing.status_code == 404
            assert r.json()["error"]["code"] == missing.json()["error"]["code"]  # indistinguishable
    listed = (await api.get("/api/v1/sessions", headers=b.auth)).json()["sessions"]
    assert sid not in [s["id"] for s in listed]
    # Nothing of A changed.
    r = await api.get(f"/api/v1/sessions/{sid}/messages", headers=a.auth)
    assert [m["text"] for m in r.json()["messages"]] == ["hello A"]
    assert (await api.get(f"/api/v1/sessions/{sid}", headers=a.auth)).json()["status"] == "active"
    await wa.close()


async def test_rest_needs_the_secret_key(server, project, api):
    r = await api.get("/api/v1/sessions")
    assert r.status_code == 401 and r.json()["error"]["code"] == "missing_key"
    assert r.headers["www-authenticate"] == "Bearer"
    r = await api.get("/api/v1/sessions", headers={"Authorization": f"Bearer {project.public_key}"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "secret_key_required"
    r = await api.get("/api/v1/sessions", headers={"Authorization": f"Bearer {project.secret_key}x"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_key"
    # Keys are case-sensitive on every backend (MySQL compares them byte for byte).
    r = await api.get("/api/v1/sessions", headers={"Authorization": f"Bearer {project.secret_key.swapcase()}"})
    assert r.status_code == 401
    r = await api.get("/api/v1/project", headers=project.auth)
    assert r.status_code == 200 and r.json()["id"] == project.id and "secretKey" not in r.json()


async def test_public_key_lookup_is_case_sensitive(server, project):
    ws = await websockets.connect(server.ws_url)
    swapped = "pk_live_" + project.public_key[len("pk_live_"):].swapcase()
    await ws.send(orjson.dumps({"type": "hello", "publicKey": swapped}).decode())
    assert orjson.loads(await ws.recv())["code"] == "invalid_key"


async def test_rotating_the_secret_key_revokes_the_old_one(server, project, api):
    from pocketping.actions.projects import rotate_secret

    _, new_secret = server.call(rotate_secret(server.services, project.id))
    old = await api.get("/api/v1/sessions", headers=project.auth)
    new = await api.get("/api/v1/sessions", headers={"Authorization": f"Bearer {new_secret}"})
    assert (old.status_code, new.status_code) == (401, 200)


async def test_visitor_message_rate_limit(make_server):
    from pocketping.actions.projects import create_project

    srv = make_server(rate_limit_messages_per_minute=3)
    project, _ = srv.call(create_project(srv.services, "Limited"))
    w = await WidgetClient.connect(srv.ws_url, project.public_key)
    await w.synced()
    for i in range(3):
        await w.say(f"m{i}")
    await w.send({"type": "message", "text": "one too many", "clientId": "over"})
    error = await w.expect("error")
    assert error["code"] == "rate_limited" and error["clientId"] == "over" and 0 < error["retryAfter"] <= 20
    await w.send({"type": "ping", "t": 1})
    assert (await w.expect("pong"))["t"] == 1  # still connected
    # Another visitor is not affected.
    other = await WidgetClient.connect(srv.ws_url, project.public_key)
    await other.synced()
    assert (await other.say("fine"))["seq"] == 1
    await w.close()
    await other.close()


async def test_connection_rate_limit_per_ip(make_server):
    from pocketping.actions.projects import create_project

    srv = make_server(rate_limit_connections_per_minute=2)
    project, _ = srv.call(create_project(srv.services, "Limited"))
    clients = [await WidgetClient.connect(srv.ws_url, project.public_key) for _ in range(2)]
    ws = await websockets.connect(srv.ws_url)
    error = orjson.loads(await ws.recv())
    assert error["code"] == "rate_limited"
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await ws.recv()
    assert closed.value.rcvd.code == 4029
    for client in clients:
        await client.close()


async def test_limits_can_be_turned_off(make_server):
    from pocketping.actions.projects import create_project

    srv = make_server(rate_limit_messages_per_minute=0, rate_limit_connections_per_minute=0)
    project, _ = srv.call(create_project(srv.services, "Unlimited"))
    w = await WidgetClient.connect(srv.ws_url, project.public_key)
    await w.synced()
    for i in range(40):
        await w.say(f"m{i}")
    await w.close()
