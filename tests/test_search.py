"""Search through the blind index: words of messages and visitors' names and emails, over REST,
scoped to the project, with no plaintext word anywhere in the database (all three backends)."""

from __future__ import annotations

import json

from sqlalchemy import select, text

from pocketping.actions.edits import delete_operator_message, edit_operator_message
from pocketping.actions.search import search
from pocketping.store.engine import create_engine
from pocketping.store.schema import metadata
from pocketping.wiring import build_services
from pocketping_testkit.server import make_settings
from pocketping_testkit.widget_client import WidgetClient

# Words that appear nowhere else (not in URLs, ids or settings), to scan the raw tables for; long
# enough that no base64 ciphertext or hash holds one by chance.
SECRET_WORDS = ("quixotic", "marmalade", "facture", "decembre", "décembre", "bergström", "bergstrom", "sasquatch")


async def _find(api, project, q: str, **params) -> list[dict]:
    r = await api.get("/api/v1/search", params={"q": q, **params}, headers=project.auth)
    assert r.status_code == 200, r.text
    return r.json()["results"]


async def _conversation(server, project, api) -> tuple[WidgetClient, dict, dict]:
    w = await WidgetClient.connect(server.ws_url, project.public_key)
    await w.synced()
    visitor = await w.say("Où est ma FACTURE de décembre? Quixotic marmalade")
    await w.send({"type": "identify", "id": "u-zoe", "name": "Zoë Bergström", "email": "zoe.b@sasquatch.example"})
    await w.expect("identified")
    r = await api.post(f"/api/v1/sessions/{w.session_id}/messages", headers=project.auth,
                       json={"text": "Your facture is attached", "operatorName": "Sam"})
    assert r.status_code == 201, r.text
    return w, visitor, r.json()


async def test_search_finds_words_in_messages_names_and_emails_case_and_accent_blind(server, project, api,
                                                                                      make_project):
    w, visitor, reply = await _conversation(server, project, api)
    both = await _find(api, project, "facture")
    assert [h["messageId"] for h in both] == [reply["id"], visitor["id"]]  # newest first
    assert both[1]["sessionId"] == w.session_id and both[1]["seq"] == visitor["seq"]
    assert both[1]["sender"] == "visitor" and "FACTURE" in both[1]["snippet"]
    assert both[1]["visitorName"] == "Zoë Bergström" and both[1]["visitorEmail"] == "zoe.b@sasquatch.example"
    # Case-folded, accents stripped, prefixes, every word must match.
    assert [h["messageId"] for h in await _find(api, project, "DECEMBRE fact")] == [visitor["id"]]
    assert [h["messageId"] for h in await _find(api, project, "quixo marmal")] == [visitor["id"]]
    assert await _find(api, project, "quixotic attached") == []
    assert await _find(api, project, "marmaladex") == []  # a longer word than any written
    # A visitor by name or email (the session itself), and a name plus a word of a message.
    [by_name] = await _find(api, project, "zoe bergstrom")
    assert by_name["messageId"] is None and by_name["sessionId"] == w.session_id
    assert [h["sessionId"] for h in await _find(api, project, "sasquatch")] == [w.session_id]
    assert {h["messageId"] for h in await _find(api, project, "zoë attached")} == {reply["id"]}
    # Another project finds nothing of it.
    other = make_project()
    assert await _find(api, other, "facture") == []
    await w.close()


async def test_edits_and_withdrawn_messages_change_what_search_finds(server, project, api):
    w, _, reply = await _conversation(server, project, api)
    await server.acall(edit_operator_message(server.services, project.id, w.session_id, reply["id"],
                                             "Your receipt is attached"))
    assert [h["messageId"] for h in await _find(api, project, "receipt")] == [reply["id"]]
    assert reply["id"] not in {h["messageId"] for h in await _find(api, project, "facture")}
    await server.acall(delete_operator_message(server.services, project.id, w.session_id, reply["id"]))
    assert await _find(api, project, "receipt") == []
    await w.close()


async def test_bad_queries_get_a_stable_error_code(server, project, api):
    for params in ({"q": "!!! ?"}, {"q": "a b c d e f g h i"}, {"q": "x" * 201}):
        r = await api.get("/api/v1/search", params=params, headers=project.auth)
        assert r.status_code == 422, params
        assert r.json()["error"]["code"] in ("invalid_query", "invalid_input"), r.text
    r = await api.get("/api/v1/search", params={"q": "!!!"}, headers=project.auth)
    assert r.json()["error"]["code"] == "invalid_query"
    assert (await api.get("/api/v1/search", params={"q": "facture"})).status_code == 401


async def test_the_raw_database_holds_no_plaintext_word_of_a_searched_message(server, project, api, database):
    w, _, _ = await _conversation(server, project, api)
    assert await _find(api, project, "quixotic marmalade")
    engine = create_engine(database.url)
    seen_tables = 0
    try:
        async with engine.connect() as conn:
            for table in metadata.sorted_tables:
                seen_tables += 1
                for row in (await conn.execute(select(table))).all():
                    for value in row:
                        cell = str(value).casefold()
                        for word in SECRET_WORDS:
                            assert word not in cell, f"{word!r} in {table.name}: {cell[:200]}"
            count = (await conn.execute(text("SELECT COUNT(*) FROM search_terms"))).scalar_one()
    finally:
        await engine.dispose()
    assert seen_tables == len(metadata.tables) and count > 0
    await w.close()


def test_rotate_key_rebuilds_the_index_under_the_new_key(tmp_path):
    from typer.testing import CliRunner

    from pocketping.actions.messages import send_visitor_message
    from pocketping.actions.projects import create_project
    from pocketping.actions.sessions import connect_visitor
    from pocketping.wiring import cli_app

    url = f"sqlite:///{tmp_path / 'search.db'}"
    settings = make_settings(url, str(tmp_path), encryption_key=None)

    async def write() -> tuple[str, str]:
        svc = build_services(settings)
        await svc.db.migrate()
        project, _ = await create_project(svc, "Rotating")
        connected = await connect_visitor(svc, project, None, {}, user_agent=None, ip=None, country=None)
        await send_visitor_message(svc, project.id, connected.session.id, "quixotic marmalade", "c1")
        await svc.db.dispose()
        return project.id, connected.session.id

    import asyncio

    project_id, session_id = asyncio.run(write())
    result = CliRunner().invoke(cli_app(), ["rotate-key", "--new-key", "--json"],
                                env={"POCKETPING_DATABASE_URL": url, "POCKETPING_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["searchIndexed"] == 1
    # Drop the old key: only a rebuilt index still answers.
    key_file = tmp_path / "encryption.key"
    key_file.write_text(key_file.read_text().split()[0] + "\n")

    async def find() -> list[str | None]:
        svc = build_services(make_settings(url, str(tmp_path), encryption_key=None))
        try:
            return [h.session_id for h in await search(svc, (project_id,), "marmalade")]
        finally:
            await svc.db.dispose()

    assert asyncio.run(find()) == [session_id]
