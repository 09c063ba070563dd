"""Managing webhooks: CLI (exact public names), REST, URL rules at add and at delivery time."""

from __future__ import annotations

import asyncio

import orjson
from pocketping_sdk import InvalidRequestError, NotFoundError, PocketPing
from typer.testing import CliRunner

from conftest import create_project_on
from pocketping.wiring import cli_app
from pocketping_testkit.waiting import eventually
from pocketping_testkit.widget_client import WidgetClient

cli = cli_app()


async def attempted_deliveries(pp: PocketPing, hook_id: str, timeout: float = 10.0) -> list:
    """The hook's deliveries once the first one has been attempted (no event announces it)."""
    async def attempted() -> list | None:
        deliveries = await pp.list_deliveries(hook_id)
        return deliveries if deliveries and deliveries[0].attempts else None

    return await eventually(attempted, timeout)


def _cli(server, *args: str):
    env = {"POCKETPING_DATABASE_URL": server.settings.database_url,
           "POCKETPING_ENCRYPTION_KEY": server.settings.encryption_key.get_secret_value(),
           "POCKETPING_DATA_DIR": str(server.settings.data_dir)}
    result = CliRunner().invoke(cli, list(args), env=env)
    return result


def test_cli_add_list_deliveries_remove(server, project):
    added = _cli(server, "webhook", "add", project.id, "https://hooks.example.com/pp",
                 "--events", "session.created,message.created", "--json")
    assert added.exit_code == 0, added.output
    data = orjson.loads(added.stdout)
    assert set(data) == {"id", "url", "events", "secret"}
    assert data["url"] == "https://hooks.example.com/pp"
    assert data["events"] == ["session.created", "message.created"]
    assert data["secret"].startswith("whsec_")
    everything = orjson.loads(_cli(server, "webhook", "add", project.id, "http://10.0.0.5/hook", "--json").stdout)
    assert everything["events"] == []

    listed = orjson.loads(_cli(server, "webhook", "list", project.id, "--json").stdout)
    assert [w["id"] for w in listed] == [data["id"], everything["id"]]
    assert all("secret" not in w for w in listed)  # shown once
    assert orjson.loads(_cli(server, "webhook", "deliveries", data["id"], "--json").stdout) == []
    human = _cli(server, "webhook", "deliveries", data["id"])
    assert "no deliveries yet" in human.output

    bad = _cli(server, "webhook", "add", project.id, "https://x.example.com", "--events", "nope", "--json")
    assert bad.exit_code == 1 and orjson.loads(bad.stdout)["error"]["code"] == "invalid_event_type"
    meta = _cli(server, "webhook", "add", project.id, "http://169.254.169.254/latest", "--json")
    assert meta.exit_code == 1 and orjson.loads(meta.stdout)["error"]["code"] == "unsafe_url"

    removed = _cli(server, "webhook", "remove", data["id"], "--json")
    assert removed.exit_code == 0 and orjson.loads(removed.stdout) == {"id": data["id"], "deleted": True}
    gone = _cli(server, "webhook", "remove", data["id"], "--json")
    assert gone.exit_code == 1 and orjson.loads(gone.stdout)["error"]["code"] == "webhook_not_found"


