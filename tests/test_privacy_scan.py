"""Nothing a visitor sent lies in the database in clear (issue 20, item 4): after a full round trip
(metadata in hello, identify, messages, an offline-form email, the pre-chat form, a file, a
knowledge-base document, all relayed to a Telegram group) every column of every row of every
table is read over a plain SQL connection and searched for each value, on every backend. Reading
back in clear still works."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import text

from pocketping.actions.bridges import add_bridge
from pocketping.actions.projects import create_project, update_project
from pocketping.ai.retrieval import retrieve
from pocketping.store.engine import create_engine
from pocketping.store.schema import metadata
from pocketping_testkit.widget_client import WidgetClient

META = {"url": "https://shop.example/checkout?item=zebra-7731", "title": "Zebra checkout 7731",
        "referrer": "https://referrer.example/quokka-5512", "language": "pt-BR",
        "timezone": "America/Argentina/Ushuaia", "screen": "1234x5678"}
AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
IDENTITY = {"id": "user-narwhal-9913", "email": "narwhal.9913@example.org", "name": "Nadia Narwhalova",
            "plan": "platinum-otter-42"}
SAID = "my locker code is pangolin-4471"
CONTACT = "contact.pelican@example.net"
PRECHAT = {"name": "Prechat Tapirsson", "email": "tapir.prechat@example.com", "text": "Hello from the tapir form"}
FILE_NAME = "invoice-wombat-8821.txt"
KB_NAME = "flamingo-handbook.md"
KB_TEXT = "# Flamingo warranty\n\nThe flamingo-warranty covers axolotl repairs for 9917 days."
COUNTRY = "ZW"
PROJECT_NAME = "Privacy scan project 4242"


@dataclass(frozen=True)
class Keys:
    id: str
    public_key: str
    auth: dict[str, str]


def _needles() -> set[str]:
    values = [*META.values(), AGENT, *IDENTITY.values(), SAID, CONTACT, *PRECHAT.values(), FILE_NAME,
              "invoice-wombat", KB_NAME, "Flamingo warranty", "flamingo", "axolotl", "Chrome 131"]
    return {v.lower() for v in values if len(v) >= 6}


async def _scan(url: str, needles: set[str]) -> list[tuple[str, str, str]]:
    """(table, column, needle) for every needle found anywhere in the raw database."""
    found = []
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            for table in metadata.sorted_tables:
                result = await conn.execute(text(f"SELECT * FROM {table.name}"))
                columns = list(result.keys())
                for row in result.all():
                    for column, value in zip(columns, row, strict=True):
                        cell = (value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)).lower()
                        found.extend((table.name, column, n) for n in needles if n in cell)
    finally:
        await engine.dispose()
    return found


async def _round_trip(srv: Any, project: Any, api: httpx.AsyncClient) -> tuple[str, str]:
    srv.call(update_project(srv.services, project.id, settings={"store_ip": True, "collect_country": True}))
    w = await WidgetClient.connect(srv.ws_url, project.public_key, metadata=META, user_agent=AGENT,
                                   headers={"x-country-code": COUNTRY})
    await w.synced()
    await w.send({"type": "identify", **IDENTITY})
    await w.expect("identified")
    await w.say(SAID)
    await w.send({"type": "contact", "email": CONTACT})
    await w.expect("contact")
    up = await api.post("/api/v1/widget/uploads", headers={"Authorization": f"Bearer {w.token}"},
                        files={"file": (FILE_NAME, b"wombat invoice lines\n", "text/plain")})
    assert up.status_code == 201, up.text
    await w.send({"type": "message", "clientId": "f1", "text": "here", "attachments": [up.json()["id"]]})
    await w.expect("ack", clientId="f1")
    await w.close()

    srv.call(update_project(srv.services, project.id, settings={"prechat": "optional"}))
    other = await WidgetClient.connect(srv.ws_url, project.public_key, metadata=META, user_agent=AGENT)
    await other.synced()
    await other.send({"type": "prechat", **PRECHAT})
    await other.expect("contact")
    await other.close()

    kb = await api.post("/api/v1/kb", headers=project.auth, json={"name": KB_NAME, "content": KB_TEXT,
                                                                  "contentType": "text/markdown"})
    assert kb.status_code == 201, kb.text
    return w.session_id, other.session_id


async def test_no_value_a_visitor_sent_is_stored_in_clear(fresh_db, make_server, fake_telegram):
    srv = make_server(fresh_db.url, telegram_api_url=fake_telegram.url)
    created, secret = srv.call(create_project(srv.services, PROJECT_NAME, []))
    project = Keys(created.id, created.public_key, {"Authorization": f"Bearer {secret}"})
    # The conversations are mirrored into a Telegram group (the fake): its deliveries, thread and
    # message ids are in the database too.
    token = fake_telegram.add_bot()
    chat = fake_telegram.add_forum(token)
    srv.call(add_bridge(srv.services, project.id, "telegram", {"bot_token": token, "chat_id": str(chat)}))
    async with httpx.AsyncClient(base_url=srv.base_url, timeout=20) as api:
        first, second = await _round_trip(srv, project, api)
        for said in (SAID, PRECHAT["text"]):  # relayed (so every delivery is recorded) before the scan
            await fake_telegram.wait_for(lambda said=said: any(said in m.text for m in fake_telegram.posts(chat)))
        # Everything reads back in clear through the API ...
        session = (await api.get(f"/api/v1/sessions/{first}", headers=project.auth)).json()
        assert {k: session["metadata"][k] for k in META} == META
        assert session["metadata"]["country"] == COUNTRY and session["metadata"]["ip"] == "127.0.0.1"
        assert session["identity"]["name"] == IDENTITY["name"] and session["identity"]["email"] == CONTACT
        assert (await api.get(f"/api/v1/sessions/{second}", headers=project.auth)).json()[
            "identity"]["email"] == PRECHAT["email"]
        messages = (await api.get(f"/api/v1/sessions/{first}/messages", headers=project.auth)).json()["messages"]
        assert [m["text"] for m in messages if m["sender"] == "visitor"][:1] == [SAID]
        assert any(a["name"] == FILE_NAME for m in messages for a in m.get("attachments") or [])
        # ... search still finds the words and the visitor ...
        hits = (await api.get("/api/v1/search", params={"q": "pangolin"}, headers=project.auth)).json()["results"]
        assert [h["sessionId"] for h in hits] == [first]
        by_name = (await api.get("/api/v1/search", params={"q": "tapirsson"}, headers=project.auth)).json()
        assert [h["sessionId"] for h in by_name["results"]] == [second]
        sources = (await api.get("/api/v1/kb", headers=project.auth)).json()["sources"]
        assert [s["location"] for s in sources] == [KB_NAME]

    async def find_kb() -> list[Any]:
        async with srv.services.db.read() as tx:
            return await retrieve(tx, project.id, "what do axolotl repairs cost?", token_budget=2000)

    kb_hits = srv.call(find_kb())
    assert kb_hits and "9917 days" in kb_hits[0].text and kb_hits[0].heading == "Flamingo warranty"
    # ... and the raw tables hold none of it.
    assert await _scan(fresh_db.url, _needles()) == []
    # (The scan does read every row: the project's name, not a visitor's, is there in clear.)
    assert await _scan(fresh_db.url, {PROJECT_NAME.lower()}) == [("projects", "name", PROJECT_NAME.lower())]
