"""Uploads and downloads over REST and the widget protocol: types from the bytes, limits while
streaming, images re-encoded without metadata, files served inert, each key and token reaching
only its own project's and session's files, signed links that expire."""

from __future__ import annotations

import io
import os

import httpx
import pytest
from PIL import Image
from tests.files.conftest import gps_jpeg, pixels, png_bytes

from pocketping import filelinks
from pocketping_testkit.widget_client import WidgetClient


async def upload(api: httpx.AsyncClient, auth: dict[str, str], name: str, data: bytes,
                 ctype: str = "application/octet-stream", path: str = "/api/v1/files") -> httpx.Response:
    return await api.post(path, headers=auth, files={"file": (name, data, ctype)})


async def test_a_backend_uploads_names_it_in_a_reply_and_the_widget_gets_it(server, project, api):
    w = await WidgetClient.connect(server.ws_url, project.public_key)
    await w.synced()
    original = png_bytes()
    r = await upload(api, project.auth, "shot.png", original, "text/html")  # the client's type is ignored
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["id"].startswith("file_") and body["name"] == "shot.png"
    assert (body["contentType"], body["width"], body["height"]) == ("image/png", 40, 30)
    sent = await api.post(f"/api/v1/sessions/{w.session_id}/messages", headers=project.auth,
                          json={"attachments": [body["id"]]})
    assert sent.status_code == 201, sent.text
    [att] = sent.json()["attachments"]
    assert att["id"] == body["id"] and att["url"].startswith(f"/files/{body['id']}?exp=")
    frame = await w.expect("message")
    assert frame["message"]["text"] == "" and frame["message"]["attachments"][0]["id"] == body["id"]
    got = await api.get(frame["message"]["attachments"][0]["url"])  # the signed link, no key
    assert got.status_code == 200 and got.headers["content-type"] == "image/png"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-security-policy"] == "sandbox"
    assert got.headers["content-disposition"].startswith("inline;")
    assert pixels(got.content) == pixels(original)  # the same pixels ...
    assert b"Secret Person" in original and b"Secret Person" not in got.content  # ... without the metadata
    again = await api.get(f"/api/v1/files/{body['id']}", headers=project.auth)
    assert again.content == got.content
    thumb = await api.get(frame["message"]["attachments"][0]["url"] + "&thumb=1")
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(thumb.content)) as small:
        assert max(small.size) <= 320
    # The message lists its files in the REST history too; a file is named by one message only.
    history = await api.get(f"/api/v1/sessions/{w.session_id}/messages", headers=project.auth)
    assert history.json()["messages"][-1]["attachments"][0]["name"] == "shot.png"
    twice = await api.post(f"/api/v1/sessions/{w.session_id}/messages", headers=project.auth,
                           json={"text": "again", "attachments": [body["id"]]})
    assert twice.status_code == 422 and twice.json()["error"]["code"] == "invalid_attachment"
    await w.close()


async def test_a_gps_tagged_jpeg_arrives_without_its_exif(server, project, api):
    original = gps_jpeg()
    with Image.open(io.BytesIO(original)) as img:
        assert img.getexif().get(0x8825)  # the fixture does carry GPS
    body = (await upload(api, project.auth, "holiday.jpg", original)).json()
    got = await api.get(f"/api/v1/files/{body['id']}", headers=project.auth)
    with Image.open(io.BytesIO(got.content)) as img:
        assert img.format == "JPEG" and not img.getexif() and (img.width, img.height) == (64, 48)
    assert b"CameraMaker" not in got.content


