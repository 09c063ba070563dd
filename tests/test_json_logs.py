"""``POCKETPING_LOG_FORMAT=json``: a whole run of ``pocketping serve`` (REST, a widget, the
Telegram fake, a failing webhook, the inbox, metrics) logs one JSON object per line, with the
ids of where it happened, and never a key, token, password or message text (nor does ``text``)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import orjson
import pytest

from pocketping.crypto import generate_key
from pocketping_testkit.fakes.telegram import FakeTelegram
from pocketping_testkit.inbox_client import InboxClient
from pocketping_testkit.process import ServerProcess
from pocketping_testkit.server import make_settings
from pocketping_testkit.widget_client import WidgetClient

DB_PASSWORD = "db-pass-Q7v9Zr2k"  # PostgreSQL here trusts local connections: it is sent, never checked
METRICS_TOKEN = "metrics-token-Jx81Lq0Zt4"


def _with_password(backend: str, url: str) -> str:
    if backend != "postgresql" or "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    user_part, host = rest.split("@", 1)
    return f"{scheme}://{user_part.split(':', 1)[0]}:{DB_PASSWORD}@{host}"


@pytest.mark.parametrize("log_format", ["json", "text"])
async def test_a_whole_run_logs_lines_with_ids_and_no_secrets(fresh_db, tmp_path, fake_telegram: FakeTelegram,
                                                              log_format: str):
    from pocketping.actions.operators import add_operator
    from pocketping.actions.projects import create_project
    from pocketping.wiring import build_services

    url = _with_password(fresh_db.backend, fresh_db.url)
    key = generate_key()
    admin = build_services(make_settings(url, str(tmp_path), encryption_key=key))
    await admin.db.migrate()
    project, secret_key = await create_project(admin, "Logs")
    _, password = await add_operator(admin, "ana@example.com", project_ids=[project.id])
    await admin.db.dispose()
    assert password
    bot_token = fake_telegram.add_bot()
    chat = fake_telegram.add_forum(bot_token)
    # Each text begins and ends with a word found nowhere else (a log that cuts a text short keeps either end).
    texts = ["Quokkaflux visitor asks about an invoice Zephyrblom", "Marmotwisp answers from Telegram Glimmerquad",
             "Otterplume replies from the inbox Brackenfizz", "Lynxcobalt replies over REST Tundrafable"]

    env = {"POCKETPING_LOG_FORMAT": log_format, "POCKETPING_LOG_LEVEL": "debug",
           "POCKETPING_TELEGRAM_API_URL": fake_telegram.url, "POCKETPING_METRICS_TOKEN": METRICS_TOKEN}
    srv = ServerProcess(url, tmp_path, encryption_key=key, env=env).start()
    auth = {"Authorization": f"Bearer {secret_key}"}
    try:
        async with httpx.AsyncClient(base_url=srv.base_url, timeout=20) as api:
            res = await api.post("/api/v1/bridges", headers=auth,
                                 json={"type": "telegram", "botToken": bot_token, "chatId": chat})
            assert res.status_code == 201, res.text
            res = await api.post("/api/v1/webhooks", headers=auth, json={"url": "http://127.0.0.1:9/hook"})
            assert res.status_code == 201, res.text
            webhook_secret = res.json()["secret"]
            assert (await api.get("/api/v1/sessions", headers={"Authorization": "Bearer sk_live_wrong"})
                    ).status_code == 401

            w = await WidgetClient.connect(srv.ws_url, project.public_key)
            await w.synced()
            await w.say(texts[0])
            await fake_telegram.wait_for(lambda: any(texts[0] in m.text for m in fake_telegram.posts(chat)), 20)
            (topic,) = fake_telegram.topics(chat)
            fake_telegram.operator_says(chat, topic.id, texts[1])
            await w.expect("message", sender="operator", timeout=20)

            async with InboxClient(srv.base_url) as inbox:
                await inbox.login("ana@example.com", password)
                sock = await inbox.socket()
                assert (await inbox.reply(w.session_id, texts[2])).status_code == 201
                await sock.ws.close()
                cookies = [c.value for c in inbox.http.cookies.jar]
            res = await api.post(f"/api/v1/sessions/{w.session_id}/messages", headers=auth, json={"text": texts[3]})
            assert res.status_code == 201, res.text
            await _expect_text(w, texts[3])
            await w.send({"type": "nonsense"})
            await w.expect("error", code="unknown_type")
            metrics = await api.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
            assert metrics.status_code == 200
            visitor_token = w.token
            await w.close()
    finally:
        srv.stop()

    log = srv.log()
    assert len(log.splitlines()) > 10

    secrets = {"encryption key": key, "secret key": secret_key, "operator password": password,
               "bot token": bot_token, "webhook secret": webhook_secret, "visitor token": visitor_token,
               "metrics token": METRICS_TOKEN, "database password": DB_PASSWORD,
               **{f"inbox cookie {i}": c for i, c in enumerate(cookies)},
               **{f"message text {i}": t for i, t in enumerate(texts)},
               **{f"the word {word!r} of a message": word for t in texts for word in (t.split()[0], t.split()[-1])}}
    leaked = [what for what, value in secrets.items() if value in log]
    assert not leaked, f"the log holds: {leaked}"
    # The secret parts alone, too (a token's prefix may legitimately be logged, never its body).
    assert bot_token.split(":", 1)[1] not in log

    if log_format == "text":
        # PocketPing's own lines show in text too, with a time (not only uvicorn's).
        started = r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ INFO pocketping.run: PocketPing .* starting"
        assert re.search(started, log, re.M), log
        return  # the text format names no ids
    entries: list[dict[str, Any]] = []
    for line in log.splitlines():
        if line.strip():
            entry = orjson.loads(line)  # every line is one JSON object
            assert {"time", "level", "logger", "message"} <= entry.keys(), entry
            entries.append(entry)

    def having(*fields: str) -> list[dict[str, Any]]:
        return [e for e in entries if all(e.get(f) for f in fields)]

    assert having("request_id", "project_id"), "REST requests are logged with their request and project"
    assert having("connection_id"), "WebSocket lines carry their connection id"
    assert any(e["project_id"] == project.id and e.get("session_id") == w.session_id
               for e in having("project_id", "session_id")), "deliveries name their project and session"
    assert all(e["message"].find("?") < 0 for e in entries if e["logger"] == "uvicorn.access")
    assert any(e["logger"] == "pocketping.run" and "starting" in e["message"] for e in entries)


async def _expect_text(w: WidgetClient, text: str) -> None:
    while (await w.expect("message", timeout=20))["message"]["text"] != text:
        pass
