"""Rows older versions stored in clear (session metadata, address, country, the knowledge base)
are encrypted after the migrations, once; ``rotate-key`` covers them and the hashed kb index."""

from __future__ import annotations

import orjson
from sqlalchemy import delete, text

from pocketping.actions import kb as kb_actions
from pocketping.actions.kb_reindex import reindex_kb
from pocketping.actions.projects import create_project, update_project
from pocketping.actions.sessions import connect_visitor, get_session
from pocketping.ai.retrieval import retrieve
from pocketping.ai.text import term_counts
from pocketping.crypto import generate_key
from pocketping.store.rotation import reencrypt_all
from pocketping.store.schema import server_state
from pocketping.store.sealing import MARKER, seal_plaintext
from pocketping.wiring import build_services, encrypted_columns
from pocketping_testkit.server import make_settings

META = {"url": "https://legacy.example/plain-page", "title": "Legacy page"}
DOC = "# Heron manual\n\nThe heron-guarantee lasts eleven winters."


async def _setup(svc):
    await svc.db.migrate()
    project, _ = await create_project(svc, "Legacy")
    project = await update_project(svc, project.id, settings={"store_ip": True, "collect_country": True})
    connected = await connect_visitor(svc, project, None, META, user_agent=None, ip="203.0.113.77", country="nl")
    await kb_actions.add_content(svc, project.id, "heron.md", DOC.encode(), "text/markdown")
    return project, connected.session.id


async def _rows(svc, sql: str, **params):
    async with svc.db.read() as tx:
        return (await tx.conn.execute(text(sql), params)).all()


async def _retrieve(svc, project_id: str):
    async with svc.db.read() as tx:
        return await retrieve(tx, project_id, "how long does the heron guarantee last?", token_budget=2000)


async def test_rows_stored_in_clear_are_sealed_after_the_migrations(fresh_db, tmp_path):
    svc = build_services(make_settings(fresh_db.url, str(tmp_path), encryption_key=generate_key()))
    project, session_id = await _setup(svc)
    # Make it look like a database of an older version: those columns in clear, the terms as words.
    async with svc.db.transaction() as tx:
        await tx.conn.execute(text("UPDATE sessions SET meta = :m, ip = '203.0.113.77', country = 'NL' WHERE id = :id"),
                              {"m": orjson.dumps(META).decode(), "id": session_id})
        await tx.conn.execute(text("UPDATE kb_sources SET title = 'Heron manual', location = 'heron.md'"))
        chunks = (await tx.conn.execute(text("SELECT id, heading, text FROM kb_chunks"))).all()
        for chunk_id, heading, body in chunks:
            heading, body = tx.decrypt(heading), tx.decrypt(body)
            await tx.conn.execute(text("UPDATE kb_chunks SET heading = :h, text = :t WHERE id = :id"),
                                  {"h": heading, "t": body, "id": chunk_id})
            await tx.conn.execute(text("DELETE FROM kb_terms WHERE chunk_id = :id"), {"id": chunk_id})
            for term, tf in term_counts(f"Heron manual\n{heading}\n{body}").items():
                await tx.conn.execute(text("INSERT INTO kb_terms (chunk_id, term, project_id, tf) "
                                           "VALUES (:c, :t, :p, :f)"), {"c": chunk_id, "t": term, "p": project.id,
                                                                         "f": tf})
        await tx.conn.execute(delete(server_state).where(server_state.c.key == MARKER))
    # Until sealed, what is in clear still reads.
    assert (await get_session(svc, project.id, session_id)).metadata["url"] == META["url"]

    await svc.db.migrate()  # the start-up step (wiring: sealed after the migrations)
    [(meta, ip, country)] = await _rows(svc, "SELECT meta, ip, country FROM sessions WHERE id = :id", id=session_id)
    assert all(v.startswith("enc1:") for v in (meta, ip, country))
    assert not await _rows(svc, "SELECT term FROM kb_terms WHERE term IN ('heron', 'winters', 'eleven')")
    assert all(t.startswith("enc1:") and h.startswith("enc1:")
               for t, h in await _rows(svc, "SELECT text, heading FROM kb_chunks"))
    session = await get_session(svc, project.id, session_id)
    assert session.metadata["url"] == META["url"] and session.ip == "203.0.113.77" and session.country == "NL"
    hits = await _retrieve(svc, project.id)
    assert hits and "eleven winters" in hits[0].text
    assert await seal_plaintext(svc.db) == {}  # once
    await svc.db.dispose()


async def test_rotate_key_covers_metadata_and_the_knowledge_base(tmp_path):
    url = f"sqlite:///{tmp_path / 'rot.db'}"
    old_key, new_key = generate_key(), generate_key()
    svc = build_services(make_settings(url, str(tmp_path), encryption_key=old_key))
    project, session_id = await _setup(svc)
    await svc.db.dispose()

    rotated = build_services(make_settings(url, str(tmp_path), encryption_key=new_key,
                                           previous_encryption_keys=old_key))
    counts = await reencrypt_all(rotated.db, encrypted_columns())
    assert counts["sessions.meta"] == 1 and counts["sessions.ip"] == 1 and counts["kb_chunks.text"] >= 1
    assert counts["kb_sources.title"] == 1 and counts["kb_sources.location"] == 1
    assert await reindex_kb(rotated) >= 1
    await rotated.db.dispose()

    only_new = build_services(make_settings(url, str(tmp_path), encryption_key=new_key))
    session = await get_session(only_new, project.id, session_id)
    assert session.metadata["title"] == META["title"] and session.ip == "203.0.113.77"
    hits = await _retrieve(only_new, project.id)
    assert hits and "eleven winters" in hits[0].text and hits[0].heading == "Heron manual"
    await only_new.db.dispose()