@pytest.mark.parametrize(("name", "data", "code", "status"), [
    ("big.pdf", b"%PDF-1.4\n" + b"0" * (11 * 1024 * 1024), "file_too_large", 413),
    ("invoice.pdf", b"MZ\x90\x00" + os.urandom(2000), "file_type_not_allowed", 415),
    ("page.txt", b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>", "file_type_not_allowed", 415),
    ("logo.png", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
     "file_type_not_allowed", 415),
    ("fake.png", b"\x89PNG\r\n\x1a\n" + b"not really", "invalid_image", 422),
])
async def test_bad_files_are_refused_with_a_clear_code(server, project, api, name, data, code, status):
    r = await upload(api, project.auth, name, data, "image/png")
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code and r.json()["error"]["message"]


async def test_an_allowed_svg_is_served_only_as_a_download(server, make_project, api):
    from pocketping.actions.projects import update_project

    keys = make_project()
    server.call(update_project(server.services, keys.id, settings={"upload_types": ["image/svg+xml", "text/html"]}))
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    body = (await upload(api, keys.auth, "logo.svg", svg)).json()
    assert body["contentType"] == "image/svg+xml"
    got = await api.get(f"/api/v1/files/{body['id']}", headers=keys.auth)
    assert got.content == svg
    assert got.headers["content-type"] == "application/octet-stream"
    assert got.headers["content-disposition"].startswith("attachment;")
    assert got.headers["content-security-policy"] == "sandbox"


async def test_keys_tokens_and_links_reach_only_their_own_files(server, project, make_project, api):
    other = make_project()
    body = (await upload(api, project.auth, "notes.txt", b"private notes\n")).json()
    assert (await api.get(f"/api/v1/files/{body['id']}", headers=other.auth)).status_code == 404
    w1 = await WidgetClient.connect(server.ws_url, project.public_key)
    await w1.synced()
    w2 = await WidgetClient.connect(server.ws_url, project.public_key)
    await w2.synced()
    mine = await upload(api, {"Authorization": f"Bearer {w1.token}"}, "mine.txt", b"visitor one\n",
                        path="/api/v1/widget/uploads")
    assert mine.status_code == 201, mine.text
    file_id = mine.json()["id"]
    own = await api.get(f"/api/v1/widget/files/{file_id}", headers={"Authorization": f"Bearer {w1.token}"})
    assert own.status_code == 200 and own.content == b"visitor one\n"
    assert own.headers["content-disposition"].startswith("attachment;")
    stranger = await api.get(f"/api/v1/widget/files/{file_id}", headers={"Authorization": f"Bearer {w2.token}"})
    assert stranger.status_code == 404
    # Another session cannot name it in its message either.
    await w2.send({"type": "message", "clientId": "steal", "attachments": [file_id]})
    err = await w2.expect("error", clientId="steal")
    assert err["code"] == "invalid_attachment"
    # An expired link is refused; a forged one too.
    keyring = server.services.db.keyring
    past = int(server.services.clock.now().timestamp()) - 10
    assert (await api.get(filelinks.link(keyring, file_id, past))).status_code == 403
    assert (await api.get(f"/files/{file_id}?exp={past + 10**6}&sig=AAAAAAAAAAAAAAAA")).status_code == 403
    assert (await api.get(mine.json()["url"])).status_code == 200
    await w1.close()
    await w2.close()


async def test_a_visitor_sends_a_file_over_the_widget_protocol(server, project, api):
    w = await WidgetClient.connect(server.ws_url, project.public_key)
    await w.synced()
    token = {"Authorization": f"Bearer {w.token}", "Origin": "https://shop.example"}
    up = await upload(api, token, "report.csv", b"a,b,c\n1,2,3\n4,5,6\n", path="/api/v1/widget/uploads")
    assert up.status_code == 201 and up.json()["contentType"] == "text/csv"
    assert up.headers["access-control-allow-origin"] == "https://shop.example"
    await w.send({"type": "message", "clientId": "c1", "text": "here it is", "attachments": [up.json()["id"]]})
    ack = await w.expect("ack", clientId="c1")
    echo = await w.expect("message")
    assert echo["message"]["attachments"][0]["name"] == "report.csv"
    # Replayed to a reconnecting tab with a fresh link.
    again = await WidgetClient.connect(server.ws_url, project.public_key, token=w.token)
    replay = await again.synced()
    [msg] = [f for f in replay if f["type"] == "message" and f["message"]["id"] == ack["id"]]
    assert (await api.get(msg["message"]["attachments"][0]["url"])).content == b"a,b,c\n1,2,3\n4,5,6\n"
    history = await api.get(f"/api/v1/sessions/{w.session_id}/messages", headers=project.auth)
    assert history.json()["messages"][-1]["text"] == "here it is"
    await again.close()
    await w.close()


async def test_the_widget_upload_checks_the_origin_and_answers_the_preflight(server, make_project, api):
    keys = make_project(origins=["https://shop.example"])
    w = await WidgetClient.connect(server.ws_url, keys.public_key, origin="https://shop.example")
    await w.synced()
    bad = await upload(api, {"Authorization": f"Bearer {w.token}", "Origin": "https://evil.example"}, "a.txt",
                       b"hello\n", path="/api/v1/widget/uploads")
    assert bad.status_code == 403 and bad.json()["error"]["code"] == "origin_not_allowed"
    pre = await api.options("/api/v1/widget/uploads", headers={"Origin": "https://shop.example",
                                                               "Access-Control-Request-Method": "POST"})
    assert pre.status_code == 204 and "authorization" in pre.headers["access-control-allow-headers"]
    missing = await api.post("/api/v1/widget/uploads", files={"file": ("a.txt", b"x\n")})
    assert missing.status_code == 401
    await w.close()


async def test_erasing_a_session_deletes_its_files(server, project, api):
    w = await WidgetClient.connect(server.ws_url, project.public_key)
    await w.synced()
    up = await upload(api, {"Authorization": f"Bearer {w.token}"}, "a.txt", b"to be erased\n",
                      path="/api/v1/widget/uploads")
    file_id = up.json()["id"]
    names = server.call(server.services.files.names())
    assert f"{project.id}/{file_id}" in names
    await w.close()
    erased = await api.delete(f"/api/v1/sessions/{w.session_id}", headers=project.auth)
    assert erased.status_code == 200
    await server.acall(server.node.outbox.wait_idle())  # the files go through the outbox (retried if the store fails)
    assert f"{project.id}/{file_id}" not in server.call(server.services.files.names())
    status = (await api.get(f"/api/v1/erasures/{erased.json()['eraseId']}", headers=project.auth)).json()
    assert [(p["target"], p["status"], p["deleted"]) for p in status["platforms"]] == [("files", "done", {"files": 1})]
    assert (await api.get(f"/api/v1/files/{file_id}", headers=project.auth)).status_code == 404


async def test_unsent_uploads_go_after_a_day_and_closed_conversations_files_after_the_retention(make_server):
    from datetime import timedelta

    from tests.conftest import ProjectKeys

    from pocketping.actions.files import prune_files
    from pocketping.actions.projects import create_project
    from pocketping.actions.sessions import close_session
    from pocketping.clock import FakeClock

    clock = FakeClock()
    srv = make_server(clock=clock, file_retention_days=30)
    project, secret = srv.call(create_project(srv.services, "Prune"))
    keys = ProjectKeys(project.id, project.public_key, secret)
    async with httpx.AsyncClient(base_url=srv.base_url) as api:
        w = await WidgetClient.connect(srv.ws_url, keys.public_key)
        await w.synced()
        auth = {"Authorization": f"Bearer {w.token}"}
        kept = (await upload(api, auth, "sent.txt", b"sent\n", path="/api/v1/widget/uploads")).json()["id"]
        unsent = (await upload(api, auth, "unsent.txt", b"never sent\n", path="/api/v1/widget/uploads")).json()["id"]
        await w.send({"type": "message", "clientId": "k", "attachments": [kept]})
        await w.expect("ack", clientId="k")
        await w.close()
        clock.advance(timedelta(hours=25).total_seconds())
        srv.call(prune_files(srv.services, 30))  # (the hourly pruner may have done it already)
        assert (await api.get(f"/api/v1/files/{unsent}", headers=keys.auth)).status_code == 404
        assert (await api.get(f"/api/v1/files/{kept}", headers=keys.auth)).status_code == 200
        srv.call(close_session(srv.services, keys.id, w.session_id))
        clock.advance(timedelta(days=31).total_seconds())
        srv.call(prune_files(srv.services, 30))  # (the hourly pruner may have done it already)
        assert (await api.get(f"/api/v1/files/{kept}", headers=keys.auth)).status_code == 404
        history = (await api.get(f"/api/v1/sessions/{w.session_id}/messages", headers=keys.auth)).json()
        assert [m["attachments"] for m in history["messages"] if m["kind"] == "message"] == [[]]


async def test_project_update_upload_types_changes_what_is_accepted(server, make_project, api):
    import asyncio
    import sys

    keys = make_project()
    env = {**os.environ, "POCKETPING_DATABASE_URL": server.settings.database_url,
           "POCKETPING_ENCRYPTION_KEY": server.settings.encryption_key.get_secret_value(),
           "POCKETPING_DATA_DIR": str(server.settings.data_dir)}

    async def cli(*args: str) -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "pocketping", *args, env=env,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        out, _ = await asyncio.wait_for(proc.communicate(), 60)
        return proc.returncode or 0, out.decode()

    code, out = await cli("project", "update", keys.id, "--upload-types", "images")
    assert code != 0 and "image/*" in out
    code, out = await cli("project", "update", keys.id, "--upload-types", "image/*")
    assert code == 0, out
    assert (await upload(api, keys.auth, "a.png", png_bytes())).status_code == 201
    refused = await upload(api, keys.auth, "a.pdf", b"%PDF-1.4\n%%EOF\n")
    assert refused.status_code == 415 and refused.json()["error"]["contentType"] == "application/pdf"
    code, out = await cli("project", "update", keys.id, "--upload-types", "default")
    assert code == 0, out
    assert (await upload(api, keys.auth, "a.pdf", b"%PDF-1.4\n%%EOF\n")).status_code == 201


async def test_the_sdk_uploads_and_sends_files_and_events_carry_them(server, project, api, tmp_path):
    from pocketping_sdk import Attachment, PocketPing, PocketPingSync

    w = await WidgetClient.connect(server.ws_url, project.public_key)
    await w.synced()
    pp = PocketPing(secret_key=project.secret_key, base_url=server.base_url)
    try:
        first = await pp.upload_file(png_bytes(), name="chart.png")
        assert isinstance(first, Attachment) and first.content_type == "image/png" and first.width == 40
        path = tmp_path / "terms.txt"
        path.write_bytes(b"the terms\n")
        second = await pp.upload_file(path)
        assert second.name == "terms.txt"
        sent = await pp.send_message(w.session_id, "two files", files=[first, second.id])
        assert [a.name for a in sent.attachments] == ["chart.png", "terms.txt"]
        frame = await w.expect("message")
        assert [a["id"] for a in frame["message"]["attachments"]] == [first.id, second.id]
        # The public event (webhooks, the stream) carries them too.
        events = (await api.get("/api/v1/events", headers=project.auth, params={"type": "message.created"})).json()
        carried = [e["data"]["message"]["attachments"] for e in events["events"]
                   if e["data"]["message"]["id"] == sent.id]
        assert [a["name"] for a in carried[0]] == ["chart.png", "terms.txt"] and carried[0][0]["url"]
    finally:
        await pp.aclose()
    sync = PocketPingSync(secret_key=project.secret_key, base_url=server.base_url)
    try:
        third = sync.upload_file(b"a,b\n1,2\n", name="data.csv")
        assert sync.send_message(w.session_id, files=[third]).attachments[0].content_type == "text/csv"
    finally:
        sync.close()
    await w.close()


async def test_a_visitor_uploading_too_fast_is_told_to_wait(make_server):
    from pocketping.actions.projects import create_project

    srv = make_server(rate_limit_uploads_per_minute=2)
    project, _ = srv.call(create_project(srv.services, "Slow down"))
    w = await WidgetClient.connect(srv.ws_url, project.public_key)
    await w.synced()
    async with httpx.AsyncClient(base_url=srv.base_url) as api:
        token = {"Authorization": f"Bearer {w.token}"}
        codes = [(await upload(api, token, f"n{i}.txt", b"note\n", path="/api/v1/widget/uploads")).status_code
                 for i in range(3)]
        assert codes == [201, 201, 429]
        last = await upload(api, token, "n.txt", b"note\n", path="/api/v1/widget/uploads")
        assert last.json()["error"]["code"] == "rate_limited" and int(last.headers["retry-after"]) >= 1
    await w.close()
