"""A server killed mid-upload serves nothing half-written (no row, no blob); killed
mid-delivery, every acknowledged file reaches the platform once after the restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from sqlalchemy import text
from tests.files.conftest import pixels, png_bytes

from pocketping.actions.bridges import add_bridge
from pocketping.actions.projects import create_project
from pocketping.crypto import generate_key
from pocketping.store.engine import create_engine
from pocketping.wiring import build_services
from pocketping_testkit.fakes.telegram import FakeTelegram
from pocketping_testkit.process import ServerProcess
from pocketping_testkit.server import make_settings
from pocketping_testkit.waiting import eventually
from pocketping_testkit.widget_client import WidgetClient

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF\n"


async def count_files(url: str) -> int:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(text("SELECT COUNT(*) FROM files"))).scalar_one())
    finally:
        await engine.dispose()


def blobs(data_dir: Path) -> list[Path]:
    root = data_dir / "files"
    return [p for p in root.rglob("*") if p.is_file() and ".tmp" not in p.parts] if root.exists() else []


async def test_a_server_killed_mid_upload_keeps_no_half_file(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'up.db'}"
    key = generate_key()
    data_dir, spool = tmp_path / "data", tmp_path / "tmp"
    spool.mkdir()
    svc = build_services(make_settings(url, str(data_dir), encryption_key=key))
    await svc.db.migrate()
    _project, secret = await create_project(svc, "Kill upload", [])
    await svc.db.dispose()
    first = ServerProcess(url, data_dir, encryption_key=key, env={"TMPDIR": str(spool)}).start()
    writer = None
    try:
        boundary = "pocketpingboundary"
        head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.pdf\"\r\n"
                f"Content-Type: application/pdf\r\n\r\n").encode()
        length = len(head) + 4_000_000
        _reader, writer = await asyncio.open_connection("127.0.0.1", first.port)
        writer.write((f"POST /api/v1/files HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {secret}\r\n"
                      f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                      f"Content-Length: {length}\r\n\r\n").encode() + head + b"%PDF-1.4\n" + b"0" * 1_000_000)
        await writer.drain()
        # The server is writing the upload to its spool when it dies.
        await eventually(lambda: any(p.stat().st_size > 0 for p in spool.rglob("upload")), timeout=20)
        first.kill()
    finally:
        first.kill()
        if writer is not None:
            writer.close()
    second = ServerProcess(url, data_dir, encryption_key=key).start()
    try:
        assert await count_files(url) == 0 and blobs(data_dir) == []
        async with httpx.AsyncClient(base_url=second.base_url) as api:
            ok = await api.post("/api/v1/files", headers={"Authorization": f"Bearer {secret}"},
                                files={"file": ("small.pdf", PDF)})
            assert ok.status_code == 201
        assert await count_files(url) == 1 and len(blobs(data_dir)) == 1
    finally:
        second.stop()


async def test_a_server_killed_mid_delivery_posts_each_file_once(tmp_path: Path, fake_telegram: FakeTelegram):
    url = f"sqlite:///{tmp_path / 'deliver.db'}"
    key = generate_key()
    env = {"POCKETPING_TELEGRAM_API_URL": fake_telegram.url, "POCKETPING_OUTBOX_LEASE_SECONDS": "1",
           "POCKETPING_CONFIG_POLL_SECONDS": "0.5"}
    token = fake_telegram.add_bot()
    chat = fake_telegram.add_forum(token)
    svc = build_services(make_settings(url, str(tmp_path / "data"), encryption_key=key))
    await svc.db.migrate()
    project, _ = await create_project(svc, "Kill delivery", [])
    await add_bridge(svc, project.id, "telegram", {"bot_token": token, "chat_id": str(chat)})
    await svc.db.dispose()

    image = png_bytes()
    first = ServerProcess(url, tmp_path / "data", encryption_key=key, env=env).start()
    try:
        w = await WidgetClient.connect(first.ws_url, project.public_key)
        await w.synced()
        ids = []
        async with httpx.AsyncClient(base_url=first.base_url) as http:
            for name, data in (("shot.png", image), ("invoice.pdf", PDF)):
                r = await http.post("/api/v1/widget/uploads", headers={"Authorization": f"Bearer {w.token}"},
                                    files={"file": (name, data)})
                ids.append(r.json()["id"])
        # The photo goes through; the document is in flight when the server dies.
        fake_telegram.hold(token, "sendDocument")
        await w.send({"type": "message", "clientId": "k1", "text": "two files", "attachments": ids})
        await w.expect("ack", clientId="k1")  # acknowledged: it must arrive
        await fake_telegram.wait_for(lambda: fake_telegram.held_count(token) == 1)
        first.kill()
        await w.close()
    finally:
        first.kill()
    fake_telegram.release(token, commit=False)  # Telegram never got the held call

    second = ServerProcess(url, tmp_path / "data", encryption_key=key, env=env).start()
    try:
        await fake_telegram.wait_for(lambda: any(m.kind == "document" for m in fake_telegram.posts(chat)),
                                     timeout=30)
    finally:
        second.stop()
    files = [m for m in fake_telegram.posts(chat) if m.file is not None]
    assert [m.kind for m in files] == ["photo", "document"], files  # each once, in order
    assert pixels(files[0].file.data) == pixels(image) and files[1].file.data == PDF
    assert files[0].text.endswith(": two files")