async def test_rest_webhooks_are_per_project(server, project, api):
    created = await api.post("/api/v1/webhooks", json={"url": "https://a.example.com/h", "events": ["session.closed"]},
                             headers=project.auth)
    assert created.status_code == 201
    body = created.json()
    assert body["secret"].startswith("whsec_") and body["events"] == ["session.closed"]
    other = create_project_on(server)
    for method, path in (("GET", f"/api/v1/webhooks/{body['id']}"), ("DELETE", f"/api/v1/webhooks/{body['id']}"),
                         ("GET", f"/api/v1/webhooks/{body['id']}/deliveries")):
        r = await api.request(method, path, headers=other.auth)
        assert r.status_code == 404 and r.json()["error"]["code"] == "webhook_not_found"
    assert (await api.get("/api/v1/webhooks", headers=other.auth)).json() == {"webhooks": []}
    listed = (await api.get("/api/v1/webhooks", headers=project.auth)).json()["webhooks"]
    assert [w["id"] for w in listed] == [body["id"]] and "secret" not in listed[0]
    rotated = (await api.post(f"/api/v1/webhooks/{body['id']}/rotate-secret", headers=project.auth)).json()
    assert rotated["secret"] != body["secret"]
    for url in ("http://169.254.169.254/", "http://[fe80::1]:8080/", "http://metadata.google.internal/", "ftp://x/"):
        r = await api.post("/api/v1/webhooks", json={"url": url}, headers=project.auth)
        assert r.status_code == 422, url
    assert (await api.delete(f"/api/v1/webhooks/{body['id']}", headers=project.auth)).json()["deleted"] is True


async def test_the_secret_is_encrypted_at_rest(server, project):
    pp = PocketPing(secret_key=project.secret_key, base_url=server.base_url)
    hook = await pp.create_webhook("https://b.example.com/h")

    async def raw() -> str:
        from sqlalchemy import select

        from pocketping.store.schema import webhooks

        async with server.services.db.read() as tx:
            return str((await tx.conn.execute(select(webhooks.c.secret).where(webhooks.c.id == hook.id))).scalar())

    stored = await server.acall(raw())
    assert hook.secret and hook.secret not in stored
    await pp.aclose()


async def test_private_urls_refused_when_turned_off_even_at_delivery_time(make_server, receiver, tmp_path):
    db = f"sqlite:///{tmp_path / 'shared.db'}"
    # An administrator's server (allows private URLs, delivers nothing) adds a loopback endpoint ...
    admin = make_server(database_url=db, workers=False)
    project = create_project_on(admin)
    pp_admin = PocketPing(secret_key=project.secret_key, base_url=admin.base_url)
    hook = await pp_admin.create_webhook(receiver.url)
    # ... which a server with POCKETPING_ALLOW_PRIVATE_URLS=false refuses to add, and to deliver to.
    strict = make_server(database_url=db, allow_private_urls=False,
                         encryption_key=admin.settings.encryption_key.get_secret_value())
    pp = PocketPing(secret_key=project.secret_key, base_url=strict.base_url)
    try:
        await pp.create_webhook(receiver.url)
    except InvalidRequestError as exc:
        assert exc.code == "unsafe_url"
    else:
        raise AssertionError("a loopback URL must be refused")
    w = await WidgetClient.connect(strict.ws_url, project.public_key)
    await w.synced()
    await w.close()
    deliveries = await attempted_deliveries(pp, hook.id)
    assert deliveries[0].status == "pending" and "private or loopback" in (deliveries[0].last_error or "")
    assert receiver.requests == []
    try:
        await pp.replay_delivery(hook.id, 10**9)
    except NotFoundError as exc:
        assert exc.code == "delivery_not_found"
    await pp.aclose()
    await pp_admin.aclose()


async def test_a_slow_endpoint_times_out_and_is_retried(make_server):
    import threading

    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    from pocketping_testkit.apps import AsgiThread

    release = threading.Event()

    async def hang(_request) -> Response:
        await asyncio.to_thread(release.wait, 30)
        return Response(status_code=200)

    slow = AsgiThread(Starlette(routes=[Route("/hook", hang, methods=["POST"])])).start()
    srv = make_server(webhook_timeout_seconds=0.3)
    project = create_project_on(srv)
    pp = PocketPing(secret_key=project.secret_key, base_url=srv.base_url)
    try:
        hook = await pp.create_webhook(f"{slow.url}/hook", events=["session.created"])
        w = await WidgetClient.connect(srv.ws_url, project.public_key)
        await w.synced()
        await w.close()
        deliveries = await attempted_deliveries(pp, hook.id, timeout=20)
        assert deliveries[0].status == "pending" and deliveries[0].last_error == "no answer within 0.3 s"
    finally:
        release.set()
        slow.stop()
        await pp.aclose()
